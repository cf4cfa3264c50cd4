"""The example scripts of `make demo`: each passes its checks, and their patterns are listed.

Every example runs in-process on numpy, and on torch where it is installed.
While it runs, every (operation, pattern, options, backend) it compiles is
recorded, and each must appear in examples/patterns.txt, the file that
`eindex-gen` pregenerates modules from.
"""

import importlib
import importlib.util
import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import eindex_codegen.api
from eindex_codegen.cache import module_key
from eindex_codegen.cli import parse_line

pytest.importorskip("sklearn", reason="the examples need scikit-learn (the `demo` extra)")
pytest.importorskip("matplotlib", reason="the examples need matplotlib (the `demo` extra)")

EXAMPLES_DIR = pathlib.Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_MODULES = [
    "kmeans_digits",
    "nearest_neighbours",
    "graph_smoothing",
    "image_match",
    "relative_position_bias",
    "stock_records",
]
BACKENDS = [
    "numpy",
    pytest.param(
        "torch",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("torch") is None, reason="torch is not installed"
        ),
    ),
]


@pytest.fixture
def examples_on_path(monkeypatch):
    """Put examples/ on sys.path, so the scripts and their shared example_tools import."""
    monkeypatch.syspath_prepend(str(EXAMPLES_DIR))


def listed_pattern_keys():
    """Return the cache keys of every line of examples/patterns.txt, for numpy and torch."""
    keys = set()
    for line in (EXAMPLES_DIR / "patterns.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        operation, pattern, options, _ = parse_line(line)
        for backend in ("numpy", "torch"):
            keys.add(module_key(operation, pattern, options, backend))
    return keys


def record_compiled(monkeypatch):
    """Wrap eindex_codegen.api.compiled; return the list it appends each compiled key to."""
    original = eindex_codegen.api.compiled
    recorded = []

    def recording(operation, pattern, backend, agg=None, order_axis=None):
        options = eindex_codegen.api.check_options(operation, agg=agg, order_axis=order_axis)
        recorded.append(
            (module_key(operation, pattern, options, backend), operation, pattern, options)
        )
        return original(operation, pattern, backend, agg=agg, order_axis=order_axis)

    monkeypatch.setattr(eindex_codegen.api, "compiled", recording)
    return recorded


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("module_name", EXAMPLE_MODULES)
def test_example_passes_checks(module_name, backend, examples_on_path, monkeypatch):
    if backend == "torch":
        pytest.importorskip("eindex_codegen.torch")
    recorded = record_compiled(monkeypatch)
    module = importlib.import_module(module_name)

    outcome = module.run(backend)

    assert outcome.failures == []
    assert outcome.checks.count > 0
    assert outcome.backend == backend
    assert outcome.summary
    assert outcome.eindex_seconds > 0
    assert outcome.plain_seconds > 0
    listed = listed_pattern_keys()
    missing = sorted(
        {
            f"{operation}: {pattern}"
            + "".join(f" {name}={value}" for name, value in options.items())
            for key, operation, pattern, options in recorded
            if key not in listed
        }
    )
    assert missing == [], "add these lines to examples/patterns.txt"


def test_patterns_file_has_no_unused_lines(examples_on_path, monkeypatch):
    recorded = record_compiled(monkeypatch)
    for module_name in EXAMPLE_MODULES:
        importlib.import_module(module_name).run("numpy")
    used = {key for key, _, _, _ in recorded}

    unused = []
    for line in (EXAMPLES_DIR / "patterns.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        operation, pattern, options, _ = parse_line(line)
        if module_key(operation, pattern, options, "numpy") not in used:
            unused.append(line)
    assert unused == []


def test_checks_compare_values(examples_on_path):
    from example_tools import Checks

    checks = Checks()
    checks.equal("same", np.array([1.0, np.nan]), np.array([1.0, np.nan]))
    checks.close("close", np.array([1.0]), np.array([1.0 + 1e-13]), 1e-12)
    assert checks.failures == []

    checks.equal("values", np.array([1, 2, 3]), np.array([1, 5, 3]))
    checks.equal("shape", np.zeros(2), np.zeros(3))
    checks.close("far", np.array([1.0]), np.array([1.1]), 1e-12)
    checks.close("one nan", np.array([np.nan]), np.array([1.0]), 1e-12)
    checks.true("condition", False, "did not hold")
    assert len(checks.failures) == 5
    assert checks.failures[0].startswith("values: 1 of 3 values differ, first at (1,)")
    assert checks.failures[1].startswith("shape: shape (2,), expected (3,)")
    assert checks.count == 7


def test_example_script_exits_1_on_failed_check(tmp_path, monkeypatch, examples_on_path):
    failing = tmp_path / "failing_example.py"
    failing.write_text(
        textwrap.dedent("""
        from example_tools import Checks, Outcome

        def run(backend="numpy"):
            checks = Checks()
            checks.true("answer", False, "wrong on purpose")
            return Outcome("failing", backend, "nothing", [], checks, 1e-3, 1e-3)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import example_tools
    import failing_example

    with pytest.raises(SystemExit) as exit_info:
        example_tools.run_script(failing_example.run)
    assert exit_info.value.code == 1


def test_runner_exits_1_on_failed_check(tmp_path, monkeypatch, capsys, examples_on_path):
    failing = tmp_path / "failing_runner_example.py"
    failing.write_text(
        textwrap.dedent("""
        from example_tools import Checks, Outcome

        def run(backend="numpy"):
            checks = Checks()
            checks.true("answer", False, "wrong on purpose")
            return Outcome("failing", backend, "nothing", [], checks, 1e-3, 1e-3)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import run_all

    monkeypatch.setattr(run_all, "EXAMPLES", [("9", "failing_runner_example")])
    with pytest.raises(SystemExit) as exit_info:
        run_all.main()
    output = capsys.readouterr().out
    assert exit_info.value.code == 1
    assert re.search(r"^9 failing: nothing \| FAILED \|", output, re.MULTILINE)
    assert "answer: wrong on purpose" in output


@pytest.mark.slow
def test_runner_reports_every_example(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / "run_all.py")],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    for number in range(1, len(EXAMPLE_MODULES) + 1):
        matching = [line for line in lines if line.startswith(f"{number} ")]
        assert len(matching) == 1, completed.stdout
        assert " | ok | numpy: eindex " in matching[0]
    assert "all checks passed" in completed.stdout
