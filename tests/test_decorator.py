"""@eindex_codegen.compile: literal patterns compile when the function is defined."""

import inspect
import pathlib

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import eindex_codegen as eindex
import eindex_codegen.numpy as eindex_numpy
from eindex_codegen import api, cache, parse, plan, render
from eindex_codegen import gather as take_rows


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "module_cache", cache.ModuleCache(tmp_path / "cache"))
    return api.module_cache


def compiled_patterns():
    return sorted((operation, pattern) for operation, pattern, *_ in api.module_cache._functions)


def forbid_compilation(monkeypatch):
    """Make every parse, plan, render and file read raise, so a call can only use compiled code."""

    def forbidden(*args, **kwargs):
        raise AssertionError("compiled at call time")

    monkeypatch.setattr(parse, "parse", forbidden)
    monkeypatch.setattr(plan, "build_plan", forbidden)
    monkeypatch.setattr(render, "render", forbidden)
    monkeypatch.setattr(cache, "build_module_text", forbidden)
    monkeypatch.setattr(pathlib.Path, "read_text", forbidden)
    monkeypatch.setattr(pathlib.Path, "open", forbidden)


def test_finds_calls_under_any_alias():
    @eindex.compile(backends=["numpy"])
    def lookups(x, ind):
        first = eindex.gather(x, ind, "b h, [h] b -> b")
        best = take_rows(x, ind, "b h, [h] b k -> b", agg="max")
        order = eindex_numpy.argsort(x, "b h -> [h] b rank", order_axis="rank")
        return first, best, order

    assert compiled_patterns() == [
        ("argsort", "b h -> [h] b rank"),
        ("gather", "b h, [h] b -> b"),
        ("gather", "b h, [h] b k -> b"),
    ]


def test_calls_compile_nothing_afterwards(monkeypatch):
    @eindex.compile(backends=["numpy"])
    def nearest(x, ind):
        return eindex.gather(x, ind, "b h, [h] b -> b"), eindex.argmin(x, "b h -> [h] b")

    x = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    ind = np.array([[2, 1]])
    forbid_compilation(monkeypatch)
    gathered, smallest = nearest(x, ind)

    assert_array_equal(gathered, [2.0, 5.0])
    assert_array_equal(smallest, [[1, 0]])


def test_keeps_name_docstring_signature():
    def original(x, ind, *, scale=1.0):
        """Scaled lookup."""
        return eindex.gather(x, ind, "b h, [h] b -> b") * scale

    signature = inspect.signature(original)
    decorated = eindex.compile(backends=["numpy"])(original)

    assert decorated.__name__ == "original"
    assert decorated.__doc__ == "Scaled lookup."
    assert inspect.signature(decorated) == signature


def test_bare_decorator_compiles_numpy():
    @eindex.compile
    def smallest(x):
        return eindex.argmin(x, "b h -> [h] b")

    assert ("argmin", "b h -> [h] b") in compiled_patterns()
    assert_array_equal(smallest(np.array([[2.0, 1.0]])), [[1]])


@pytest.mark.parametrize("backends, expected", [
    ("numpy", ["numpy"]),
    ("numpy, torch", ["numpy", "torch"]),
    (["torch"], ["torch"]),
])
def test_backends_as_list_or_string(backends, expected):
    pytest.importorskip("torch")

    @eindex.compile(backends=backends)
    def smallest(x):
        return eindex.argmin(x, "b h -> [h] b")

    compiled = sorted(backend for operation, _, backend, *_ in api.module_cache._functions)
    assert compiled == expected


def test_methods_and_closures():
    class Index:
        @eindex.compile(backends=["numpy"])
        def lookup(self, x, ind):
            return eindex.gather(x, ind, "b h, [h] b -> b")

    def make(aggregation_name):
        operation = eindex.scatter

        @eindex.compile(backends=["numpy"])
        def count(x, ind):
            return operation(x, ind, ", [bucket] i -> bucket", agg=aggregation_name, bucket=3)

        return count

    make("sum")
    assert ("gather", "b h, [h] b -> b") in compiled_patterns()
    assert ("scatter", ", [bucket] i -> bucket") not in compiled_patterns()  # agg is not a literal
    assert_array_equal(Index().lookup(np.eye(2), np.array([[1, 0]])), [0.0, 0.0])


def test_literal_closure_operation():
    def make():
        operation = eindex.scatter

        @eindex.compile(backends=["numpy"])
        def count(x, ind):
            return operation(x, ind, ", [bucket] i -> bucket", bucket=3)

        return count

    count = make()
    assert ("scatter", ", [bucket] i -> bucket") in compiled_patterns()
    assert_array_equal(count(np.ones([]), np.array([[0, 2, 2]])), [1.0, 0.0, 2.0])


def test_non_literal_pattern_runs_later():
    pattern = "b h -> [h] b"

    @eindex.compile(backends=["numpy"])
    def largest(x):
        return eindex.argmax(x, pattern)

    assert compiled_patterns() == []
    assert_array_equal(largest(np.array([[2.0, 7.0]])), [[1]])


def test_bad_literal_names_file_line_column():
    with pytest.raises(eindex.PatternError) as raised:

        @eindex.compile(backends=["numpy"])
        def broken(x, ind):
            return eindex.gather(
                x, ind,
                "b h, [h b -> b",
            )

    lines = pathlib.Path(__file__).read_text().splitlines()
    line = next(number for number, text in enumerate(lines, start=1) if '"b h, [h b -> b",' in text)
    message = str(raised.value)
    assert f"{__file__}:{line}" in message
    assert "in test_bad_literal_names_file_line_column.<locals>.broken" in message
    assert "column 9 of the pattern" in message
    assert raised.value.columns == (8,)


def test_bad_literal_option_names_file_line():
    with pytest.raises(eindex.EindexError) as raised:

        @eindex.compile(backends=["numpy"])
        def broken(x, ind):
            return eindex.scatter(x, ind, "i c, [k] i -> k c", agg="median", k=3)

    lines = pathlib.Path(__file__).read_text().splitlines()
    line = next(number for number, text in enumerate(lines, start=1) if 'agg="median", k=3)' in text)
    message = str(raised.value)
    assert "unknown agg 'median'" in message
    assert f"in test_bad_literal_option_names_file_line.<locals>.broken at {__file__}:{line}" in message


def test_decorated_function_under_torch_compile():
    torch = pytest.importorskip("torch")

    @eindex.compile
    def pooled(x, ind):
        return eindex.gather(x, ind, "b h c, [h] b t -> b t c", check_bounds=False).sum(-1)

    x = torch.arange(24.0).reshape(2, 3, 4)
    ind = torch.tensor([[[2, 0], [1, 1]]])
    compiled_function = torch.compile(pooled, backend="aot_eager", fullgraph=True)

    assert pooled.__name__ == "pooled"
    assert torch.equal(compiled_function(x, ind), pooled(x, ind))
    assert compiled_function(x, ind).tolist() == [[38.0, 6.0], [70.0, 70.0]]
