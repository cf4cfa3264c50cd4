"""Where the grammar and the templates live, and the fingerprint of the compiler.

A wheel carries them inside the package (`eindex_codegen/grammar`,
`eindex_codegen/templates`); a source checkout keeps them at the top of the
repository, beside the package.
"""

import functools
import hashlib
import pathlib

from eindex_codegen.version import __version__

_PACKAGE = pathlib.Path(__file__).resolve().parent


def _resource_dir(name):
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"eindex_codegen is installed without its {name}/ folder (looked in {_PACKAGE})")


def grammar_path():
    return _resource_dir("grammar") / "eindex.lark"


def templates_dir():
    return _resource_dir("templates")


@functools.cache
def compiler_fingerprint():
    """Return a hash of the compiler version, the grammar and every template.

    It is part of every cache key, so editing a template or the grammar makes
    old generated modules unreachable.
    """
    digest = hashlib.sha256(__version__.encode())
    files = [grammar_path(), *sorted(templates_dir().rglob("*.j2"))]
    for path in files:
        digest.update(path.relative_to(path.parents[1]).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
