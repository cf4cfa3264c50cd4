"""The cache under concurrency and tampering, the grammar under fuzzing, and large offsets."""

import logging
import os
import stat
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eindex_codegen as eindex
from eindex_codegen import api
from eindex_codegen.cache import ModuleCache

GATHER = "b h c, [h] b t -> b t c"
VALID_PATTERNS = [
    ("gather", "b h w c, [h, w] b t -> b t c"),
    ("scatter", "i c, [cluster] i -> cluster c"),
    ("gather_scatter", "b vin c, [vin, vout] b edge -> b vout c"),
    ("argmax", "b h w t -> [h, w] b t"),
    ("argsort", "t b w -> [w] t b order"),
]


def gather_case():
    arr = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    ind = np.array([[[2, 0], [1, 1]]])
    expected = np.stack([arr[b, ind[0, b]] for b in range(2)])
    return arr, ind, expected


# --- Many processes, one cache -----------------------------------------------------------------

WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    import eindex_codegen as eindex

    failures = 0
    for size in range(50):
        pattern = f"a{size} c, [a{size}] t -> t c"
        arr = np.arange(3 * (size + 2)).reshape(size + 2, 3)
        ind = np.array([[size + 1, 0, 1]])
        result = eindex.gather(arr, ind, pattern)
        if not np.array_equal(result, arr[[size + 1, 0, 1]]):
            failures += 1
    print(failures)
""")


@pytest.mark.slow
def test_eight_processes_share_empty_cache(tmp_path):
    environment = {**os.environ, "EINDEX_CACHE_DIR": str(tmp_path / "shared")}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=environment) for _ in range(8)]
    outputs = [worker.communicate(timeout=300) for worker in workers]

    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr
        assert stdout.strip() == "0"
    files = sorted((tmp_path / "shared").iterdir())
    assert len(files) == 50
    assert all(path.suffix == ".py" and not path.name.startswith(".tmp-") for path in files)


# --- Tampered and untrusted cache entries -------------------------------------------------------

def test_truncated_module_logs_and_regenerates(caplog, module_cache_dir, monkeypatch):
    arr, ind, expected = gather_case()
    path = eindex.cached_path("gather", GATHER)
    original = path.read_text()
    path.write_text(original[: len(original) // 3])
    monkeypatch.setattr(api, "module_cache", ModuleCache(module_cache_dir))

    with caplog.at_level(logging.DEBUG, logger="eindex_codegen"):
        result = eindex.gather(arr, ind, GATHER)

    np.testing.assert_array_equal(result, expected)
    assert f"cache entry does not match its key or hash, regenerating: {path}" in caplog.messages
    assert path.read_text() == original


def test_unwritable_folder_warns_once(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(api, "module_cache", ModuleCache(blocker / "cache"))
    arr, ind, expected = gather_case()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = eindex.gather(arr, ind, GATHER)
        second = eindex.argmax(np.array([[1.0, 3.0]]), "a b -> [b] a")

    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(second, [[1]])
    assert len([warning for warning in caught if "cache folder" in str(warning.message)]) == 1


def test_group_writable_folder_is_not_used(tmp_path, monkeypatch):
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setattr(api, "module_cache", ModuleCache(folder))
    arr, ind, expected = gather_case()

    with pytest.warns(RuntimeWarning, match="writable by group or others"):
        result = eindex.gather(arr, ind, GATHER)

    np.testing.assert_array_equal(result, expected)
    assert list(folder.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown needs root")
def test_module_owned_by_another_user_is_not_run(module_cache_dir, monkeypatch):
    arr, ind, expected = gather_case()
    path = eindex.cached_path("gather", GATHER)
    planted = path.read_text().replace("    return result\n", "    raise SystemExit('planted code ran')\n")
    # The header's hash is recomputed, so only the owner check can refuse this file.
    from eindex_codegen.cache import with_header
    body = planted.split("\n", 3)[3]
    key = planted.split("\n", 3)[1].removeprefix("# key: ")
    path.write_text(with_header(body, key))
    os.chown(path, 65534, 65534)
    monkeypatch.setattr(api, "module_cache", ModuleCache(module_cache_dir))

    with pytest.warns(RuntimeWarning, match="owned by user id 65534"):
        result = eindex.gather(arr, ind, GATHER)

    np.testing.assert_array_equal(result, expected)


def test_group_writable_module_is_not_run(module_cache_dir, monkeypatch):
    arr, ind, expected = gather_case()
    path = eindex.cached_path("gather", GATHER)
    path.chmod(0o666)
    monkeypatch.setattr(api, "module_cache", ModuleCache(module_cache_dir))

    with pytest.warns(RuntimeWarning, match="writable by group or others"):
        result = eindex.gather(arr, ind, GATHER)

    np.testing.assert_array_equal(result, expected)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_module_table_is_bounded(monkeypatch, module_cache_dir):
    monkeypatch.setattr(api, "module_cache", ModuleCache(module_cache_dir, max_functions=8))
    for size in range(20):
        eindex.argmax(np.zeros((2, 3)), f"a{size} b -> [b] a{size}")

    assert len(api.module_cache._functions) == 8
    assert not any(f"a{size} b" in name for size in range(12) for name in sys.modules)


# --- The grammar under fuzzing ------------------------------------------------------------------

PIECES = ["[", "]", ",", "->", "<-", "'", '"', "\n", "\t", " ", "é", "δ", "class", "lambda", "__import__",
          "_", "x_", "a" * 300, "\\", "#", "(", ")", ";", "ﬁ", "\u200b", "０", "，"]


def check_compiles_or_pattern_error(operation, text):
    try:
        eindex.source(operation, text)
    except eindex.PatternError:
        return False
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operation=st.sampled_from(["gather", "scatter", "gather_scatter", "argmax", "argmin", "argsort"]),
       text=st.text(max_size=40))
def test_arbitrary_text_compiles_or_raises_pattern_error(operation, text):
    check_compiles_or_pattern_error(operation, text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.sampled_from(VALID_PATTERNS), data=st.data())
def test_mutated_patterns_compile_or_raise_pattern_error(base, data):
    operation, text = base
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(text)))
        piece = data.draw(st.sampled_from(PIECES))
        text = text[:position] + piece + text[position:]
    check_compiles_or_pattern_error(operation, text)


# --- Nothing from a pattern reaches the code but identifiers ------------------------------------

HOSTILE = [
    "b h, [h] b -> b'\nimport os\n'",
    'b h, [h] b -> b"""; __import__("os").system("true"); """',
    "b h, [h] b -> b\\",
    "b h, [h] b -> b #",
    "b __import__, [__import__] b -> b",
    "b h, [h] b -> b)\nos.system('x')#",
    "b һ, [һ] b -> b",  # Cyrillic 'һ', a look-alike of 'h'
    "b ﬁ, [fi] b -> b",  # NFKC folds the ligature to the same axis
]


@pytest.mark.parametrize("pattern", HOSTILE)
def test_hostile_patterns_stay_identifiers(pattern):
    try:
        text = eindex.source("gather", pattern)
    except eindex.PatternError:
        return
    code = compile(text, "<generated>", "exec")
    assert "__import__" not in text and "os.system" not in text
    names = set(code.co_names)
    for constant in code.co_consts:
        if hasattr(constant, "co_names"):
            names |= set(constant.co_names) | set(constant.co_varnames)
    builtins_and_locals = {"np", "runtime", "arr", "ind", "check_bounds", "result", "values", "offset_in",
                           "rows", "index_shape", "_", "PATTERN", "gather"}
    derived = {name for name in names if name not in builtins_and_locals and not name.startswith(("size_", "row_"))}
    numpy_attributes = {"numpy", "eindex_codegen", "eindex_codegen.runtime", "__doc__", "as_array", "check_ndim", "shape", "index_rows",
                        "check_index_size", "check_bounds", "flags", "size", "c_contiguous", "int64", "arange",
                        "take", "reshape", "asarray", "runtime", "numpy_runtime"}
    assert derived <= numpy_attributes


# --- Offsets past 2**31 -------------------------------------------------------------------------

@pytest.mark.parametrize("index_dtype", [np.int16, np.uint16, np.int32, np.int64])
def test_offsets_past_int32_on_broadcast_view(index_dtype):
    # 2**15 x 2**15 x 4 elements, each a stride-0 view of its h coordinate: no real memory.
    arr = np.broadcast_to(np.arange(2**15, dtype=np.int32)[:, None, None], (2**15, 2**15, 4))
    ind = np.array([[2**15 - 1, 5], [2**15 - 1, 0], [3, 0]], dtype=index_dtype)

    result = eindex.gather(arr, ind, "h w c, [h, w, c] t -> t")

    assert result.tolist() == [2**15 - 1, 5]


@pytest.mark.parametrize("index_dtype", [np.int16, np.uint16, np.int32])
def test_offsets_past_int32_on_contiguous_array(index_dtype):
    # np.zeros maps untouched pages lazily, so 4 GiB of int8 costs only the pages read and written.
    arr = np.zeros((2**15, 2**15, 4), dtype=np.int8)
    arr[2**15 - 1, 2**15 - 2, 3] = 7
    # 300 positions, enough that the generated code reads through flat offsets, not in place.
    ind = np.zeros((3, 300), dtype=index_dtype)
    ind[:, 0] = [2**15 - 1, 2**15 - 2, 3]

    result = eindex.gather(arr, ind, "h w c, [h, w, c] t -> t")

    assert result.tolist() == [7] + [0] * 299


@pytest.mark.parametrize("index_dtype", ["int16", "int32", "int64"])
def test_torch_offsets_past_int32_on_expanded_view(index_dtype):
    torch = pytest.importorskip("torch")
    arr = torch.arange(2**15, dtype=torch.int32)[:, None, None].expand(2**15, 2**15, 4)
    ind = torch.tensor([[2**15 - 1, 5], [2**15 - 1, 0], [3, 0]], dtype=getattr(torch, index_dtype))

    result = eindex.gather(arr, ind, "h w c, [h, w, c] t -> t")

    assert result.tolist() == [2**15 - 1, 5]


def test_integer_scalars_as_keyword_sizes():
    torch = pytest.importorskip("torch")
    values = np.ones(3)
    ind = np.array([[0, 2, 2]])

    for size in (3, np.int64(3), np.uint8(3), torch.tensor(3)):
        counts = eindex.scatter(values, ind, "i, [k] i -> k", k=size)
        np.testing.assert_array_equal(counts, [1.0, 0.0, 2.0])
    for size in (3.0, True, np.float64(3), -1, torch.tensor(3.0)):
        with pytest.raises(eindex.EindexError, match="size of axis 'k' must be an integer >= 0"):
            eindex.scatter(values, ind, "i, [k] i -> k", k=size)
