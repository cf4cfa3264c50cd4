"""`benchmarks/run.py --quick` on the small sizes: it runs every variant and writes its tables.

This checks that the benchmark works, not how fast anything is: the speed
targets live in the benchmark's own output.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

BENCHMARK_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("benchmark-results")
    completed = subprocess.run(
        [sys.executable, str(BENCHMARK_PATH), "--quick", "--sizes", "small", "--output", str(output)],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return completed, output


@pytest.mark.slow
def test_quick_benchmark_exits_zero(quick_run):
    completed, _ = quick_run
    assert completed.returncode == 0, completed.stderr[-4000:] or completed.stdout[-4000:]


@pytest.mark.slow
def test_quick_benchmark_writes_markdown(quick_run):
    _, output = quick_run
    markdown = (output / "results.md").read_text(encoding="utf-8")
    assert "## Targets" in markdown
    assert "## Ratio to the best hand-written code" in markdown
    for job in ("gather", "gather agg=mean", "scatter sum", "scatter mean", "scatter min",
                "scatter max", "gather_scatter sum", "gather_scatter mean", "argmax", "argsort"):
        assert f"| {job} | small |" in markdown, job


@pytest.mark.slow
def test_quick_benchmark_runs_only_small(quick_run):
    _, output = quick_run
    results = json.loads((output / "results.json").read_text(encoding="utf-8"))
    assert {case["size"] for case in results["cases"]} == {"small"}


@pytest.mark.slow
def test_quick_benchmark_times_eindex_codegen(quick_run):
    _, output = quick_run
    results = json.loads((output / "results.json").read_text(encoding="utf-8"))
    for case in results["cases"]:
        statuses = [variant["status"] for variant in case["variants"]
                    if variant["library"] == "eindex_codegen" and variant["backend"] == "numpy"]
        assert statuses == ["timed"], case["job"]


@pytest.mark.slow
def test_quick_benchmark_fixes_malloc_thresholds(quick_run):
    # The run restarts itself with these settings unless the caller gave its own.
    _, output = quick_run
    environment = json.loads((output / "results.json").read_text(encoding="utf-8"))["environment"]
    for name, value in (("MALLOC_MMAP_THRESHOLD_", "33554432"), ("MALLOC_TRIM_THRESHOLD_", "1073741824")):
        expected = os.environ.get(name, value)
        assert environment[name] == expected, name


@pytest.mark.slow
def test_profile_of_small_calls_runs():
    completed = subprocess.run([sys.executable, str(BENCHMARK_PATH.with_name("profile_small.py"))],
                               check=False, capture_output=True, text=True, timeout=300)

    assert completed.returncode == 0, completed.stderr[-4000:]
    for heading in ("gather, small, numpy", "scatter, small, numpy", "gather, small, torch",
                    "scatter, small, torch"):
        assert heading in completed.stdout, heading
    assert completed.stdout.count("bounds check") == 4


def test_benchmark_rejects_job_that_matches_nothing(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(BENCHMARK_PATH), "--quick", "--job", "nosuchjob", "--output", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=300)

    assert completed.returncode == 2
    assert "no job at sizes small, medium, large contains 'nosuchjob'" in completed.stderr
    assert not (tmp_path / "results.md").exists()
