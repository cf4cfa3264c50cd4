"""eindex-gen: pregenerated packages, their checks, and the --show/--explain/--graph views."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import eindex_codegen as eindex
from eindex_codegen import api, cache, cli

PATTERNS = """\
# the k-means step
argmin: cluster i -> [cluster] i
scatter: i c, [cluster] i -> cluster c agg=mean

gather: b h w c, [h, w] b t -> b t c
argsort: t w -> [w] t rank order_axis=rank
"""


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EINDEX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(api, "module_cache", cache.ModuleCache(tmp_path / "cache"))


@pytest.fixture
def patterns_file(tmp_path):
    path = tmp_path / "patterns.txt"
    path.write_text(PATTERNS)
    return path


def run_cli(*arguments, cwd=None, environment=None):
    command = [sys.executable, "-m", "eindex_codegen.cli", *map(str, arguments)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False,
                          env={**os.environ, **(environment or {})}, timeout=120)


def test_writes_importable_package(tmp_path, patterns_file, monkeypatch):
    assert cli.main([str(patterns_file), "-o", str(tmp_path / "kmeans_modules")]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))

    assert eindex.use_generated("kmeans_modules") is True
    distances = np.array([[0.0, 5.0, 1.0], [2.0, 1.0, 0.5]])
    clusters = eindex.argmin(distances, "cluster i -> [cluster] i")

    np.testing.assert_array_equal(clusters, [[0, 1, 1]])
    assert list((tmp_path / "cache").glob("*.py")) == []


def test_fresh_process_imports_no_compiler(tmp_path, patterns_file):
    assert cli.main([str(patterns_file), "-o", str(tmp_path / "kmeans_modules")]) == 0
    script = textwrap.dedent("""
        import json, sys
        import numpy as np
        import eindex_codegen as eindex
        points = np.array([[0.0, 0.0], [1.0, 1.0], [4.0, 4.0]])
        clusters = np.array([[0, 0, 1]])
        centers = eindex.scatter(points, clusters, "i c, [cluster] i -> cluster c", agg="mean", cluster=2)
        print(json.dumps({"centers": centers.tolist(),
                          "loaded": [name for name in ("lark", "jinja2") if name in sys.modules]}))
    """)
    environment = {"EINDEX_GENERATED": "kmeans_modules", "PYTHONPATH": str(tmp_path)}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False,
                               env={**os.environ, **environment}, timeout=120)
    assert completed.returncode == 0, completed.stderr
    output = json.loads(completed.stdout)

    assert output["centers"] == [[0.5, 0.5], [4.0, 4.0]]
    assert output["loaded"] == []
    assert not (tmp_path / "cache").exists()


def test_bad_lines_all_reported(tmp_path):
    path = tmp_path / "patterns.txt"
    path.write_text("gather: b h, [h] b -> b\n"
                    "gather: b h w, [h w] b -> b\n"
                    "\n"
                    "gatherx: b h, [h] b -> b\n"
                    "scatter: i, [k] i -> k agg=median\n")
    completed = run_cli(path, "-o", tmp_path / "out")

    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        (f"{path}:2:19: invalid pattern: unexpected 'w'; expected ARRAY_AXES, [INDEXED_AXES] "
         "INDEX_AXES -> RESULT_AXES (hint: separate bracketed axes with commas: [h, w])"),
        (f"{path}:4:1: unknown operation 'gatherx'; expected one of gather, scatter, gather_scatter, "
         "argmax, argmin, argsort"),
        f"{path}:5:24: unknown agg 'median'; expected one of sum, mean, min, max",
    ]
    assert not (tmp_path / "out").exists()


def test_check_finds_missing_and_stale(tmp_path, patterns_file):
    output = tmp_path / "generated"
    assert cli.main([str(patterns_file), "-o", str(output)]) == 0
    assert run_cli(patterns_file, "-o", output, "--check").returncode == 0

    modules = sorted(output.glob("gather_*.py"))
    modules[0].write_text(modules[0].read_text() + "# edited\n")
    min(output.glob("argmin_*.py")).unlink()
    completed = run_cli(patterns_file, "-o", output, "--check")

    assert completed.returncode == 1
    assert f"stale: {modules[0]}" in completed.stdout
    assert "missing: " in completed.stdout and "argmin_numpy_" in completed.stdout


def test_stale_package_is_not_used(tmp_path, patterns_file, monkeypatch):
    assert cli.main([str(patterns_file), "-o", str(tmp_path / "old_modules")]) == 0
    index = tmp_path / "old_modules" / "__init__.py"
    index.write_text(index.read_text().replace("COMPILER_FINGERPRINT = '", "COMPILER_FINGERPRINT = 'old"))
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.warns(RuntimeWarning, match="regenerate it with `eindex-gen"):
        assert eindex.use_generated("old_modules") is False


def test_views_match_library():
    line = "scatter: i c, [cluster] i -> cluster c agg=mean"
    pattern = "i c, [cluster] i -> cluster c"

    assert run_cli("--show", line).stdout == eindex.source("scatter", pattern, agg="mean")
    assert run_cli("--explain", line).stdout == eindex.explain("scatter", pattern, agg="mean") + "\n"
    graph = run_cli("--graph", line).stdout
    assert graph.startswith('digraph "scatter" {')
    assert "scatter_reduce(values, offset_out, size_cluster, size_c)" in graph


def test_help_shows_format_and_example():
    completed = run_cli("--help")

    assert completed.returncode == 0
    assert "scatter: i c, [cluster] i -> cluster c agg=mean" in completed.stdout
    assert "--check" in completed.stdout and "--graph" in completed.stdout


def test_clear_cache(tmp_path):
    eindex.argmax(np.zeros((2, 3)), "a b -> [b] a")
    assert list((tmp_path / "cache").glob("*.py"))

    completed = run_cli("--clear-cache", environment={"EINDEX_CACHE_DIR": str(tmp_path / "cache")})

    assert completed.returncode == 0
    assert not (tmp_path / "cache").exists()
