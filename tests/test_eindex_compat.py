"""Differential tests against eindex 0.1.0, the package whose notation and signatures we follow.

Where eindex's behaviour is defined, `eindex_codegen.numpy` must return the
same array for the same call. Where we differ on purpose (tie order, bounds,
integer identities, half precision, error classes), a test pins our
behaviour and shows what eindex does instead. docs/differences-from-eindex.md
lists those differences.
"""

import inspect

import numpy as np
import pytest

import eindex_codegen.numpy as ours
from eindex_codegen import EindexError

eindex_numpy = pytest.importorskip("eindex.numpy")
eindex_package = pytest.importorskip("eindex")

OPERATIONS = ("gather", "scatter", "gather_scatter", "argmax", "argmin", "argsort")


def integers(rng, high, shape):
    return rng.integers(0, high, shape)


def normal(rng, *shape, dtype=np.float64):
    return rng.normal(size=shape).astype(dtype)


# Each case returns (positional arguments, keyword arguments) for one call; the
# data is drawn once and passed to both packages. Float data is continuous, so
# arg-operations meet no ties.
CASES = {
    # gather
    "gather best patch embedding": ("gather", lambda rng: (
        (normal(rng, 2, 5, 6, 3), np.stack([integers(rng, 5, (2, 7)), integers(rng, 6, (2, 7))]),
         "b h w c, [h, w] b token -> b token c"), {})),
    "gather relative position bias": ("gather", lambda rng: (
        (normal(rng, 7, 7, 2), integers(rng, 7, (2, 3, 4, 3, 4)),
         "i j head, [i, j] i1 j1 i2 j2 -> i1 j1 i2 j2 head"), {})),
    "gather with transposed layouts": ("gather", lambda rng: (
        (normal(rng, 3, 5, 2), integers(rng, 5, (1, 4, 2)), "c i b, [i] t b -> c b t"), {})),
    "gather sum over index-only axis": ("gather", lambda rng: (
        (normal(rng, 2, 5, 6, 3),
         np.stack([integers(rng, 5, (2, 4, 3)), integers(rng, 6, (2, 4, 3))]),
         "b h w c, [h, w] b t r -> b t c"), {"agg": "sum"})),
    "gather mean over index-only axis": ("gather", lambda rng: (
        (normal(rng, 5, 3, dtype=np.float32), integers(rng, 5, (1, 4, 6)), "i c, [i] t r -> t c"),
        {"agg": "mean"})),
    "gather min over index-only axis": ("gather", lambda rng: (
        (normal(rng, 5, 3), integers(rng, 5, (1, 4, 6)), "i c, [i] t r -> t c"), {"agg": "min"})),
    "gather max over array and index axis": ("gather", lambda rng: (
        (normal(rng, 2, 5, 6, 4, 3),
         np.stack([integers(rng, 5, (2, 7, 4)), integers(rng, 6, (2, 7, 4))]),
         "b h w s c, [h, w] b t s -> b t c"), {"agg": "max"})),
    "gather with a broadcasting index list": ("gather", lambda rng: (
        (normal(rng, 2, 5, 6, 3), [integers(rng, 5, (2, 1)), integers(rng, 6, (1, 4))],
         "b h w c, [h, w] b t -> b t c"), {})),
    "gather integers": ("gather", lambda rng: (
        (integers(rng, 1000, (4, 6)), integers(rng, 4, (1, 3, 5)), "i c, [i] t r -> t c"),
        {"agg": "sum"})),
    # scatter
    "scatter k-means centers": ("scatter", lambda rng: (
        (normal(rng, 30, 3), integers(rng, 4, (1, 30)), "i c, [cluster] i -> cluster c"),
        {"agg": "mean", "cluster": 4})),
    "scatter visitors from a scalar": ("scatter", lambda rng: (
        (np.ones([]), np.stack([integers(rng, 3, (5, 6)), integers(rng, 4, (5, 6))]),
         ", [world, place] hero month -> world place"), {"world": 3, "place": 4})),
    "scatter visitors with an index list": ("scatter", lambda rng: (
        (np.ones([]), [integers(rng, 3, (5, 6)), integers(rng, 4, (5, 6))],
         ", [world, place] hero month -> world place"), {"world": 3, "place": 4})),
    "scatter replicas": ("scatter", lambda rng: (
        (normal(rng, 2, 4, 3), np.stack([integers(rng, 5, (2, 4, 6)), integers(rng, 6, (2, 4, 6))]),
         "b t c, [h, w] b t r -> b h w c"), {"h": 5, "w": 6})),
    "scatter output axis from the index": ("scatter", lambda rng: (
        (normal(rng, 2, 4, 3), integers(rng, 5, (1, 2, 4, 6)), "b t c, [h] b t s -> b s h c"),
        {"h": 5})),
    "scatter min": ("scatter", lambda rng: (
        (normal(rng, 20, 3), integers(rng, 5, (1, 20)), "i c, [k] i -> k c"),
        {"agg": "min", "k": 5})),
    "scatter max": ("scatter", lambda rng: (
        (normal(rng, 20, 3), integers(rng, 7, (1, 20)), "i c, [k] i -> c k"),
        {"agg": "max", "k": 7})),
    "scatter integer max": ("scatter", lambda rng: (
        (integers(rng, 100, (40, 3)), integers(rng, 5, (1, 40)), "i c, [k] i -> c k"),
        {"agg": "max", "k": 5})),
    "scatter integer sum": ("scatter", lambda rng: (
        (integers(rng, 100, (40, 3)), integers(rng, 5, (1, 40)), "i c, [k] i -> k c"), {"k": 5})),
    # gather_scatter
    "gather_scatter graph mean": ("gather_scatter", lambda rng: (
        (normal(rng, 8, 5), integers(rng, 8, (2, 20)), "vin c, [vin, vout] edge -> vout c"),
        {"agg": "mean", "vout": 8})),
    "gather_scatter batched graph mean": ("gather_scatter", lambda rng: (
        (normal(rng, 3, 8, 5), integers(rng, 8, (2, 3, 20)),
         "b vin c, [vin, vout] b edge -> b vout c"),
        {"agg": "mean", "vout": 8})),
    "gather_scatter read two write two": ("gather_scatter", lambda rng: (
        (normal(rng, 2, 5, 6, 3),
         np.stack([integers(rng, 5, (2, 4)), integers(rng, 6, (2, 4)), integers(rng, 7, (2, 4))]),
         "b h w c, [h, w, w2] b t -> b t h w2 c"), {"agg": "max", "w2": 7})),
    "gather_scatter output axis from the index": ("gather_scatter", lambda rng: (
        (normal(rng, 2, 5, 3), np.stack([integers(rng, 5, (2, 4, 3)), integers(rng, 6, (2, 4, 3))]),
         "b h c, [h, w] b t r -> b t w c"), {"w": 6})),
    "gather_scatter same axis read and written": ("gather_scatter", lambda rng: (
        (normal(rng, 2, 3, 4), integers(rng, 3, (1, 2, 5)), "b h c, [h] b t -> b h c"),
        {"agg": "min"})),
    # arg-operations
    "argmin k-means assignment": ("argmin", lambda rng: (
        (normal(rng, 4, 30), "cluster i -> [cluster] i"), {})),
    "argmax best patch": ("argmax", lambda rng: (
        (normal(rng, 2, 5, 6, 7), "b h w token -> [h, w] b token"), {})),
    "argmax bracket order differs from input": ("argmax", lambda rng: (
        (normal(rng, 3, 4, 5, 2), "b h w c -> [w, b, h] c"), {})),
    "argmin of a vector": ("argmin", lambda rng: ((normal(rng, 6), "a -> [a]"), {})),
    "argsort words": ("argsort", lambda rng: (
        (normal(rng, 4, 3, 10), "t b w -> [w] t b order"), {})),
    "argsort order axis first": ("argsort", lambda rng: (
        (normal(rng, 3, 4, 5), "b h w -> [h, w] order b"), {})),
    "argsort renamed order axis": ("argsort", lambda rng: (
        (normal(rng, 3, 4, 5), "b h w -> [h, w] b rank"), {"order_axis": "rank"})),
}


def assert_same_result(actual, expected):
    assert type(actual) is type(expected)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    if expected.dtype.kind == "f":
        # Sums may be added in another order; NaN and +-inf must match exactly.
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0)
    else:
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_same_result_as_eindex(case, seed):
    operation, make_call = case
    args, kwargs = make_call(np.random.default_rng(seed))

    # eindex divides 0 by 0 for empty mean groups; the NaN it returns is what we compare.
    with np.errstate(invalid="ignore"):
        expected = getattr(eindex_numpy, operation)(*args, **kwargs)
    actual = getattr(ours, operation)(*args, **kwargs)

    assert_same_result(actual, expected)


def test_section_examples_compose_like_eindex():
    rng = np.random.default_rng(7)
    score, images = normal(rng, 2, 5, 6, 7), normal(rng, 2, 5, 6, 3)
    results = {}
    for name, module in (("eindex", eindex_numpy), ("ours", ours)):
        best = module.argmax(score, "b h w token -> [h, w] b token")
        emb = module.gather(images, best, "b h w c, [h, w] b token -> b token c")
        top = module.argsort(score, "b h w token -> [h, w] b token order")[..., -3:]
        results[name] = (best, emb, top)

    for actual, expected in zip(results["ours"], results["eindex"]):
        assert_same_result(actual, expected)


def test_zero_dim_result_is_an_array():
    rng = np.random.default_rng(0)
    arr, ind = normal(rng, 5), integers(rng, 5, (1, 6))

    expected = eindex_numpy.gather(arr, ind, "i, [i] r -> ", agg="sum")
    actual = ours.gather(arr, ind, "i, [i] r -> ", agg="sum")

    assert isinstance(expected, np.ndarray)
    assert isinstance(actual, np.ndarray)
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_signature_matches_eindex(operation):
    theirs = inspect.signature(getattr(eindex_numpy, operation)).parameters
    mine = inspect.signature(getattr(ours, operation)).parameters

    for name, parameter in theirs.items():
        assert name in mine
        assert mine[name].kind == parameter.kind
        assert mine[name].default == parameter.default
    for name in mine.keys() - theirs.keys():
        # The only addition, check_bounds, is keyword-only with a default: every eindex call works.
        assert mine[name].kind == inspect.Parameter.KEYWORD_ONLY
        assert mine[name].default is not inspect.Parameter.empty


def test_agg_passed_positionally():
    rng = np.random.default_rng(3)
    arr, ind = normal(rng, 5, 3), integers(rng, 5, (1, 4, 6))

    expected = eindex_numpy.gather(arr, ind, "i c, [i] t r -> t c", "max")
    actual = ours.gather(arr, ind, "i c, [i] t r -> t c", "max")

    assert_same_result(actual, expected)


# --- Differences on purpose ---------------------------------------------------------------------


def test_argmax_ties_resolve_row_major():
    # The maximum 3 is at (0, 1), (0, 2) and (1, 0).
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 1.0]])

    actual = ours.argmax(x, "h w -> [h, w]")
    reference = eindex_numpy.argmax(x, "h w -> [h, w]")

    np.testing.assert_array_equal(actual, [0, 1])
    np.testing.assert_array_equal(actual, np.unravel_index(np.argmax(x), x.shape))
    # eindex flattens the bracketed axes with the first one varying fastest.
    np.testing.assert_array_equal(reference, [1, 0])


def test_argmin_ties_resolve_row_major():
    x = np.array([[[4.0, 0.0], [0.0, 2.0]], [[0.0, 1.0], [1.0, 0.0]]])

    actual = ours.argmin(x, "b h w -> [h, w] b")
    reference = eindex_numpy.argmin(x, "b h w -> [h, w] b")

    np.testing.assert_array_equal(actual, [[0, 0], [1, 0]])
    np.testing.assert_array_equal(reference, [[1, 0], [0, 0]])


def test_argmax_first_nan_is_row_major():
    x = np.array([[1.0, np.nan], [np.nan, 5.0]])

    actual = ours.argmax(x, "h w -> [h, w]")
    reference = eindex_numpy.argmax(x, "h w -> [h, w]")

    np.testing.assert_array_equal(actual, [0, 1])
    np.testing.assert_array_equal(reference, [1, 0])


def test_argsort_ties_are_stable_row_major():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])

    actual = ours.argsort(x, "h w -> [h, w] order")
    reference = eindex_numpy.argsort(x, "h w -> [h, w] order")

    # Positions in row-major order of (h, w), equal values kept in that order.
    np.testing.assert_array_equal(actual, [[0, 1, 0, 1], [1, 0, 0, 1]])
    np.testing.assert_array_equal(reference, [[1, 0, 0, 1], [0, 1, 0, 1]])


def test_argsort_ties_are_stable_along_one_axis():
    # numpy's default sort, which eindex uses, is not stable beyond 16 elements.
    x = np.tile([1.0, 0.0], 50)

    actual = ours.argsort(x, "h -> [h] order")[0]
    reference = eindex_numpy.argsort(x, "h -> [h] order")[0]

    np.testing.assert_array_equal(actual, np.argsort(x, kind="stable"))
    assert not np.array_equal(reference, np.argsort(x, kind="stable"))


@pytest.mark.parametrize(("coordinate", "wrapped"), [(3, 0), (-1, 2), (7, 1)])
def test_out_of_range_raises_where_eindex_wraps(coordinate, wrapped):
    arr = np.arange(12.0).reshape(3, 4)
    ind = np.array([[coordinate], [1]])

    with pytest.raises(EindexError) as caught:
        ours.gather(arr, ind, "h w, [h, w] t -> t")
    reference = eindex_numpy.gather(arr, ind, "h w, [h, w] t -> t")

    assert f"index value {coordinate} is out of range for axis 'h' of size 3" in str(caught.value)
    # eindex takes every coordinate modulo its axis size.
    np.testing.assert_array_equal(reference, [arr[wrapped, 1]])


def test_scatter_out_of_range_raises_where_eindex_wraps():
    ind = np.array([[0, 5]])

    with pytest.raises(EindexError) as caught:
        ours.scatter(np.array([1.0, 2.0]), ind, "i, [k] i -> k", k=3)
    reference = eindex_numpy.scatter(np.array([1.0, 2.0]), ind, "i, [k] i -> k", k=3)

    assert "index value 5 is out of range for axis 'k' of size 3" in str(caught.value)
    np.testing.assert_array_equal(reference, [1.0, 0.0, 2.0])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_min_of_empty_group(dtype):
    arr, ind = np.array([5, 7], dtype=dtype), np.array([[0, 0]])

    actual = ours.scatter(arr, ind, "i, [k] i -> k", agg="min", k=3)
    with np.errstate(invalid="ignore"):
        reference = eindex_numpy.scatter(arr, ind, "i, [k] i -> k", agg="min", k=3)
        # eindex starts every place at +inf cast to the integer dtype, a value numpy leaves
        # undefined: x86-64 gives the smallest integer or 0, so even written places come out wrong.
        inf_as_integer = np.array(np.inf).astype(dtype)

    largest = np.iinfo(dtype).max
    np.testing.assert_array_equal(actual, np.array([5, largest, largest], dtype=dtype))
    if inf_as_integer != largest:
        assert not np.array_equal(reference, actual)


@pytest.mark.parametrize("dtype", [np.int64, np.int16])
def test_integer_max_of_empty_group(dtype):
    arr, ind = np.array([5, 7], dtype=dtype), np.array([[0, 1], [0, 0]])

    actual = ours.gather_scatter(arr, ind, "i, [i, k] r -> k", agg="max", k=2)
    with np.errstate(invalid="ignore"):
        reference = eindex_numpy.gather_scatter(arr, ind, "i, [i, k] r -> k", agg="max", k=2)

    smallest = np.iinfo(dtype).min
    np.testing.assert_array_equal(actual, np.array([7, smallest], dtype=dtype))
    # eindex starts from -inf cast to the integer dtype: it agrees where that cast happens to give
    # the smallest value (int64 on x86-64) and differs elsewhere (int16 gives 0 there).
    with np.errstate(invalid="ignore"):
        minus_inf_as_integer = np.array(-np.inf).astype(dtype)
    if minus_inf_as_integer != smallest:
        assert not np.array_equal(reference, actual)


def test_integer_min_over_empty_reduced_axis():
    arr, ind = np.arange(3), np.zeros((1, 2, 0), dtype=np.int64)

    actual = ours.gather(arr, ind, "i, [i] t r -> t", agg="min")

    np.testing.assert_array_equal(actual, np.full(2, np.iinfo(np.int64).max))
    with pytest.raises(ValueError, match="zero-size array"):
        eindex_numpy.gather(arr, ind, "i, [i] t r -> t", agg="min")


def test_half_precision_sum_accumulates_in_float32():
    ones, ind = np.ones(5000, dtype=np.float16), np.zeros((1, 5000), dtype=np.int64)

    actual = ours.scatter(ones, ind, "i, [k] i -> k", k=1)
    reference = eindex_numpy.scatter(ones, ind, "i, [k] i -> k", k=1)

    assert actual.dtype == np.float16
    np.testing.assert_array_equal(actual, [5000.0])
    # A float16 running sum stops growing at 2048, where 2048 + 1 rounds back to 2048.
    np.testing.assert_array_equal(reference, [2048.0])


def test_half_precision_gather_scatter_sum():
    ones, ind = np.ones(5000, dtype=np.float16), np.zeros((2, 5000), dtype=np.int64)

    actual = ours.gather_scatter(ones, ind, "i, [i, k] r -> k", k=1)
    reference = eindex_numpy.gather_scatter(ones, ind, "i, [i, k] r -> k", k=1)

    np.testing.assert_array_equal(actual, [5000.0])
    np.testing.assert_array_equal(reference, [2048.0])


def test_half_precision_mean_does_not_overflow():
    values, ind = np.full(5000, 1000, dtype=np.float16), np.zeros((1, 5000), dtype=np.int64)

    actual = ours.scatter(values, ind, "i, [k] i -> k", agg="mean", k=1)
    with np.errstate(over="ignore"):
        reference = eindex_numpy.scatter(values, ind, "i, [k] i -> k", agg="mean", k=1)

    assert actual.dtype == np.float16
    np.testing.assert_array_equal(actual, [1000.0])
    # eindex sums in float16, which overflows past 65504.
    assert np.isinf(reference).all()


def test_errors_are_value_errors_not_eindex_runtime_errors():
    with pytest.raises(ValueError) as caught:
        ours.gather(np.zeros(3), np.zeros((1, 2), dtype=np.int64), "h, [h t -> t")
    assert not isinstance(caught.value, eindex_package.EindexError)
    assert issubclass(eindex_package.EindexError, RuntimeError)


def test_mean_on_integers_is_an_eindex_error():
    arr, ind = np.arange(3), np.zeros((1, 3), dtype=np.int64)

    with pytest.raises(EindexError):
        ours.scatter(arr, ind, "i, [k] i -> k", agg="mean", k=2)
    with pytest.raises(AssertionError):
        eindex_numpy.scatter(arr, ind, "i, [k] i -> k", agg="mean", k=2)


def test_extensions_eindex_rejects():
    rng = np.random.default_rng(5)
    arr = normal(rng, 3, 4)

    # An array axis that only the index shares is aggregated over in gather_scatter.
    reduced = ours.gather_scatter(arr, integers(rng, 3, (2, 4)), "h s, [h, k] s -> k", k=3)
    # '_' alone marks an ignored index row.
    ignored = ours.gather(arr, np.array([[9, 9], [0, 2]]), "h s, [_, h] t -> t s")
    # A tuple of index rows works like a list.
    from_tuple = ours.gather(arr, (np.array([0, 2]),), "h s, [h] t -> t s")

    assert reduced.shape == (3,)
    np.testing.assert_array_equal(ignored, arr[[0, 2]])
    np.testing.assert_array_equal(from_tuple, arr[[0, 2]])
    with pytest.raises(eindex_package.EindexError):
        eindex_numpy.gather_scatter(arr, integers(rng, 3, (2, 4)), "h s, [h, k] s -> k", k=3)
    with pytest.raises(eindex_package.EindexError):
        eindex_numpy.gather(arr, np.array([[9, 9], [0, 2]]), "h s, [_, h] t -> t s")
