"""Fixtures shared by every test module."""

import pytest
from backends import BACKENDS

import eindex_codegen.api
from eindex_codegen.cache import ModuleCache


@pytest.fixture(autouse=True)
def module_cache_dir(tmp_path, monkeypatch):
    """Give each test an empty cache folder, so no test reads or writes the user's cache.

    EINDEX_CACHE_DIR also reaches subprocesses that a test starts, and the
    in-memory table is replaced so a module compiled by one test is not
    reused by the next.
    """
    directory = tmp_path / "eindex-cache"
    monkeypatch.setenv("EINDEX_CACHE_DIR", str(directory))
    monkeypatch.setattr(eindex_codegen.api, "module_cache", ModuleCache(directory))
    return directory


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Return the numpy backend, then the torch backend (skipped when torch is not installed)."""
    return request.param
