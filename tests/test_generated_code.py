"""The generated modules: their text, their lint, the disk cache, and how they show in tracebacks.

Golden files in tests/golden/ hold the generated source of a few patterns, so a
change to the generated code shows in review. After an intended change,
rewrite them with

    EINDEX_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_generated_code.py

and read the diff.
"""

import hashlib
import inspect
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import traceback
import warnings

import numpy as np
import pytest

import eindex_codegen as eindex
import eindex_codegen.api
from eindex_codegen.cache import ModuleCache, module_key
from eindex_codegen.options import check_options
from eindex_codegen.version import __version__

GOLDEN_DIR = pathlib.Path(__file__).parent / "golden"
HEADER_LINES = 3

# name -> (operation, pattern, options); together they cover all six operations.
GOLDEN_CASES = {
    "gather_patch_embedding": ("gather", "b h w c, [h, w] b token -> b token c", {}),
    "gather_mean_over_replicas": ("gather", "b h w c, [h, w] b t r -> b t c", {"agg": "mean"}),
    "scatter_kmeans_centers": ("scatter", "i c, [cluster] i -> cluster c", {"agg": "mean"}),
    "gather_scatter_batched_graph": (
        "gather_scatter", "b vin c, [vin, vout] b edge -> b vout c", {"agg": "max"}),
    "argmax_best_patch": ("argmax", "b h w token -> [h, w] b token", {}),
    "argmin_kmeans_assignment": ("argmin", "cluster i -> [cluster] i", {}),
    "argsort_top_words": ("argsort", "t b w -> [w] t b order", {}),
}

# More patterns for the lint check: every role, 0-d arrays, ignored index rows,
# unusual axis names, every aggregation and an order axis that is not last.
LINT_CASES = [
    *GOLDEN_CASES.values(),
    ("gather", "i j head, [i, j] i1 j1 i2 j2 -> i1 j1 i2 j2 head", {}),
    ("gather", "c i b, [i] t b -> c b t", {}),
    ("gather", "b h w s c, [h, w] b t s -> b t c", {"agg": "min"}),
    ("gather", "b h w c, [h, w] b t r -> b t c", {"agg": "sum"}),
    ("gather", "i, [i] r -> ", {"agg": "max"}),
    ("gather", "i, [i] -> ", {}),
    ("gather", "class höhe 名, [_, höhe] class t -> class t 名", {}),
    ("scatter", ", [world, place] hero month -> world place", {"agg": "sum"}),
    ("scatter", "b t c, [h, w] b t r -> b h w c", {"agg": "min"}),
    ("scatter", "b t c, [h] b t s -> b s h c", {"agg": "max"}),
    ("scatter", "b t c, [_, w] b t -> b w c", {"agg": "sum"}),
    ("gather_scatter", "b h w c, [h, w, w2] b t -> b t h w2 c", {"agg": "mean"}),
    ("gather_scatter", "b h c, [h] b t -> b h c", {"agg": "sum"}),
    ("gather_scatter", "h s, [h, k] s -> k", {"agg": "min"}),
    ("argmax", "b h w c -> [w, b, h] c", {}),
    ("argmin", "a -> [a]", {}),
    ("argsort", "b h w -> [h, w] order b", {"order_axis": "order"}),
    ("argsort", "b h w -> [h, w] b rank", {"order_axis": "rank"}),
]

GATHER = "h w c, [h, w] t -> t c"


def body_of(text):
    """Return the module text below its three header lines, which change with every template."""
    return text.split("\n", HEADER_LINES)[HEADER_LINES]


def gather_inputs():
    arr = np.arange(24.0).reshape(2, 3, 4)
    ind = np.array([[1, 0], [2, 1]])
    return arr, ind, np.stack([arr[1, 2], arr[0, 1]])


def snapshot(directory):
    """Return {relative path: (mtime in ns, bytes)} of every file under `directory`."""
    return {str(path.relative_to(directory)): (path.stat().st_mtime_ns, path.read_bytes())
            for path in sorted(directory.rglob("*")) if path.is_file()}


def run_python(code, cache_dir, cwd):
    """Run `code` in a fresh interpreter with the given cache folder; return its stdout."""
    environment = {**os.environ, "EINDEX_CACHE_DIR": str(cache_dir)}
    completed = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment,
                               cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def use_fresh_cache(monkeypatch, directory):
    """Replace the in-memory table, as a new process would start, keeping the disk folder."""
    monkeypatch.setattr(eindex_codegen.api, "module_cache", ModuleCache(directory))


# --- Golden files -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_generated_source_matches_golden_file(name):
    operation, pattern, options = GOLDEN_CASES[name]
    body = body_of(eindex.source(operation, pattern, **options))
    golden = GOLDEN_DIR / f"{name}.py.txt"

    if os.environ.get("EINDEX_UPDATE_GOLDEN") == "1":
        GOLDEN_DIR.mkdir(exist_ok=True)
        golden.write_text(body, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing: run with EINDEX_UPDATE_GOLDEN=1 to write it"
    assert body == golden.read_text(encoding="utf-8")


def test_header_names_version_key_and_body_hash():
    operation, pattern, options = GOLDEN_CASES["gather_patch_embedding"]
    text = eindex.source(operation, pattern, **options)
    first, second, third = text.splitlines()[:HEADER_LINES]
    body = body_of(text)
    key = module_key(operation, pattern, check_options(operation, **options), "numpy")

    assert first.startswith(f"# Generated by eindex-codegen {__version__};")
    assert second == f"# key: {key}"
    assert third == f"# sha256 of the lines below: {hashlib.sha256(body.encode()).hexdigest()}"


def test_generated_module_is_the_cached_file(module_cache_dir):
    operation, pattern, options = GOLDEN_CASES["argsort_top_words"]
    path = eindex.cached_path(operation, pattern, **options)

    assert path.parent == module_cache_dir
    assert path.read_text(encoding="utf-8") == eindex.source(operation, pattern, **options)


# --- Lint ---------------------------------------------------------------------------------------


def test_generated_modules_pass_ruff(tmp_path):
    folder = tmp_path / "generated"
    folder.mkdir()
    for number, (operation, pattern, options) in enumerate(LINT_CASES):
        text = eindex.source(operation, pattern, **options)
        (folder / f"module_{number:02d}_{operation}.py").write_text(text, encoding="utf-8")

    # Run from the folder of generated files, as in a user's project, where eindex_codegen
    # is a third-party package; --isolated ignores every ruff configuration file.
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "."]
    completed = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120,
                               check=False)

    assert completed.returncode == 0, completed.stdout + completed.stderr


# --- Disk cache across processes ----------------------------------------------------------------

GATHER_IN_SUBPROCESS = f"""
    import json, sys
    import numpy as np
    import eindex_codegen

    arr = np.arange(24.0).reshape(2, 3, 4)
    result = eindex_codegen.gather(arr, np.array([[1, 0], [2, 1]]), {GATHER!r})
    watched = ["lark", "jinja2", "eindex_codegen.parse", "eindex_codegen.plan",
               "eindex_codegen.render"]
    loaded = [name for name in watched if name in sys.modules]
    print(json.dumps({{"result": result.tolist(), "loaded": loaded}}))
"""


def test_second_process_reuses_disk_cache(tmp_path):
    cache_dir = tmp_path / "shared-cache"
    _, _, expected = gather_inputs()

    first = json.loads(run_python(GATHER_IN_SUBPROCESS, cache_dir, tmp_path))
    files_after_first = snapshot(cache_dir)
    second = json.loads(run_python(GATHER_IN_SUBPROCESS, cache_dir, tmp_path))

    assert first["result"] == expected.tolist()
    # The first process compiled the pattern, so it loaded the compiler.
    assert {"lark", "jinja2"} <= set(first["loaded"])
    assert len(files_after_first) == 1
    assert second["result"] == expected.tolist()
    assert second["loaded"] == []
    assert snapshot(cache_dir) == files_after_first


def test_import_loads_no_compiler_or_torch(tmp_path):
    code = """
        import sys
        import eindex_codegen
        print(sorted(name for name in ("lark", "jinja2", "torch") if name in sys.modules))
    """
    assert run_python(code, tmp_path / "cache", tmp_path).strip() == "[]"


# --- Corrupted cache entries --------------------------------------------------------------------

CORRUPTIONS = {
    "edited body": lambda text: text.replace("    return result\n", "    return result * 0\n"),
    "truncated": lambda text: text[: len(text) // 2],
    "emptied": lambda text: "",
    "header removed": lambda text: body_of(text),
    "key of another module": lambda text: text.replace("# key: ", "# key: 0", 1),
    "invalid syntax": lambda text: text.replace("def gather(", "def gather((", 1),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupted_cache_entry_is_regenerated(corrupt, monkeypatch, module_cache_dir):
    arr, ind, expected = gather_inputs()
    path = eindex.cached_path("gather", GATHER)
    original = path.read_text(encoding="utf-8")
    corrupted = corrupt(original)
    assert corrupted != original
    path.write_text(corrupted, encoding="utf-8")

    use_fresh_cache(monkeypatch, module_cache_dir)
    result = eindex.gather(arr, ind, GATHER)

    np.testing.assert_array_equal(result, expected)
    assert path.read_text(encoding="utf-8") == original


def test_template_change_gives_a_new_key(monkeypatch):
    from eindex_codegen import resources

    before = module_key("gather", GATHER, {"agg": None}, "numpy")
    monkeypatch.setattr(resources, "compiler_fingerprint", lambda: "another compiler")

    assert module_key("gather", GATHER, {"agg": None}, "numpy") != before


# --- Tracebacks and source ----------------------------------------------------------------------


def failing_gather_frames():
    """Call gather with an out-of-range index; return the frames of the traceback."""
    arr, ind, _ = gather_inputs()
    ind[0, 0] = 5
    with pytest.raises(eindex.EindexError) as caught:
        eindex.gather(arr, ind, GATHER)
    return traceback.extract_tb(caught.value.__traceback__), caught.value


def test_traceback_shows_generated_line():
    path = eindex.cached_path("gather", GATHER)
    frames, error = failing_gather_frames()
    generated = [frame for frame in frames if frame.filename == str(path)]

    assert len(generated) == 1
    assert generated[0].name == "gather"
    assert generated[0].line == 'runtime.check_bounds(rows, (size_h, size_w), ("h", "w"), PATTERN)'
    assert "index value 5 is out of range for axis 'h' of size 2" in str(error)
    formatted = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert f'File "{path}"' in formatted
    assert 'runtime.check_bounds(rows, (size_h, size_w), ("h", "w"), PATTERN)' in formatted


def test_getsource_of_generated_function():
    pattern = "i c, [cluster] i -> cluster c"
    function = eindex_codegen.api.compiled("scatter", pattern, "numpy", agg="mean")
    path = eindex.cached_path("scatter", pattern, agg="mean")
    source = inspect.getsource(function)

    assert source.startswith("def scatter(arr, ind, /, *, check_bounds=True, **sizes):")
    assert "np.add.at(sums.reshape(-1), offset_element.reshape(-1), values.reshape(-1))" in source
    assert inspect.getsourcefile(function) == str(path)
    assert function.__code__.co_filename == str(path)


def test_unwritable_cache_keeps_source_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    monkeypatch.setattr(eindex_codegen.api, "module_cache", ModuleCache(blocker / "cache"))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        function = eindex_codegen.api.compiled("gather", GATHER, "numpy")
    frames, _ = failing_gather_frames()
    generated = [frame for frame in frames
                 if frame.name == "gather" and "eindex_codegen generated" in frame.filename]

    assert any("cannot write its cache folder" in str(warning.message) for warning in caught)
    assert inspect.getsource(function).startswith("def gather(arr, ind, /, *, check_bounds=True):")
    assert len(generated) == 1
    assert generated[0].line == 'runtime.check_bounds(rows, (size_h, size_w), ("h", "w"), PATTERN)'


def test_each_cache_gets_its_own_function_back(tmp_path, monkeypatch):
    own = eindex_codegen.api.compiled("gather", GATHER, "numpy")
    other_cache = ModuleCache(tmp_path / "other")

    with monkeypatch.context() as patch:
        patch.setattr(eindex_codegen.api, "module_cache", other_cache)
        other = eindex_codegen.api.compiled("gather", GATHER, "numpy")

    assert other is not own
    assert other.__code__.co_filename.startswith(str(tmp_path))
    assert eindex_codegen.api.compiled("gather", GATHER, "numpy") is own
