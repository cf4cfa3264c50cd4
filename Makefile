# `make test` and `make demo` are the whole set-up: each creates .venv when it
# is missing and installs what it needs into it. A stamp file per target
# reruns the install step whenever pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python

# The CPU wheel of this release lies in the pip find-links folder of the
# development machines. Keep the pin: an unpinned torch pulls a large download.
TORCH_VERSION := 2.13.0

.PHONY: test demo lint generated bench

test: $(VENV)/.installed-test
	$(VENV_PYTHON) -m pytest -q

# The main job in full (every k-means iteration checked, the generated scatter module printed),
# then one report line for each of the six examples.
demo: $(VENV)/.installed-demo
	$(VENV_PYTHON) examples/kmeans_digits.py
	$(VENV_PYTHON) examples/run_all.py

# generated/ holds the module of every pattern under examples/; a test fails when it is stale.
generated: $(VENV)/.installed-test
	$(VENV)/bin/eindex-gen examples/patterns.txt -o generated --backend numpy,torch

bench: $(VENV)/.installed-bench
	$(VENV_PYTHON) benchmarks/run.py

lint: $(VENV)/.installed-test
	$(VENV_PYTHON) -m ruff check eindex_codegen tests examples benchmarks

$(VENV_PYTHON):
	$(PYTHON) -m venv $(VENV)

# The venv is an order-only prerequisite: its python's timestamp says nothing
# about what is installed.
$(VENV)/.installed-test: pyproject.toml | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install -e '.[test,demo]' 'torch==$(TORCH_VERSION)'
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install -e '.[bench]' 'torch==$(TORCH_VERSION)'
	touch $@

$(VENV)/.installed-demo: pyproject.toml | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install -e '.[demo]'
	touch $@
