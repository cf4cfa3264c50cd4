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


def test_rewrite_keeps_other_files(tmp_path, patterns_file):
    output = tmp_path / "generated"
    assert cli.main([str(patterns_file), "-o", str(output), "--backend", "numpy,torch"]) == 0
    (output / "helpers.py").write_text("x = 1\n")
    shorter = tmp_path / "shorter.txt"
    shorter.write_text("argmin: cluster i -> [cluster] i\n")

    assert cli.main([str(shorter), "-o", str(output)]) == 0

    names = sorted(path.name for path in output.glob("*.py"))
    assert (output / "helpers.py").read_text() == "x = 1\n"
    assert len(names) == 3, names
    assert names[0] == "__init__.py"
    assert names[1].startswith("argmin_numpy_")
    assert names[2] == "helpers.py"


def test_check_names_leftovers(tmp_path, patterns_file):
    output = tmp_path / "generated"
    assert cli.main([str(patterns_file), "-o", str(output), "--backend", "numpy,torch"]) == 0
    (output / "helpers.py").write_text("x = 1\n")

    completed = run_cli(patterns_file, "-o", output, "--check")

    assert completed.returncode == 1
    assert "left over from other patterns: " in completed.stdout
    assert "_torch_" in completed.stdout
    assert "helpers.py" not in completed.stdout
    assert completed.stdout.rstrip().endswith(f"regenerate with: eindex-gen {patterns_file} -o {output}")
    assert run_cli(patterns_file, "-o", output, "--check", "--backend", "numpy,torch").returncode == 0


def test_index_hint_names_backends(tmp_path, patterns_file):
    output = tmp_path / "generated"
    assert cli.main([str(patterns_file), "-o", str(output), "--backend", "numpy,torch"]) == 0
    index = (output / "__init__.py").read_text()

    assert f"Regenerate with `eindex-gen {patterns_file} -o <this folder> --backend numpy,torch`" in index
    assert "BACKENDS = ('numpy', 'torch')" in index


@pytest.mark.parametrize("backend", ["", ","])
def test_empty_backend_list_is_rejected(tmp_path, patterns_file, backend):
    output = tmp_path / "generated"
    assert cli.main([str(patterns_file), "-o", str(output)]) == 0
    written = sorted(output.glob("*.py"))

    completed = run_cli(patterns_file, "-o", output, "--backend", backend)

    assert completed.returncode == 2
    assert "names no backend" in completed.stderr
    assert sorted(output.glob("*.py")) == written


def test_stale_package_is_not_used(tmp_path, patterns_file, monkeypatch):
    assert cli.main([str(patterns_file), "-o", str(tmp_path / "old_modules")]) == 0
    index = tmp_path / "old_modules" / "__init__.py"
    index.write_text(index.read_text().replace("COMPILER_FINGERPRINT = '", "COMPILER_FINGERPRINT = 'old"))
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.warns(RuntimeWarning, match="regenerate it with `eindex-gen") as caught:
        assert eindex.use_generated("old_modules") is False
    assert str(caught[0].message).endswith(f"-o {tmp_path / 'old_modules'}`")


def test_stale_hint_names_backends(tmp_path, patterns_file, monkeypatch):
    assert cli.main([str(patterns_file), "-o", str(tmp_path / "old_both"), "--backend", "numpy,torch"]) == 0
    index = tmp_path / "old_both" / "__init__.py"
    index.write_text(index.read_text().replace("COMPILER_FINGERPRINT = '", "COMPILER_FINGERPRINT = 'old"))
    monkeypatch.syspath_prepend(str(tmp_path))

    with pytest.warns(RuntimeWarning, match="--backend numpy,torch`"):
        assert eindex.use_generated("old_both") is False


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
    assert completed.stdout.startswith("removed 1 cached modules and the folder")


def test_clear_cache_keeps_other_files(tmp_path):
    eindex.argmax(np.zeros((2, 3)), "a b -> [b] a")
    (tmp_path / "cache" / "notes.txt").write_text("mine")
    (tmp_path / "cache" / "mine.py").write_text("x = 1")

    completed = run_cli("--clear-cache", environment={"EINDEX_CACHE_DIR": str(tmp_path / "cache")})

    assert completed.returncode == 0
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == ["mine.py", "notes.txt"]
    assert "other files were kept" in completed.stdout


def test_clear_cache_without_folder(tmp_path):
    completed = run_cli("--clear-cache", environment={"EINDEX_CACHE_DIR": str(tmp_path / "nowhere")})

    assert completed.returncode == 0
    assert completed.stdout.startswith("no cache folder at")
