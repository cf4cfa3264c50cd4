"""The torch backend: what the suites shared with numpy cannot check.

test_oracle.py, test_properties.py and test_errors.py run on both backends
and compare torch with the oracle and with the numpy backend. This file holds
the torch-only cases: float data with NaNs, bfloat16 (which numpy lacks),
array dtypes and memory layouts, autograd, torch.compile, errors that only a
torch call can raise, the generated code, and CUDA. Results are compared bit
for bit with the numpy backend, and to a tolerance where float sums may add
in another order. The CUDA tests skip without a GPU. torch.compile tests are
few, because each compiles for seconds; all but one use the aot_eager
backend, which needs no C++ compiler.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import numpy as np
import oracle
import pytest

import eindex_codegen as eindex
import eindex_codegen.torch as eindex_torch
from eindex_codegen import EindexError

torch = pytest.importorskip("torch")
from eindex_codegen.runtime import torch_runtime  # after importorskip: it imports torch

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

AGGREGATIONS = ("sum", "mean", "min", "max")
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
INTEGER_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)

# (operation, pattern, array shape, bracketed axis sizes, index shape, keyword sizes).
# Together they cover every axis role, 0-d arrays and results, whole trailing rows,
# replicas, and an axis that is both read and written.
INDEX_CASES = {
    "gather rows": ("gather", "b h w c, [h, w] b t -> b t c", (2, 3, 4, 5), (3, 4), (2, 6), {}),
    "gather elements": ("gather", "h w, [h, w] t -> t", (3, 4), (3, 4), (7,), {}),
    "gather batch in middle": ("gather", "h b w, [h, w] t b -> t b", (3, 2, 4), (3, 4), (5, 2), {}),
    "gather carried first": ("gather", "c h, [h] t -> t c", (3, 5), (5,), (4,), {}),
    "gather reduced": ("gather", "b h w c, [h, w] b t -> b c", (2, 3, 4, 5), (3, 4), (2, 6), {}),
    "gather reduced aligned": ("gather", "i h c, [h] i t -> t c", (4, 3, 2), (3,), (4, 5), {}),
    "gather to 0-d": ("gather", "h w, [h, w] t ->", (3, 4), (3, 4), (6,), {}),
    "gather ignored row": ("gather", "h c, [h, _] t -> t c", (5, 3), (5, 9), (4,), {}),
    "scatter kmeans": ("scatter", "i c, [cluster] i -> cluster c", (7, 3), (4,), (7,), {"cluster": 4}),
    "scatter 0-d array": ("scatter", ", [world, place] hero month -> world place", (), (3, 4), (5, 6),
                          {"world": 3, "place": 4}),
    "scatter replicas": ("scatter", "b t c, [h, w] b t r -> b h w c", (2, 3, 2), (3, 4), (2, 3, 2),
                         {"h": 3, "w": 4}),
    "scatter new axis": ("scatter", "i, [k] i n -> k n", (5,), (3,), (5, 2), {"k": 3}),
    "gather_scatter graph": ("gather_scatter", "vin c, [vin, vout] edge -> vout c", (5, 3), (5, 4),
                             (9,), {"vout": 4}),
    "gather_scatter batched": ("gather_scatter", "b vin c, [vin, vout] b edge -> b vout c",
                               (2, 5, 3), (5, 4), (2, 9), {"vout": 4}),
    "gather_scatter read and write": ("gather_scatter", "v c, [v] e -> v c", (4, 3), (4,), (6,), {}),
}

# name: (pattern, input shape)
ARG_CASES = {
    "one axis": ("t w -> [w] t", (3, 5)),
    "two axes": ("b h w token -> [h, w] b token", (2, 3, 4, 5)),
    "brackets reversed": ("b h w -> [w, h] b", (3, 4, 5)),
    "three axes": ("h w t -> [h, w, t]", (3, 4, 5)),
}
ARGSORT_CASES = {
    "order last": ("t b w -> [w] t b order", (3, 2, 4)),
    "order inside": ("b h w c -> [h, w] b order c", (3, 2, 4, 2)),
    "order first": ("h w -> [w, h] order", (3, 2)),
}


def aggregations(operation, pattern):
    """Return the aggs to test: every one, or only None for a gather that reduces nothing."""
    array_axes, brackets, index_axes, result_axes = oracle.parse_index_pattern(pattern)
    reduced = [axis for axis in array_axes + index_axes if axis not in result_axes + brackets]
    return AGGREGATIONS if operation != "gather" or reduced else (None,)


def index_cases():
    for name, case in INDEX_CASES.items():
        for agg in aggregations(case[0], case[1]):
            yield pytest.param(case, agg, id=f"{name}-{agg}")


def random_index(rng, bracket_sizes, index_shape):
    return np.stack([rng.integers(0, size, index_shape) for size in bracket_sizes])


def integer_valued(rng, shape, agg):
    """Return data with few distinct values (ties), float64 for mean, so every sum is exact."""
    return rng.integers(-3, 4, shape).astype(np.float64 if agg == "mean" else np.int64)


def run_both(operation, arr, ind, pattern, agg=None, **sizes):
    """Return (numpy backend result, torch backend result as numpy) on the same data."""
    options = {} if agg is None else {"agg": agg}
    expected = getattr(eindex, operation)(arr, ind, pattern, **options, **sizes)
    actual = getattr(eindex_torch, operation)(torch.from_numpy(np.asarray(arr)), torch.from_numpy(ind),
                                              pattern, **options, **sizes)
    assert isinstance(actual, torch.Tensor)
    return np.asarray(expected), actual.numpy()


def assert_same(actual, expected):
    """Assert equal dtype, shape and values bit for bit, NaNs in the same places."""
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)


# --- Float data and the torch module -------------------------------------------------------------


@pytest.mark.parametrize("agg", AGGREGATIONS)
def test_float_results_match_numpy_backend(agg):
    operation, pattern, shape, bracket_sizes, index_shape, sizes = INDEX_CASES["gather_scatter graph"]
    rng = np.random.default_rng(2)
    arr = rng.standard_normal(shape).astype(np.float32)
    arr[1, 2] = np.nan
    ind = random_index(rng, bracket_sizes, index_shape)

    with np.errstate(invalid="ignore"):  # numpy's minimum.at and maximum.at warn on NaN
        expected, actual = run_both(operation, arr, ind, pattern, agg, **sizes)

    assert actual.dtype == np.float32
    if agg in ("min", "max"):
        assert_same(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6)


def test_argsort_custom_order_axis():
    x = torch.tensor([[3.0, 1.0, 2.0], [0.0, 0.0, -1.0]])

    result = eindex_torch.argsort(x, "t w -> [w] rank t", order_axis="rank")

    assert result.tolist() == [[[1, 2], [2, 0], [0, 1]]]


def test_package_exposes_torch_module():
    assert eindex.torch is eindex_torch


# --- Identities and half precision ---------------------------------------------------------------


def test_bfloat16_empty_groups_get_identity():
    # The shared suites cover the other dtypes; numpy has no bfloat16.
    arr = torch.tensor([5, 7, 6], dtype=torch.bfloat16)
    ind = torch.tensor([[1, 1, 3]])
    pattern = "i, [k] i -> k"

    results = {agg: eindex_torch.scatter(arr, ind, pattern, agg=agg, k=4) for agg in AGGREGATIONS}

    for result in results.values():
        assert result.dtype == torch.bfloat16
    assert results["sum"].tolist() == [0, 12, 0, 6]
    assert results["min"].tolist() == [float("inf"), 5, float("inf"), 6]
    assert results["max"].tolist() == [float("-inf"), 7, float("-inf"), 6]
    mean = results["mean"].float().numpy()
    np.testing.assert_array_equal(mean, [np.nan, 6.0, np.nan, 6.0])


@pytest.mark.parametrize("agg", ["sum", "mean"])
def test_float16_accumulates_in_float32(agg):
    arr = np.full(5000, 0.1, dtype=np.float16)
    ind = np.zeros((1, 5000), dtype=np.int64)

    expected, actual = run_both("scatter", arr, ind, "i, [k] i -> k", agg, k=1)
    gathered_expected, gathered = run_both("gather", arr, ind[:, None], "i, [i] k t -> k", agg)

    assert_same(actual, expected)
    assert_same(gathered, gathered_expected)
    # Added in float16 itself, the sum would stall at 256.
    assert abs(float(actual[0]) - (500.0 if agg == "sum" else 0.1)) < 0.5


@pytest.mark.parametrize("agg", ["sum", "mean"])
def test_bfloat16_accumulates_in_float32(agg):
    arr = torch.full((3000,), 0.1, dtype=torch.bfloat16)
    ind = torch.randint(0, 3, (1, 3000), generator=torch.Generator().manual_seed(0))

    result = eindex_torch.scatter(arr, ind, "i, [k] i -> k", agg=agg, k=3)
    widened = eindex_torch.scatter(arr.float(), ind, "i, [k] i -> k", agg=agg, k=3)

    assert result.dtype == torch.bfloat16
    assert torch.equal(result, widened.to(torch.bfloat16))


# --- dtypes and layouts --------------------------------------------------------------------------


def as_numpy_comparable(tensor):
    """Return the tensor as a numpy array; bfloat16, which numpy lacks, becomes float32 exactly."""
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES + INTEGER_DTYPES, ids=str)
def test_array_dtypes_keep_dtype_and_match_numpy(dtype):
    rng = np.random.default_rng(5)
    arr = torch.from_numpy(rng.integers(0, 50, (6, 4))).to(dtype)
    ind = torch.from_numpy(rng.integers(0, 6, (1, 9)))
    clusters = torch.from_numpy(rng.integers(0, 4, (1, 6)))
    reference = as_numpy_comparable(arr)
    aggs = AGGREGATIONS if dtype.is_floating_point else ("sum", "min", "max")

    for agg in aggs:
        actual = eindex_torch.scatter(arr, clusters, "i c, [k] i -> k c", agg=agg, k=5)
        expected = eindex.scatter(reference, clusters.numpy(), "i c, [k] i -> k c", agg=agg, k=5)
        assert actual.dtype == dtype
        assert_same(as_numpy_comparable(actual), expected.astype(as_numpy_comparable(actual).dtype))
    gathered = eindex_torch.gather(arr, ind, "i c, [i] t -> t c")
    best = eindex_torch.argmax(arr, "i c -> [i] c")
    assert gathered.dtype == dtype
    assert_same(as_numpy_comparable(gathered), eindex.gather(reference, ind.numpy(), "i c, [i] t -> t c"))
    assert_same(best.numpy(), eindex.argmax(reference, "i c -> [i] c"))


def test_bool_arg_reductions():
    # a b: the first True of each row for argmax, its first False for argmin; row 2 is all False.
    x = torch.tensor([[True, False, True], [False, True, True], [False, False, False]])

    assert eindex_torch.argmax(x, "a b -> [b] a").tolist() == [[0, 1, 0]]
    assert eindex_torch.argmin(x, "a b -> [b] a").tolist() == [[1, 0, 0]]
    assert eindex_torch.argmax(x, "a b -> [a, b]").tolist() == [0, 0]
    assert eindex_torch.argsort(x, "a b -> [b] a order").tolist() == [[[1, 0, 2], [0, 1, 2], [0, 1, 2]]]


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.uint64], ids=str)
def test_wide_unsigned_sums_match_numpy(dtype):
    # torch has no addition kernels for these dtypes; the sums run in int64 and wrap around alike.
    values = torch.tensor([2**15, 2**15 + 7, 3, 1, 2**16 - 1]).to(dtype)
    ind = torch.tensor([[0, 0, 2, 2, 0]])

    scattered = eindex_torch.scatter(values, ind, "i, [k] i -> k", k=3)
    gathered = eindex_torch.gather(values, ind, "i, [i] t -> ", agg="sum")

    assert scattered.dtype == dtype
    assert gathered.dtype == dtype
    assert_same(scattered.numpy(), eindex.scatter(values.numpy(), ind.numpy(), "i, [k] i -> k", k=3))
    assert_same(gathered.numpy(), eindex.gather(values.numpy(), ind.numpy(), "i, [i] t -> ", agg="sum"))


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.uint64], ids=str)
def test_wide_unsigned_reads_of_many_positions(dtype):
    # torch 2.13 cannot index_select single elements of these dtypes, which reads use from 256
    # positions on otherwise.
    values = torch.arange(10).to(dtype)
    ind = torch.from_numpy(np.random.default_rng(15).integers(0, 10, (2, 300)))

    gathered = eindex_torch.gather(values, ind[:1], "v, [v] e -> e")
    summed = eindex_torch.gather_scatter(values, ind, "v, [v, u] e -> u", u=10)

    assert_same(gathered.numpy(), eindex.gather(values.numpy(), ind[:1].numpy(), "v, [v] e -> e"))
    assert_same(summed.numpy(), eindex.gather_scatter(values.numpy(), ind.numpy(), "v, [v, u] e -> u", u=10))


LAYOUT_CASES = {
    "transposed array": lambda arr: arr.transpose(0, 1).contiguous().transpose(0, 1),
    "strided array": lambda arr: torch.cat([arr, arr], dim=-1)[..., ::2],
    "expanded array": lambda arr: arr[:1].expand(arr.shape),
    "contiguous array": lambda arr: arr,
}


@pytest.mark.parametrize("layout", LAYOUT_CASES)
@pytest.mark.parametrize("name", ["gather rows", "gather elements", "gather reduced", "scatter replicas",
                                  "gather_scatter batched"])
def test_array_layouts_match_numpy(name, layout):
    operation, pattern, shape, bracket_sizes, index_shape, sizes = INDEX_CASES[name]
    rng = np.random.default_rng(6)
    arr = LAYOUT_CASES[layout](torch.from_numpy(rng.integers(-9, 9, shape)))
    ind = random_index(rng, bracket_sizes, index_shape)
    agg = None if operation == "gather" and name != "gather reduced" else "max"
    options = {} if agg is None else {"agg": agg}

    actual = getattr(eindex_torch, operation)(arr, torch.from_numpy(ind), pattern, **options, **sizes)
    expected = getattr(eindex, operation)(arr.numpy(), ind, pattern, **options, **sizes)

    assert_same(actual.numpy(), np.asarray(expected))


@pytest.mark.parametrize("layout", ["contiguous array", "transposed array", "expanded array"])
@pytest.mark.parametrize("name", ["gather rows", "gather elements", "gather reduced",
                                  "gather_scatter batched"])
def test_large_reads_match_numpy(name, layout):
    # From 256 index positions on, a contiguous array is read through flat offsets.
    operation, pattern, shape, bracket_sizes, index_shape, sizes = INDEX_CASES[name]
    rng = np.random.default_rng(9)
    arr = LAYOUT_CASES[layout](torch.from_numpy(rng.integers(-9, 9, shape)))
    ind = random_index(rng, bracket_sizes, index_shape[:-1] + (300,))
    options = {"agg": "sum"} if operation != "gather" or name == "gather reduced" else {}

    actual = getattr(eindex_torch, operation)(arr, torch.from_numpy(ind), pattern, **options, **sizes)
    expected = getattr(eindex, operation)(arr.numpy(), ind, pattern, **options, **sizes)

    assert_same(actual.numpy(), np.asarray(expected))


def test_expanded_and_strided_indexes():
    arr = torch.arange(20).reshape(4, 5)
    rows = torch.tensor([3, 1, 0]).expand(2, 3)            # stride 0 along the first axis
    columns = (torch.arange(12) % 5).reshape(3, 4).t()[:2, :3]   # transposed and sliced
    stacked = torch.stack([rows, columns], dim=-1).movedim(-1, 0)  # rows last in memory

    actual = eindex_torch.gather(arr, [rows, columns], "h w, [h, w] s t -> s t")
    from_stacked = eindex_torch.gather(arr, stacked, "h w, [h, w] s t -> s t")
    expected = eindex.gather(arr.numpy(), [rows.numpy(), columns.numpy()], "h w, [h, w] s t -> s t")

    assert not columns.is_contiguous()
    assert not stacked.is_contiguous()
    assert_same(actual.numpy(), expected)
    assert_same(from_stacked.numpy(), expected)


# On the CPU, scatter sums of many rows into a small result go through index_put, and one row
# fewer takes index_add. The tests import the planner inside, because a fresh process below
# imports this file and checks that nothing is planned.
@pytest.mark.parametrize("agg", ["sum", "mean"])
@pytest.mark.parametrize("below", [1, 0], ids=["index_add", "index_put"])
def test_many_row_scatters_match_numpy(below, agg):
    from eindex_codegen.plan import PUT_MIN_ROWS

    rows = PUT_MIN_ROWS - below
    rng = np.random.default_rng(11)
    # Whole numbers: float64 sums of them are exact in any order, so both backends agree bit for bit.
    arr = rng.integers(-9, 9, (rows, 2)).astype(np.float64)
    ind = rng.integers(0, 5, (1, rows))

    expected, actual = run_both("scatter", arr, ind, "i c, [k] i -> k c", agg=agg, k=5)

    assert_same(actual, expected)


@pytest.mark.parametrize("below", [1, 0], ids=["index_add", "index_put"])
def test_many_row_scatter_gradient(below):
    from eindex_codegen.plan import PUT_MIN_ROWS

    rows = PUT_MIN_ROWS - below
    generator = torch.Generator().manual_seed(3)
    arr = torch.randn(rows, 2, dtype=torch.float64, generator=generator, requires_grad=True)
    ind = torch.randint(0, 5, (1, rows), generator=generator)
    upstream = torch.randn(5, 2, dtype=torch.float64, generator=generator)

    eindex_torch.scatter(arr, ind, "i c, [k] i -> k c", agg="sum", k=5).backward(upstream)

    # Each row of the array was added to one row of the result, so it gets that row's gradient.
    assert torch.equal(arr.grad, upstream[ind[0]])


# --- Autograd ------------------------------------------------------------------------------------

# operation: (pattern, array shape, index, keyword sizes). Every output group receives values, so
# no identity (inf, NaN) reaches gradcheck's finite differences.
GRAD_CASES = {
    "gather": ("h w c, [h, w] t -> t c", (3, 4, 2), [[0, 2, 1], [3, 0, 2]], {}),
    "gather reducing": ("h w c, [h, w] t r -> t c", (3, 4, 2),
                        [[[0, 2, 1], [1, 1, 2]], [[3, 0, 2], [1, 2, 0]]], {}),
    "scatter": ("i c, [k] i -> k c", (7, 2), [[0, 1, 2, 0, 2, 1, 1]], {"k": 3}),
    "gather_scatter": ("vin c, [vin, vout] edge -> vout c", (4, 2),
                       [[0, 1, 2, 3, 3, 1], [0, 1, 2, 2, 0, 1]], {"vout": 3}),
}
# Reads of at least 256 positions from a contiguous array go through flat offsets.
LARGE_INDEX = np.stack([np.arange(300) % 3, np.arange(300) % 4])


def grad_cases():
    for view in (False, True):
        suffix = "-view" if view else ""
        yield pytest.param("gather", "gather", None, view, id=f"gather-None{suffix}")
        yield pytest.param("gather", "gather reducing", "max", view, id=f"gather-max{suffix}")
    for operation, case in [("gather", "gather reducing"), ("scatter", "scatter"),
                            ("gather_scatter", "gather_scatter")]:
        for agg in AGGREGATIONS:
            yield pytest.param(operation, case, agg, False, id=f"{operation}-{agg}")
    yield pytest.param("gather", "large", None, False, id="gather-None-large")


@pytest.mark.parametrize(("operation", "case", "agg", "view"), list(grad_cases()))
def test_gradcheck_float64(operation, case, agg, view):
    if case == "large":
        pattern, shape, ind, sizes = "h w c, [h, w] t -> t c", (3, 4, 2), LARGE_INDEX, {}
    else:
        pattern, shape, ind, sizes = GRAD_CASES[case]
    ind = torch.tensor(ind)
    # Distinct values: no ties, so min and max are differentiable at this point.
    arr = torch.randperm(int(np.prod(shape)), generator=torch.Generator().manual_seed(0))
    arr = (arr.to(torch.float64) / 10).reshape(shape)
    if view:
        arr = arr.transpose(0, 1).contiguous().transpose(0, 1)
    arr.requires_grad_(True)
    options = {} if agg is None else {"agg": agg}

    def function(values):
        return getattr(eindex_torch, operation)(values, ind, pattern, **options, **sizes)

    assert function(arr).requires_grad
    assert torch.autograd.gradcheck(function, (arr,))


@pytest.mark.parametrize("agg", ["min", "max"])
def test_tied_extremes_split_the_gradient(agg):
    arr = torch.tensor([1.0, 1.0, 1.0, 2.0, 2.0, 0.0], requires_grad=True)
    ind = torch.tensor([[0, 0, 0, 1, 1, 2]])

    eindex_torch.scatter(arr, ind, "i, [k] i -> k", agg=agg, k=3).sum().backward()

    assert torch.isfinite(arr.grad).all()
    per_group = torch.zeros(3, dtype=torch.float32).index_add(0, ind[0], arr.grad)
    assert per_group.tolist() == [1.0, 1.0, 1.0]
    assert arr.grad.tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.5, 0.5, 1.0])


def test_tied_gather_max_gradient_sums_to_one():
    arr = torch.tensor([[4.0, 4.0, 1.0], [4.0, 0.0, 4.0]], requires_grad=True)
    ind = torch.tensor([[[0, 0, 1, 1]], [[0, 1, 0, 2]]])   # (h, w) pairs in one group

    result = eindex_torch.gather(arr, ind, "h w, [h, w] t r -> t", agg="max")
    result.sum().backward()

    assert result.tolist() == [4.0]
    assert torch.isfinite(arr.grad).all()
    assert arr.grad.sum().item() == pytest.approx(1.0)
    assert arr.grad.reshape(-1).tolist() == pytest.approx([0.25, 0.25, 0.0, 0.25, 0.0, 0.25])


def test_index_with_requires_grad_is_rejected():
    arr = torch.zeros(3, 4)
    ind = torch.zeros((2, 5), requires_grad=True)

    with pytest.raises(EindexError, match="requires_grad=True") as caught:
        eindex_torch.gather(arr, ind, "h w, [h, w] t -> t")

    assert "integer tensor" in str(caught.value)


# --- Bad input -----------------------------------------------------------------------------------


def test_numpy_index_with_torch_array():
    with pytest.raises(EindexError) as caught:
        eindex.gather(torch.zeros(3, 4), np.zeros((2, 5), dtype=np.int64), "h w, [h, w] t -> t")

    message = str(caught.value)
    assert "the index is a numpy.ndarray" in message
    assert "torch tensors for every argument" in message
    assert "h w, [h, w] t -> t" in message


def test_numpy_array_in_torch_module():
    with pytest.raises(EindexError, match="the array is a numpy.ndarray, not a torch tensor"):
        eindex_torch.gather(np.zeros((3, 4)), torch.zeros((2, 5), dtype=torch.int64), "h w, [h, w] t -> t")
    with pytest.raises(EindexError, match="the input is a numpy.ndarray, not a torch tensor") as caught:
        eindex_torch.argmax(np.zeros((3, 4)), "h w -> [h, w]")
    # This module takes torch tensors only, so the message points numpy arrays elsewhere.
    assert "numpy arrays for every argument to the top-level functions" in str(caught.value)


def test_index_row_list_mixing_numpy_and_torch():
    rows = [torch.zeros(5, dtype=torch.int64), np.zeros(5, dtype=np.int64)]

    with pytest.raises(EindexError, match="index row 'w' is a numpy.ndarray"):
        eindex.gather(torch.zeros(3, 4), rows, "h w, [h, w] t -> t")


def test_index_on_another_device():
    # The meta device needs no GPU and is as foreign to a CPU array as a CUDA index.
    ind = torch.zeros((2, 5), dtype=torch.int64, device="meta")

    with pytest.raises(EindexError) as caught:
        eindex_torch.gather(torch.zeros(3, 4), ind, "h w, [h, w] t -> t")

    assert "the index is on device meta, but the array is on cpu" in str(caught.value)
    assert ".to('cpu')" in str(caught.value)


def test_python_list_rows_are_rejected():
    with pytest.raises(EindexError, match="index row 'h' is a list"):
        eindex_torch.gather(torch.zeros(3, 4), [[0, 1], [1, 2]], "h w, [h, w] t -> t")


# --- torch.compile -------------------------------------------------------------------------------


def pipeline(score, images, emb, edges):
    """Call each operation once, through eindex_codegen.torch and the top-level functions."""
    best = eindex_torch.argmax(score, "b h w t -> [h, w] b t")
    worst = eindex.argmin(score, "b h w t -> [h, w] b t")
    order = eindex_torch.argsort(score, "b h w t -> [h, w] b order t")
    picked = eindex_torch.gather(images, best, "b h w c, [h, w] b t -> b t c")
    largest_at_worst = eindex.gather(images, worst, "b h w c, [h, w] b t -> b c", agg="max")
    spread = eindex_torch.scatter(picked, best, "b t c, [h, w] b t -> b h w c", agg="mean", h=3, w=4)
    rows = [edges[0], edges[1]]
    neighbours = eindex_torch.gather_scatter(emb, rows, "vin c, [vin, vout] edge -> vout c", agg="sum",
                                             vout=6)
    return best, worst, order, picked, largest_at_worst, spread, neighbours


def pipeline_inputs():
    generator = torch.Generator().manual_seed(0)
    return (torch.randint(0, 4, (2, 3, 4, 5), generator=generator).float(),
            torch.randn(2, 3, 4, 7, generator=generator),
            torch.randint(-5, 5, (6, 7), generator=generator),
            torch.randint(0, 6, (2, 10), generator=generator))


def assert_same_tensors(actual, expected):
    """Assert equal dtypes and shapes, and values equal up to float rounding, NaNs included."""
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        assert got.dtype == want.dtype
        assert got.shape == want.shape
        assert torch.equal(got, want) or torch.allclose(got, want, rtol=1e-6, atol=1e-6, equal_nan=True)


def test_compile_fullgraph_matches_eager():
    inputs = pipeline_inputs()

    compiled = torch.compile(pipeline, fullgraph=True, backend="aot_eager")

    assert_same_tensors(compiled(*inputs), pipeline(*inputs))


def test_compile_keeps_gradients():
    arr = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    ind = torch.tensor([[0, 1, 2, 0, 2, 1, 1]])

    def loss(values):
        return eindex_torch.scatter(values, ind, "i c, [k] i -> k c", agg="max", k=3).sum()

    (eager,) = torch.autograd.grad(loss(arr), arr)
    (compiled,) = torch.autograd.grad(torch.compile(loss, fullgraph=True, backend="aot_eager")(arr), arr)

    assert torch.equal(compiled, eager)


def test_compile_with_dynamic_sizes_does_not_recompile():
    compiled = torch.compile(pipeline, fullgraph=True, backend="aot_eager", dynamic=True)
    generator = torch.Generator().manual_seed(1)
    bigger = (torch.randn(3, 3, 4, 6, generator=generator), torch.randn(3, 3, 4, 8, generator=generator),
              torch.randint(-5, 5, (6, 9), generator=generator),
              torch.randint(0, 6, (2, 11), generator=generator))

    # Duck sizing would tie equal sizes of unrelated inputs together; the test is about our code.
    with torch.fx.experimental._config.patch(use_duck_shape=False):
        compiled(*pipeline_inputs())
        with torch.compiler.set_stance("fail_on_recompile"):
            actual = compiled(*bigger)

    assert_same_tensors(actual, pipeline(*bigger))


def test_compile_bounds_check_raises_without_graph_break():
    compiled = torch.compile(lambda arr, ind: eindex_torch.gather(arr, ind, "h w, [h, w] t -> t"),
                             fullgraph=True, backend="aot_eager")
    arr = torch.zeros(3, 4)

    assert compiled(arr, torch.tensor([[2], [3]])).tolist() == [0.0]
    with pytest.raises(RuntimeError, match="out of range for axis 'w'"):
        compiled(arr, torch.tensor([[2], [4]]))


def test_compile_takes_uint64_index():
    # Eagerly on the CPU a uint64 index is searched for values past the int64 range, which would
    # read tensor data under torch.compile.
    compiled = torch.compile(lambda arr, ind: eindex_torch.scatter(arr, ind, "n c, [k] n -> k c", k=3),
                             fullgraph=True, backend="aot_eager")
    arr = torch.arange(12.0).reshape(4, 3)
    ind = torch.tensor([[0, 2, 1, 1]])

    actual = compiled(arr, ind.to(torch.uint64))

    assert torch.equal(actual, eindex_torch.scatter(arr, ind, "n c, [k] n -> k c", k=3))


@pytest.mark.slow
def test_compile_inductor_matches_eager():
    def step(points, clusters, dist):
        centers = eindex_torch.scatter(points, clusters, "i c, [cluster] i -> cluster c", agg="mean",
                                       cluster=3)
        nearest = eindex_torch.argmin(dist, "cluster i -> [cluster] i")
        return centers, nearest, eindex_torch.gather(centers, nearest, "cluster c, [cluster] i -> i c")

    generator = torch.Generator().manual_seed(0)
    inputs = (torch.randn(20, 2, generator=generator), torch.randint(0, 3, (1, 20), generator=generator),
              torch.randn(3, 20, generator=generator))

    assert_same_tensors(torch.compile(step, fullgraph=True)(*inputs), step(*inputs))


COMPILE_IN_FRESH_PROCESS = """
    import json, sys
    import torch
    sys.path.insert(0, {tests!r})
    from test_torch import pipeline, pipeline_inputs

    outputs = torch.compile(pipeline, fullgraph=True, backend="aot_eager")(*pipeline_inputs())
    built = [name for name in ("eindex_codegen.plan", "eindex_codegen.render") if name in sys.modules]
    print(json.dumps({{"outputs": [output.tolist() for output in outputs], "built": built}}))
"""


def test_compile_from_disk_cache_in_fresh_process(module_cache_dir):
    expected = pipeline(*pipeline_inputs())
    files = sorted(path.name for path in module_cache_dir.iterdir())
    code = COMPILE_IN_FRESH_PROCESS.format(tests=os.path.dirname(__file__))

    completed = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                               text=True, timeout=300, check=False,
                               env={**os.environ, "EINDEX_CACHE_DIR": str(module_cache_dir)})

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.splitlines()[-1])
    # Nothing was planned or rendered: every module came from the disk cache.
    assert report["built"] == []
    assert sorted(path.name for path in module_cache_dir.iterdir()) == files
    assert_same_tensors([torch.tensor(output, dtype=want.dtype) for output, want in
                         zip(report["outputs"], expected)], expected)


# --- Generated code ------------------------------------------------------------------------------


def generated_sources():
    for case in INDEX_CASES.values():
        for agg in aggregations(case[0], case[1]):
            options = {} if agg is None else {"agg": agg}
            yield eindex.source(case[0], case[1], "torch", **options)
    for pattern, _ in ARG_CASES.values():
        for operation in ("argmax", "argmin"):
            yield eindex.source(operation, pattern, "torch")
    for pattern, _ in ARGSORT_CASES.values():
        yield eindex.source("argsort", pattern, "torch")


def test_generated_torch_code_is_plain_torch():
    for text in generated_sources():
        assert "numpy" not in text
        for call in (".cpu()", ".numpy()", ".tolist()", ".item()", ".cuda("):
            assert call not in text
        # Every new tensor is made on the array's device, here or through a new_* or *_like method.
        for line in text.splitlines():
            if re.search(r"torch\.(arange|zeros|ones|full|empty|tensor)\(", line):
                assert "device=arr.device" in line, line


def test_generated_torch_modules_pass_ruff(tmp_path):
    for number, text in enumerate(generated_sources()):
        (tmp_path / f"module_{number:02d}.py").write_text(text, encoding="utf-8")

    completed = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "."],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)

    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_runtime_reads_values_back_only_in_cpu_checks():
    source = pathlib.Path(torch_runtime.__file__).read_text(encoding="utf-8")
    functions = {function.split("(")[0]: function for function in source.split("\ndef ")}
    reads = (".item()", ".numpy()", ".tolist()", ".cpu()", "bool(")
    reading = [name for name, function in functions.items() if any(call in function for call in reads)]

    # The bounds check reads back on the CPU only, and so does the uint64 range check.
    assert reading == ["_as_int64", "_check_cpu_row"]
    assert 'row.device.type == "cpu"' in functions["_as_int64"]
    assert 'eager_cpu = rows[0].device.type == "cpu" and not torch.compiler.is_compiling()' in functions[
        "check_bounds"]
    assert "if eager_cpu:\n            _check_cpu_row(" in functions["check_bounds"]
    assert source.count("_check_cpu_row(") == 2  # its definition and that one call


# --- CUDA ----------------------------------------------------------------------------------------


@needs_cuda
@pytest.mark.parametrize(("case", "agg"), list(index_cases()))
def test_cuda_matches_cpu(case, agg):
    operation, pattern, shape, bracket_sizes, index_shape, sizes = case
    rng = np.random.default_rng(7)
    arr = torch.from_numpy(integer_valued(rng, shape, agg))
    ind = torch.from_numpy(random_index(rng, bracket_sizes, index_shape))
    options = {} if agg is None else {"agg": agg}
    function = getattr(eindex_torch, operation)

    on_cpu = function(arr, ind, pattern, **options, **sizes)
    on_gpu = function(arr.cuda(), ind.cuda(), pattern, **options, **sizes)

    assert on_gpu.device.type == "cuda"
    assert torch.equal(on_gpu.cpu(), on_cpu)


@needs_cuda
def test_cuda_arg_operations_match_cpu():
    x = torch.randint(0, 3, (3, 4, 5)).double()
    x.view(-1)[::7] = float("nan")

    for operation, pattern in [("argmax", "b h w -> [h, w] b"), ("argmin", "b h w -> [w, h] b"),
                               ("argsort", "b h w -> [h, w] b order")]:
        on_gpu = getattr(eindex_torch, operation)(x.cuda(), pattern)
        assert torch.equal(on_gpu.cpu(), getattr(eindex_torch, operation)(x, pattern))


@needs_cuda
def test_cuda_calls_do_not_synchronise():
    inputs = [tensor.cuda() for tensor in pipeline_inputs()]
    pipeline(*inputs)  # Compile the modules before watching for synchronisation.
    torch.cuda.synchronize()

    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        pipeline(*inputs)
    finally:
        torch.cuda.set_sync_debug_mode(previous)


@needs_cuda
def test_cuda_index_on_cpu_is_rejected():
    with pytest.raises(EindexError, match="the index is on device cpu, but the array is on cuda"):
        eindex_torch.gather(torch.zeros(3, 4, device="cuda"), torch.zeros((2, 5), dtype=torch.int64),
                            "h w, [h, w] t -> t")


CUDA_OUT_OF_RANGE = """
    import torch
    import eindex_codegen.torch as eindex_torch

    result = eindex_torch.gather(torch.zeros(3, 4, device="cuda"), torch.tensor([[0], [4]], device="cuda"),
                                 "h w, [h, w] t -> t")
    print("returned without waiting")
    torch.cuda.synchronize()
"""


@needs_cuda
def test_cuda_out_of_range_is_device_side_assert(module_cache_dir):
    # A failed device assertion leaves CUDA unusable in that process, so it runs in another.
    completed = subprocess.run([sys.executable, "-c", textwrap.dedent(CUDA_OUT_OF_RANGE)],
                               capture_output=True, text=True, timeout=300, check=False,
                               env={**os.environ, "EINDEX_CACHE_DIR": str(module_cache_dir)})

    assert completed.returncode != 0
    assert "returned without waiting" in completed.stdout
    assert "device-side assert" in completed.stderr
