"""Hand-picked cases for all six operations, checked against the brute-force oracle.

The first tests check the oracle itself against values worked out by hand and
against eindex 0.1.0, the reference package. The rest compare eindex_codegen
with the oracle, once on numpy arrays and once on torch tensors with the same
data (the `backend` fixture). Arrays contain unique values (mostly their
own row-major offset), so a wrong read shows up as a wrong number, not as a
lucky match.
"""

import numpy as np
import oracle
import pytest
from backends import INDEX_DTYPES

import eindex_codegen as eindex

AGGREGATIONS = oracle.AGGREGATIONS


def offsets(shape, dtype=np.int64):
    """Return an array whose every element is its own row-major offset."""
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


def shuffled_values(rng, shape, dtype=np.int64):
    """Return a random permutation of 0 .. size-1, so every element is unique."""
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype(dtype)


def data_for(agg, shape, rng):
    """Return unique test data of a dtype that the aggregation accepts: float for mean."""
    dtype = np.float64 if agg == "mean" else np.int64
    return shuffled_values(rng, shape, dtype)


def random_index(rng, sizes, index_shape, dtype=np.int64):
    """Return a stacked index with one row per size in `sizes`, each row in range."""
    rows = [rng.integers(0, size, index_shape) for size in sizes]
    return np.stack(rows).astype(dtype)


def assert_same(actual, expected):
    """Assert equal dtype, shape and values, NaNs included."""
    assert isinstance(actual, (np.ndarray, np.generic)), type(actual)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)


def assert_close(actual, expected, rtol=1e-6):
    """Assert equal dtype and shape and values within `rtol`, NaNs included."""
    assert isinstance(actual, (np.ndarray, np.generic)), type(actual)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol)


def assert_matches_oracle(actual, expected, agg):
    if agg == "mean":
        assert_close(actual, expected)
    else:
        assert_same(actual, expected)


# The oracle, against hand-computed values.


def test_oracle_gather_by_hand():
    arr = offsets((2, 3))
    ind = np.array([[1, 0], [2, 0]])

    result = oracle.gather(arr, ind, "h w, [h, w] t -> t")

    assert result.tolist() == [5, 0]


def test_oracle_gather_reduces_by_hand():
    arr = np.array([10.0, 20.0, 30.0])
    ind = np.array([[[0, 2], [1, 1]]])
    pattern = "k, [k] t r -> t"

    assert oracle.gather(arr, ind, pattern, "sum").tolist() == [40.0, 40.0]
    assert oracle.gather(arr, ind, pattern, "min").tolist() == [10.0, 20.0]
    assert oracle.gather(arr, ind, pattern, "max").tolist() == [30.0, 20.0]
    assert oracle.gather(arr, ind, pattern, "mean").tolist() == [20.0, 20.0]


def test_oracle_scatter_by_hand():
    arr = np.array([1.0, 2.0, 3.0])
    ind = np.array([[0, 2, 0]])
    pattern = "i, [k] i -> k"

    assert oracle.scatter(arr, ind, pattern, "sum", k=3).tolist() == [4.0, 0.0, 2.0]
    assert oracle.scatter(arr, ind, pattern, "min", k=3).tolist() == [1.0, np.inf, 2.0]
    assert oracle.scatter(arr, ind, pattern, "max", k=3).tolist() == [3.0, -np.inf, 2.0]
    mean = oracle.scatter(arr, ind, pattern, "mean", k=3)
    assert mean[0] == 2.0
    assert np.isnan(mean[1])
    assert mean[2] == 2.0


def test_oracle_scatter_integer_identity():
    arr = np.array([5, 7], dtype=np.int16)
    ind = np.array([[1, 1]])

    result = oracle.scatter(arr, ind, "i, [k] i -> k", "min", k=2)

    assert result.dtype == np.int16
    assert result.tolist() == [np.iinfo(np.int16).max, 5]


def test_oracle_gather_scatter_by_hand():
    arr = np.array([10.0, 20.0, 30.0])
    edges = np.array([[0, 1, 2], [1, 1, 0]])

    result = oracle.gather_scatter(arr, edges, "v, [v, u] e -> u", "mean", u=3)

    assert result[0] == 30.0
    assert result[1] == 15.0
    assert np.isnan(result[2])


def test_oracle_arg_operations_by_hand():
    x = np.array([[1, 3], [3, 0]])

    assert oracle.argmax(x, "h w -> [h, w]").tolist() == [0, 1]
    assert oracle.argmax(x, "h w -> [w, h]").tolist() == [0, 1]
    assert oracle.argmin(x, "h w -> [h, w]").tolist() == [1, 1]
    assert oracle.argmax(x, "h w -> [w] h").tolist() == [[1, 0]]
    assert oracle.argsort(x, "h w -> [h, w] order").tolist() == [[1, 0, 0, 1], [1, 0, 1, 0]]


def test_oracle_argsort_nan_last_and_stable():
    x = np.array([np.nan, 2.0, 1.0, np.nan, 2.0])

    assert oracle.argsort(x, "i -> [i] order").tolist() == [[2, 1, 4, 0, 3]]
    assert oracle.argmax(x, "i -> [i]").tolist() == [0]
    assert oracle.argmin(x, "i -> [i]").tolist() == [0]


def test_oracle_float16_sum_accumulates_in_float32():
    arr = np.full(5000, 0.1, dtype=np.float16)
    ind = np.zeros((1, 5000), dtype=np.int64)

    total = oracle.scatter(arr, ind, "i, [k] i -> k", "sum", k=1)

    assert total.dtype == np.float16
    np.testing.assert_allclose(total, [500.0], rtol=1e-3)


# The oracle, against eindex 0.1.0 on inputs where that package is defined:
# unique values, valid indexes and no zero-size axes.

REFERENCE_INDEX_CASES = [
    ("gather", "b h w c, [h, w] b t r -> b t c", (2, 3, 4, 5), {"t": 6, "r": 3}, {}),
    ("gather", "b h w c, [h, w] c t r -> b t r", (2, 3, 4, 5), {"t": 6, "r": 3}, {}),
    ("scatter", "i c, [cluster] i -> cluster c", (7, 3), {}, {"cluster": 5}),
    ("scatter", "b i c, [h, w] b i rep -> b h c w", (2, 4, 5), {"rep": 3}, {"h": 3, "w": 2}),
    ("gather_scatter", "vin c, [vin, vout] edge -> vout c", (6, 3), {"edge": 10}, {"vout": 6}),
    ("gather_scatter", "b h c, [h, w2] b t o -> b t h w2 c", (2, 4, 3), {"t": 3, "o": 4}, {"w2": 2}),
]


def build_reference_case(pattern, arr_shape, index_only_sizes, keyword_sizes, rng):
    """Return (arr, ind) for a pattern, drawing each index row in its axis range."""
    array_axes, brackets, index_axes, _ = oracle.parse_index_pattern(pattern)
    sizes = {**dict(zip(array_axes, arr_shape)), **index_only_sizes, **keyword_sizes}
    arr = shuffled_values(rng, arr_shape, np.float64)
    ind = random_index(rng, [sizes[axis] for axis in brackets], [sizes[axis] for axis in index_axes])
    return arr, ind


def run_against_reference(operation, pattern, arr, ind, agg, keyword_sizes):
    reference = pytest.importorskip("eindex.numpy")
    expected = getattr(oracle, operation)(arr, ind, pattern, agg, **keyword_sizes)
    # eindex 0.1.0 divides 0 by 0 for the mean of an empty cell.
    with np.errstate(invalid="ignore"):
        reference_result = getattr(reference, operation)(arr, ind, pattern, agg, **keyword_sizes)
    np.testing.assert_allclose(expected, reference_result)


@pytest.mark.parametrize("agg", AGGREGATIONS)
@pytest.mark.parametrize("case", REFERENCE_INDEX_CASES, ids=lambda case: case[1])
def test_oracle_matches_eindex_0_1_0(case, agg):
    operation, pattern, arr_shape, index_only_sizes, keyword_sizes = case
    rng = np.random.default_rng(0)
    arr, ind = build_reference_case(pattern, arr_shape, index_only_sizes, keyword_sizes, rng)

    run_against_reference(operation, pattern, arr, ind, agg, keyword_sizes)


def test_oracle_plain_gather_matches_eindex():
    pattern = "b h w c, [h, w] b t -> b t c"
    rng = np.random.default_rng(0)
    arr, ind = build_reference_case(pattern, (2, 3, 4, 5), {"t": 6}, {}, rng)

    run_against_reference("gather", pattern, arr, ind, None, {})


@pytest.mark.parametrize(
    "pattern",
    [
        "b h w c -> [h, w] b c",
        "b h w c -> [w, h, c] b",
        "b h w c -> [c] w b h",
        "b h w c -> [b, h, w, c]",
    ],
)
def test_oracle_argmax_argmin_match_eindex_0_1_0(pattern):
    reference = pytest.importorskip("eindex.numpy")
    x = shuffled_values(np.random.default_rng(1), (3, 4, 5, 2), np.float64)

    np.testing.assert_array_equal(oracle.argmax(x, pattern), reference.argmax(x, pattern))
    np.testing.assert_array_equal(oracle.argmin(x, pattern), reference.argmin(x, pattern))


@pytest.mark.parametrize(
    "pattern",
    ["b h w c -> [h, w] b c order", "b h w c -> [w, h] order b c", "b h w c -> [c] w b order h"],
)
def test_oracle_argsort_matches_eindex_0_1_0(pattern):
    reference = pytest.importorskip("eindex.numpy")
    x = shuffled_values(np.random.default_rng(2), (3, 4, 5, 2), np.float64)

    np.testing.assert_array_equal(oracle.argsort(x, pattern), reference.argsort(x, pattern))


# The examples that the spec promises keep working.


def test_kmeans_step(backend):
    rng = np.random.default_rng(3)
    k, n, channels = 4, 11, 3
    dist = rng.random((k, n))
    points = rng.random((n, channels))

    clusters = backend.argmin(dist, "cluster i -> [cluster] i")
    assert_same(clusters, oracle.argmin(dist, "cluster i -> [cluster] i"))

    pattern = "i c, [cluster] i -> cluster c"
    centers = backend.scatter(points, clusters, pattern, agg="mean", cluster=k)
    assert_close(centers, oracle.scatter(points, clusters, pattern, "mean", cluster=k))


def test_best_patch_embedding_images(backend):
    rng = np.random.default_rng(4)
    score = rng.random((2, 3, 4, 5))
    images = offsets((2, 3, 4, 6))

    best = backend.argmax(score, "b h w token -> [h, w] b token")
    assert_same(best, oracle.argmax(score, "b h w token -> [h, w] b token"))

    pattern = "b h w c, [h, w] b token -> b token c"
    assert_same(backend.gather(images, best, pattern), oracle.gather(images, best, pattern))


def test_best_patch_embedding_video(backend):
    rng = np.random.default_rng(5)
    score = rng.random((2, 3, 3, 4, 5))
    videos = offsets((2, 3, 3, 4, 6))

    best = backend.argmax(score, "b t h w token -> [t, h, w] b token")
    assert_same(best, oracle.argmax(score, "b t h w token -> [t, h, w] b token"))

    pattern = "b t h w c, [t, h, w] b token -> b token c"
    assert_same(backend.gather(videos, best, pattern), oracle.gather(videos, best, pattern))


def test_top3_words(backend):
    prob = np.random.default_rng(6).random((4, 2, 7))

    top = backend.argsort(prob, "t b w -> [w] t b order")[..., -3:]

    expected = oracle.argsort(prob, "t b w -> [w] t b order")[..., -3:]
    assert_same(top, expected)


def test_graph_neighbour_mean_one_graph(backend):
    rng = np.random.default_rng(7)
    n, channels = 5, 3
    emb = rng.random((n, channels))
    edges = rng.integers(0, n, (2, 9))
    pattern = "vin c, [vin, vout] edge -> vout c"

    result = backend.gather_scatter(emb, edges, pattern, agg="mean", vout=n)

    assert_close(result, oracle.gather_scatter(emb, edges, pattern, "mean", vout=n))


def test_graph_neighbour_mean_batch(backend):
    rng = np.random.default_rng(8)
    batch, n, channels = 2, 5, 3
    emb = rng.random((batch, n, channels))
    edges = rng.integers(0, n, (2, batch, 9))
    pattern = "b vin c, [vin, vout] b edge -> b vout c"

    result = backend.gather_scatter(emb, edges, pattern, agg="mean", vout=n)

    assert_close(result, oracle.gather_scatter(emb, edges, pattern, "mean", vout=n))


def test_relative_position_bias(backend):
    rng = np.random.default_rng(9)
    table = offsets((5, 7, 2), np.float32)
    diff = np.stack([rng.integers(0, 5, (2, 3, 2, 3)), rng.integers(0, 7, (2, 3, 2, 3))])
    pattern = "i j head, [i, j] i1 j1 i2 j2 -> i1 j1 i2 j2 head"

    bias = backend.gather(table, diff, pattern)

    assert_same(bias, oracle.gather(table, diff, pattern))


def test_visitors_per_world_place(backend):
    rng = np.random.default_rng(10)
    worlds, places = 3, 4
    trips = np.stack([rng.integers(0, worlds, (5, 6)), rng.integers(0, places, (5, 6))])
    pattern = ", [world, place] hero month -> world place"

    visits = backend.scatter(np.ones([]), trips, pattern, world=worlds, place=places)

    assert_same(visits, oracle.scatter(np.ones([]), trips, pattern, world=worlds, place=places))
    assert visits.sum() == 30


# Every aggregation of every index operation.


@pytest.mark.parametrize("agg", AGGREGATIONS)
@pytest.mark.parametrize(
    "pattern, index_shape",
    [
        # r is an index-only axis: several lookups per output cell.
        ("b h w c, [h, w] b t r -> b t c", (2, 3, 4)),
        # c is in the array and the index but not the result: aligned, then reduced.
        ("b h w c, [h, w] c t -> b t", (5, 3)),
    ],
)
def test_gather_aggregations(backend, pattern, index_shape, agg):
    rng = np.random.default_rng(11)
    arr = data_for(agg, (2, 3, 4, 5), rng)
    ind = random_index(rng, [3, 4], index_shape)

    result = backend.gather(arr, ind, pattern, agg=agg)

    assert_matches_oracle(result, oracle.gather(arr, ind, pattern, agg), agg)


def test_gather_without_agg_reads_coordinates(backend):
    # Each element is 1000*b + 100*h + 10*w + c, so every result names its source.
    b, h, w, c = np.meshgrid(np.arange(2), np.arange(3), np.arange(4), np.arange(5), indexing="ij")
    images = 1000 * b + 100 * h + 10 * w + c
    # (h, w) is (2, 1) for b = 0 and (0, 3) for b = 1.
    best = np.array([[[2], [0]], [[1], [3]]])

    result = backend.gather(images, best, "b h w c, [h, w] b t -> b t c")

    assert result.tolist() == [[[210, 211, 212, 213, 214]], [[1030, 1031, 1032, 1033, 1034]]]
    assert result.dtype == images.dtype


@pytest.mark.parametrize(
    "agg, dtype",
    [(agg, np.float64) for agg in AGGREGATIONS] + [(agg, np.int64) for agg in ("sum", "min", "max")],
)
def test_scatter_aggregations(backend, agg, dtype):
    arr = offsets((7, 3), dtype)
    # Cluster 1 gets two points, cluster 3 three, clusters 0 and 4 none.
    clusters = np.array([[2, 1, 3, 3, 1, 3, 2]])
    pattern = "i c, [cluster] i -> cluster c"

    result = backend.scatter(arr, clusters, pattern, agg=agg, cluster=5)

    assert_matches_oracle(result, oracle.scatter(arr, clusters, pattern, agg, cluster=5), agg)


@pytest.mark.parametrize("agg", AGGREGATIONS)
def test_scatter_with_replicas(backend, agg):
    rng = np.random.default_rng(12)
    arr = data_for(agg, (2, 4, 5), rng)
    ind = random_index(rng, [3, 2], (2, 4, 3))
    pattern = "b i c, [h, w] b i rep -> b h c w"

    result = backend.scatter(arr, ind, pattern, agg=agg, h=3, w=2)

    assert_matches_oracle(result, oracle.scatter(arr, ind, pattern, agg, h=3, w=2), agg)


@pytest.mark.parametrize("operation, options", [("gather", {}), ("gather_scatter", {"agg": "max"})])
def test_read_without_index_axes_is_new_array(backend, operation, options):
    # Index rows without axes are 0-d, and indexing with them as with integers returns a view.
    arr = offsets((2, 3))

    result = getattr(backend, operation)(arr, np.array([1]), "y c, [y] -> c", **options)
    result[...] = -1

    assert arr.tolist() == [[0, 1, 2], [3, 4, 5]]


# numpy scatters whole rows of a 2-d result below 256 values and one flat offset per element from
# there. Each case sits one step below the threshold and at it: 63 or 64 rows of 4, and 31 or 32
# rows of 2 x 2 written by 2 replicas.
SCATTER_THRESHOLD_CASES = {
    "one row axis, below": ("i c, [k] i -> k c", (63, 4), (63,), {"k": 5}),
    "one row axis, at": ("i c, [k] i -> k c", (64, 4), (64,), {"k": 5}),
    "two row axes with replicas, below": ("i c d, [k] i r -> k c d", (31, 2, 2), (31, 2), {"k": 5}),
    "two row axes with replicas, at": ("i c d, [k] i r -> k c d", (32, 2, 2), (32, 2), {"k": 5}),
}


@pytest.mark.parametrize("case", SCATTER_THRESHOLD_CASES.values(), ids=SCATTER_THRESHOLD_CASES.keys())
@pytest.mark.parametrize("agg", AGGREGATIONS)
def test_scatter_either_side_of_threshold(backend, agg, case):
    pattern, shape, index_shape, sizes = case
    rng = np.random.default_rng(14)
    arr = data_for(agg, shape, rng)
    ind = random_index(rng, [5], index_shape)

    result = backend.scatter(arr, ind, pattern, agg=agg, **sizes)

    assert_matches_oracle(result, oracle.scatter(arr, ind, pattern, agg, **sizes), agg)


@pytest.mark.parametrize("agg", AGGREGATIONS)
def test_scatter_output_axis_from_index(backend, agg):
    rng = np.random.default_rng(13)
    arr = data_for(agg, (4, 3), rng)
    ind = random_index(rng, [5], (4, 6))
    pattern = "i c, [k] i t -> t k c"

    result = backend.scatter(arr, ind, pattern, agg=agg, k=5)

    assert_matches_oracle(result, oracle.scatter(arr, ind, pattern, agg, k=5), agg)


@pytest.mark.parametrize("agg", AGGREGATIONS)
def test_gather_scatter_aggregations(backend, agg):
    rng = np.random.default_rng(14)
    arr = data_for(agg, (6, 3), rng)
    edges = random_index(rng, [6, 6], (10,))
    pattern = "vin c, [vin, vout] edge -> vout c"

    result = backend.gather_scatter(arr, edges, pattern, agg=agg, vout=6)

    assert_matches_oracle(result, oracle.gather_scatter(arr, edges, pattern, agg, vout=6), agg)


@pytest.mark.parametrize("agg", AGGREGATIONS)
def test_gather_scatter_axis_read_and_written(backend, agg):
    # h is read from the array and written to the result, while w2 is only written.
    rng = np.random.default_rng(15)
    arr = data_for(agg, (2, 4, 3), rng)
    ind = random_index(rng, [4, 2], (2, 3, 4))
    pattern = "b h c, [h, w2] b t o -> b t h w2 c"

    result = backend.gather_scatter(arr, ind, pattern, agg=agg, w2=2)

    assert_matches_oracle(result, oracle.gather_scatter(arr, ind, pattern, agg, w2=2), agg)


@pytest.mark.parametrize("agg", AGGREGATIONS)
def test_gather_scatter_reduces_array_index_axis(backend, agg):
    # s is in the array and the index but not the result, so it is aggregated over.
    rng = np.random.default_rng(16)
    arr = data_for(agg, (3, 4, 2), rng)
    ind = random_index(rng, [4, 5], (3, 6))
    pattern = "s h c, [h, k] s e -> k c"

    result = backend.gather_scatter(arr, ind, pattern, agg=agg, k=5)

    assert_matches_oracle(result, oracle.gather_scatter(arr, ind, pattern, agg, k=5), agg)


@pytest.mark.parametrize("agg", AGGREGATIONS)
def test_gather_scatter_without_written_axis(backend, agg):
    # No bracketed axis is written and nothing is aggregated over, so every
    # result cell receives exactly one value, as in a gather.
    arr = offsets((4, 3), np.float64)
    ind = np.array([[0, 2, 2, 3]])
    pattern = "h c, [h] t -> t c"

    result = backend.gather_scatter(arr, ind, pattern, agg=agg)

    assert_same(result, oracle.gather(arr, ind, pattern))


# Aggregations over nothing give the identity.

FLOAT_IDENTITIES = {"sum": 0.0, "min": np.inf, "max": -np.inf}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("agg", AGGREGATIONS)
def test_scatter_float_identity(backend, agg, dtype):
    arr = np.ones((0, 2), dtype=dtype)
    ind = np.zeros((1, 0), dtype=np.int64)

    result = backend.scatter(arr, ind, "i c, [k] i -> k c", agg=agg, k=3)

    assert result.dtype == dtype
    assert result.shape == (3, 2)
    if agg == "mean":
        assert np.isnan(result).all()
    else:
        assert (result == FLOAT_IDENTITIES[agg]).all()


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64])
@pytest.mark.parametrize("agg", ["sum", "min", "max"])
def test_scatter_integer_identity(backend, agg, dtype):
    if agg in ("min", "max"):
        backend.skip_without_min_max(dtype)
    arr = np.array([7, 9], dtype=dtype)
    ind = np.array([[2, 2]])

    result = backend.scatter(arr, ind, "i, [k] i -> k", agg=agg, k=3)

    info = np.iinfo(dtype)
    identity = {"sum": 0, "min": info.max, "max": info.min}[agg]
    landed = {"sum": 16, "min": 7, "max": 9}[agg]
    assert result.dtype == dtype
    assert result.tolist() == [identity, identity, landed]


@pytest.mark.parametrize("agg", AGGREGATIONS)
def test_gather_reduced_over_zero_size_axis(backend, agg):
    arr = offsets((3, 4), np.float32)
    ind = np.zeros((1, 5, 0), dtype=np.int64)

    result = backend.gather(arr, ind, "h c, [h] t r -> t c", agg=agg)

    expected = oracle.gather(arr, ind, "h c, [h] t r -> t c", agg)
    assert_same(result, expected)


@pytest.mark.parametrize("agg", ["sum", "min", "max"])
def test_gather_scatter_no_edges_integer_identity(backend, agg):
    arr = offsets((4, 2), np.int32)
    edges = np.zeros((2, 0), dtype=np.int64)
    pattern = "vin c, [vin, vout] edge -> vout c"

    result = backend.gather_scatter(arr, edges, pattern, agg=agg, vout=3)

    assert_same(result, oracle.gather_scatter(arr, edges, pattern, agg, vout=3))


def test_gather_scatter_no_edges_mean_is_nan(backend):
    arr = offsets((4, 2), np.float32)
    edges = np.zeros((2, 0), dtype=np.int64)
    pattern = "vin c, [vin, vout] edge -> vout c"

    result = backend.gather_scatter(arr, edges, pattern, agg="mean", vout=3)

    assert result.dtype == np.float32
    assert result.shape == (3, 2)
    assert np.isnan(result).all()


# Zero-size axes elsewhere.


def test_gather_zero_size_index_axis(backend):
    arr = offsets((3, 4, 2))
    ind = np.zeros((2, 0), dtype=np.int64)

    result = backend.gather(arr, ind, "h w c, [h, w] t -> t c")

    assert_same(result, np.zeros((0, 2), dtype=np.int64))


def test_gather_zero_size_carried_axis(backend):
    arr = np.zeros((3, 4, 0), dtype=np.float32)
    ind = np.array([[0, 2], [3, 1]])

    result = backend.gather(arr, ind, "h w c, [h, w] t -> t c")

    assert_same(result, np.zeros((2, 0), dtype=np.float32))


def test_gather_zero_size_indexed_axis_with_empty_index(backend):
    arr = np.zeros((0, 4), dtype=np.float64)
    ind = np.zeros((1, 0), dtype=np.int64)

    result = backend.gather(arr, ind, "h c, [h] t -> t c")

    assert_same(result, np.zeros((0, 4), dtype=np.float64))


def test_scatter_zero_size_batch_axis(backend):
    arr = np.zeros((0, 3), dtype=np.float64)
    ind = np.zeros((1, 0, 3), dtype=np.int64)
    pattern = "b i, [k] b i -> b k"

    result = backend.scatter(arr, ind, pattern, agg="max", k=4)

    assert_same(result, np.zeros((0, 4), dtype=np.float64))


def test_argmax_zero_size_other_axis(backend):
    x = np.zeros((0, 3, 2), dtype=np.float32)

    assert_same(backend.argmax(x, "b h w -> [h, w] b"), np.zeros((2, 0), dtype=np.int64))
    assert_same(backend.argmin(x, "b h w -> [w] b h"), np.zeros((1, 0, 3), dtype=np.int64))


@pytest.mark.parametrize("operation", ["argmax", "argmin"])
def test_arg_extreme_zero_size_found_axis_raises(backend, operation):
    x = np.zeros((2, 0), dtype=np.float32)

    with pytest.raises(eindex.EindexError, match="width"):
        getattr(backend, operation)(x, "b width -> [width] b")


def test_argsort_zero_size_found_axis(backend):
    # NOTE: the spec does not say what argsort does here. This expects what
    # numpy.argsort does along an empty axis: an empty order axis.
    x = np.zeros((2, 0), dtype=np.float32)

    result = backend.argsort(x, "b w -> [w] b order")

    assert_same(result, np.zeros((1, 2, 0), dtype=np.int64))


# 0-d arrays and 0-d indexes.


def test_scatter_zero_dim_array(backend):
    trips = np.array([[[0, 1, 1]], [[2, 2, 0]]])
    pattern = ", [world, place] hero month -> world place"

    result = backend.scatter(np.full([], 3.0, np.float32), trips, pattern, world=2, place=3)

    assert result.dtype == np.float32
    assert result.tolist() == [[0.0, 0.0, 3.0], [3.0, 0.0, 3.0]]


def test_gather_scatter_zero_dim_array(backend):
    edges = np.array([[0, 3, 3, 1]])
    pattern = ", [w] e -> w"

    result = backend.gather_scatter(np.ones([], np.int64), edges, pattern, w=4)

    assert_same(result, np.array([1, 1, 0, 2], dtype=np.int64))


def test_gather_zero_dim_result(backend):
    arr = offsets((3, 4))

    stacked = backend.gather(arr, np.array([2, 1]), "h w, [h, w] -> ")
    listed = backend.gather(arr, [np.array(2), np.array(1)], "h w, [h, w] -> ")

    assert stacked.shape == ()
    assert stacked == 9
    assert listed.shape == ()
    assert listed == 9


def test_gather_zero_dim_index(backend):
    arr = offsets((3, 4, 5))
    ind = np.array([1, 3], dtype=np.int32)

    result = backend.gather(arr, ind, "h w c, [h, w] -> c")

    assert_same(result, arr[1, 3])


def test_scatter_zero_dim_index_with_zero_dim_array(backend):
    result = backend.scatter(np.array(5.0), np.array([2]), ", [k] -> k", k=4)

    assert_same(result, np.array([0.0, 0.0, 5.0, 0.0]))


# Ties and NaN in arg-operations.


def test_argmax_ties_follow_bracket_order(backend):
    x = np.array([[0, 5, 1], [5, 2, 5]])

    # Over [h, w] the first maximum in row-major order is (h=0, w=1);
    # over [w, h], w varies slowest, so it is (w=0, h=1).
    assert backend.argmax(x, "h w -> [h, w]").tolist() == [0, 1]
    assert backend.argmax(x, "h w -> [w, h]").tolist() == [0, 1]
    assert backend.argmax(x.T.copy(), "w h -> [h, w]").tolist() == [0, 1]
    assert_same(backend.argmax(x, "h w -> [w, h]"), oracle.argmax(x, "h w -> [w, h]"))


def test_argmin_ties_first_in_row_major_order(backend):
    x = np.array([[[3, 1], [1, 2]], [[1, 1], [0, 0]]])

    assert_same(backend.argmin(x, "b h w -> [h, w] b"), oracle.argmin(x, "b h w -> [h, w] b"))
    assert_same(backend.argmin(x, "b h w -> [w, h] b"), oracle.argmin(x, "b h w -> [w, h] b"))
    assert backend.argmin(x, "b h w -> [h, w] b").tolist() == [[0, 1], [1, 0]]


def test_argmax_all_equal_returns_origin(backend):
    x = np.full((2, 3, 4), 7.0)

    assert_same(backend.argmax(x, "b h w -> [h, w] b"), np.zeros((2, 2), dtype=np.int64))


def test_argsort_stable_with_ties(backend):
    x = np.array([[2, 1, 2, 1, 0, 2], [1, 1, 1, 1, 1, 1]], dtype=np.int16)

    result = backend.argsort(x, "b i -> [i] order b")

    assert result.tolist() == [[[4, 0], [1, 1], [3, 2], [0, 3], [2, 4], [5, 5]]]
    assert_same(result, oracle.argsort(x, "b i -> [i] order b"))


def test_argsort_ties_over_two_axes(backend):
    x = np.array([[1, 0, 1], [0, 1, 0]])

    assert_same(backend.argsort(x, "h w -> [h, w] order"), oracle.argsort(x, "h w -> [h, w] order"))
    assert_same(backend.argsort(x, "h w -> [w, h] order"), oracle.argsort(x, "h w -> [w, h] order"))


@pytest.mark.parametrize("operation", ["argmax", "argmin"])
def test_arg_extreme_returns_first_nan(backend, operation):
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, -1.0]], dtype=np.float32)

    result = getattr(backend, operation)(x, "h w -> [h, w]")

    assert result.tolist() == [0, 1]
    assert_same(result, getattr(oracle, operation)(x, "h w -> [h, w]"))
    assert getattr(backend, operation)(x, "h w -> [w, h]").tolist() == [0, 1]


def test_argsort_puts_nan_last_stably(backend):
    x = np.array([np.nan, 2.0, 1.0, np.nan, 2.0, -np.inf], dtype=np.float64)

    result = backend.argsort(x, "i -> [i] order")

    assert result.tolist() == [[5, 2, 1, 4, 0, 3]]


def test_argsort_nan_over_two_axes(backend):
    x = np.array([[np.nan, 0.5], [np.nan, 0.5], [0.25, np.nan]], dtype=np.float16)

    result = backend.argsort(x, "h w -> [h, w] order")

    assert_same(result, oracle.argsort(x, "h w -> [h, w] order"))


def test_argsort_custom_order_axis(backend):
    x = np.random.default_rng(17).random((3, 5))

    result = backend.argsort(x, "b i -> [i] rank b", order_axis="rank")

    assert_same(result, oracle.argsort(x, "b i -> [i] rank b", order_axis="rank"))


ARG_DTYPES = [np.int8, np.uint8, np.uint64, np.float16, np.float32]


@pytest.mark.parametrize("dtype", ARG_DTYPES)
def test_argmax_argmin_across_dtypes(backend, dtype):
    backend.skip_without_min_max(dtype)
    x = np.random.default_rng(18).integers(0, 4, (3, 4, 2)).astype(dtype)

    for pattern in ["a b c -> [b, c] a", "a b c -> [c, a] b"]:
        assert_same(backend.argmax(x, pattern), oracle.argmax(x, pattern))
        assert_same(backend.argmin(x, pattern), oracle.argmin(x, pattern))


@pytest.mark.parametrize("dtype", ARG_DTYPES)
def test_argsort_across_dtypes(backend, dtype):
    x = np.random.default_rng(18).integers(0, 4, (3, 4, 2)).astype(dtype)
    pattern = "a b c -> [c, a] order b"

    assert_same(backend.argsort(x, pattern), oracle.argsort(x, pattern))


# Index forms: stacked, list, tuple, broadcasting and ignored rows.


def test_stacked_and_list_index_agree(backend):
    rng = np.random.default_rng(19)
    images = offsets((2, 3, 4, 5))
    stacked = random_index(rng, [3, 4], (2, 6))
    listed = [stacked[0], stacked[1]]
    pattern = "b h w c, [h, w] b t -> b t c"

    expected = oracle.gather(images, stacked, pattern)
    assert_same(backend.gather(images, stacked, pattern), expected)
    assert_same(backend.gather(images, listed, pattern), expected)
    assert_same(backend.gather(images, tuple(listed), pattern), expected)


def test_stacked_and_list_index_agree_for_scatter(backend):
    rng = np.random.default_rng(20)
    arr = offsets((4, 3))
    stacked = random_index(rng, [2, 5], (4,))
    pattern = "i c, [h, w] i -> h w c"

    expected = oracle.scatter(arr, stacked, pattern, h=2, w=5)
    assert_same(backend.scatter(arr, stacked, pattern, h=2, w=5), expected)
    assert_same(backend.scatter(arr, list(stacked), pattern, h=2, w=5), expected)


def test_list_index_broadcasts_size_one_dims(backend):
    rng = np.random.default_rng(21)
    arr = offsets((3, 4, 2))
    rows = [rng.integers(0, 3, (5, 1)), rng.integers(0, 4, (1, 6))]
    pattern = "h w c, [h, w] t r -> t r c"

    result = backend.gather(arr, rows, pattern)

    assert result.shape == (5, 6, 2)
    assert_same(result, oracle.gather(arr, rows, pattern))


def test_list_index_stretches_against_array_size(backend):
    rng = np.random.default_rng(22)
    images = offsets((3, 4, 5, 2))
    # The h row has size 1 along b, which the array fixes at 3.
    rows = [rng.integers(0, 4, (1, 6)), rng.integers(0, 5, (3, 6))]
    pattern = "b h w c, [h, w] b t -> b t c"

    result = backend.gather(images, rows, pattern)

    assert result.shape == (3, 6, 2)
    assert_same(result, oracle.gather(images, rows, pattern))


def test_list_index_all_rows_stretch_against_array_size(backend):
    rng = np.random.default_rng(23)
    arr = offsets((3, 4))
    rows = [rng.integers(0, 4, (1, 5))]
    pattern = "b k, [k] b t -> b t"

    result = backend.gather(arr, rows, pattern)

    assert result.shape == (3, 5)
    assert_same(result, oracle.gather(arr, rows, pattern))


def test_stacked_index_stretches_against_array_size(backend):
    rng = np.random.default_rng(24)
    arr = offsets((3, 4))
    ind = rng.integers(0, 4, (1, 1, 5))
    pattern = "b k, [k] b t -> b t"

    result = backend.gather(arr, ind, pattern)

    assert result.shape == (3, 5)
    assert_same(result, oracle.gather(arr, ind, pattern))


def test_list_index_broadcasts_in_scatter(backend):
    rng = np.random.default_rng(25)
    arr = offsets((3, 4), np.float64)
    rows = [rng.integers(0, 2, (3, 1)), rng.integers(0, 5, (1, 4))]
    pattern = "b i, [h, w] b i -> b h w"

    result = backend.scatter(arr, rows, pattern, agg="mean", h=2, w=5)

    assert_close(result, oracle.scatter(arr, rows, pattern, "mean", h=2, w=5))


def test_list_index_broadcasts_in_gather_scatter(backend):
    rng = np.random.default_rng(26)
    arr = offsets((4, 2))
    rows = [rng.integers(0, 4, (6, 1)), rng.integers(0, 3, (1, 2))]
    pattern = "v c, [v, u] e r -> u c"

    result = backend.gather_scatter(arr, rows, pattern, agg="max", u=3)

    assert_same(result, oracle.gather_scatter(arr, rows, pattern, "max", u=3))


def test_ignored_index_row(backend):
    arr = offsets((3, 4))
    # The first row is ignored, so its values need not be valid coordinates.
    ind = np.array([[1000, -7, 55], [3, 0, 2]])

    result = backend.gather(arr, ind, "b w, [_, w] b -> b")

    assert_same(result, np.array([3, 4, 10], dtype=np.int64))
    assert_same(result, oracle.gather(arr, ind, "b w, [_, w] b -> b"))


def test_ignored_index_rows_named_and_listed(backend):
    rng = np.random.default_rng(27)
    arr = offsets((3, 4, 2))
    rows = [rng.integers(0, 3, (5,)), np.full((5,), 99), rng.integers(0, 4, (5,)), np.full((5,), -1)]
    pattern = "h w c, [h, _skip, w, _] t -> t c"

    result = backend.gather(arr, rows, pattern)

    assert_same(result, oracle.gather(arr, rows, pattern))


def test_ignored_index_row_in_scatter(backend):
    arr = np.array([1.0, 2.0, 3.0])
    ind = np.array([[0, 1, 0], [500, 600, 700]])

    result = backend.scatter(arr, ind, "i, [k, _] i -> k", k=2)

    assert_same(result, np.array([4.0, 2.0]))


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_gather_index_dtypes(backend, index_dtype):
    rng = np.random.default_rng(28)
    images = offsets((2, 3, 4, 5))
    stacked = random_index(rng, [3, 4], (2, 6), index_dtype)
    pattern = "b h w c, [h, w] b t -> b t c"

    expected = oracle.gather(images, stacked, pattern)
    assert_same(backend.gather(images, stacked, pattern), expected)
    assert_same(backend.gather(images, list(stacked), pattern), expected)


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_scatter_index_dtypes(backend, index_dtype):
    rng = np.random.default_rng(29)
    arr = offsets((6, 2), np.float32)
    ind = random_index(rng, [3], (6,), index_dtype)
    pattern = "i c, [k] i -> k c"

    result = backend.scatter(arr, ind, pattern, agg="mean", k=3)

    assert_close(result, oracle.scatter(arr, ind, pattern, "mean", k=3))


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_gather_scatter_index_dtypes(backend, index_dtype):
    rng = np.random.default_rng(30)
    arr = offsets((200, 2), np.int64)
    # int8 stores coordinates up to 127 only, and every other dtype stores 199.
    high = 128 if index_dtype == np.int8 else 200
    edges = random_index(rng, [high, high], (50,), index_dtype)
    pattern = "vin c, [vin, vout] edge -> vout c"

    result = backend.gather_scatter(arr, edges, pattern, agg="sum", vout=200)

    assert_same(result, oracle.gather_scatter(arr, edges, pattern, "sum", vout=200))


@pytest.mark.parametrize("index_dtype", INDEX_DTYPES)
def test_mixed_index_dtypes_in_list(backend, index_dtype):
    rng = np.random.default_rng(31)
    arr = offsets((3, 4))
    rows = [rng.integers(0, 3, (5,)).astype(index_dtype), rng.integers(0, 4, (5,)).astype(np.int16)]

    result = backend.gather(arr, rows, "h w, [h, w] t -> t")

    assert_same(result, oracle.gather(arr, rows, "h w, [h, w] t -> t"))


# Precision and result dtypes.


def test_float16_gather_sum_accumulates_in_float32(backend):
    arr = np.full(3, 0.1, dtype=np.float16)
    ind = np.zeros((1, 5000), dtype=np.int64)

    result = backend.gather(arr, ind, "k, [k] r -> ", agg="sum")

    # Adding 0.1 in float16 stalls at 256.
    assert result.dtype == np.float16
    np.testing.assert_allclose(result, 500.0, rtol=1e-3)


def test_float16_scatter_sum_accumulates_in_float32(backend):
    arr = np.full(5000, 0.1, dtype=np.float16)
    ind = np.zeros((1, 5000), dtype=np.int64)

    result = backend.scatter(arr, ind, "i, [k] i -> k", agg="sum", k=2)

    assert result.dtype == np.float16
    np.testing.assert_allclose(result, [500.0, 0.0], rtol=1e-3)


def test_float16_mean_counts_past_2048(backend):
    arr = np.full((5000, 1), 0.1, dtype=np.float16)
    edges = np.zeros((2, 5000), dtype=np.int64)

    result = backend.gather_scatter(arr, edges, "v c, [v, u] e -> u c", agg="mean", u=1)

    assert result.dtype == np.float16
    np.testing.assert_allclose(result, [[0.1]], rtol=1e-3)


def test_float16_scatter_mean_counts_past_2048(backend):
    arr = np.ones(5000, dtype=np.float16)
    arr[::2] = 3.0
    ind = np.zeros((1, 5000), dtype=np.int64)

    result = backend.scatter(arr, ind, "i, [k] i -> k", agg="mean", k=1)

    assert result.dtype == np.float16
    np.testing.assert_allclose(result, [2.0], rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_mean_keeps_float_dtype(backend, dtype):
    rng = np.random.default_rng(32)
    arr = rng.random((4, 3)).astype(dtype)
    ind = random_index(rng, [4], (5, 3))
    rtol = 1e-3 if dtype == np.float16 else 1e-6

    gathered = backend.gather(arr, ind, "k c, [k] t r -> t c", agg="mean")
    scattered = backend.scatter(arr, ind[:, :4], "k c, [j] k r -> j c", agg="mean", j=4)
    moved = backend.gather_scatter(arr, ind, "k c, [k] t r -> t c", agg="mean")

    assert_close(gathered, oracle.gather(arr, ind, "k c, [k] t r -> t c", "mean"), rtol)
    assert_close(scattered, oracle.scatter(arr, ind[:, :4], "k c, [j] k r -> j c", "mean", j=4), rtol)
    assert_close(moved, oracle.gather_scatter(arr, ind, "k c, [k] t r -> t c", "mean"), rtol)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.uint8, np.uint32, np.float16, np.float32])
@pytest.mark.parametrize("agg", ["sum", "min", "max"])
def test_aggregations_keep_dtype(backend, agg, dtype):
    if agg in ("min", "max"):
        backend.skip_without_min_max(dtype)
    rng = np.random.default_rng(33)
    arr = rng.integers(0, 10, (4, 3)).astype(dtype)
    ind = random_index(rng, [4], (5, 2))

    gathered = backend.gather(arr, ind, "k c, [k] t r -> t c", agg=agg)
    scattered = backend.scatter(arr, ind[:, :4], "k c, [j] k r -> j c", agg=agg, j=4)

    assert_same(gathered, oracle.gather(arr, ind, "k c, [k] t r -> t c", agg))
    assert_same(scattered, oracle.scatter(arr, ind[:, :4], "k c, [j] k r -> j c", agg, j=4))


def test_repeated_positions_all_count(backend):
    arr = np.array([[1.0, 10.0]])
    ind = np.array([[0, 0, 0]])

    assert backend.gather(arr, ind, "k c, [k] r -> c", agg="sum").tolist() == [3.0, 30.0]
    scattered = backend.scatter(np.array([2.0, 2.0]), np.array([[1, 1]]), "i, [k] i -> k", k=2)
    assert scattered.tolist() == [0.0, 4.0]


def test_unusual_axis_names(backend):
    rng = np.random.default_rng(34)
    arr = offsets((3, 4, 2))
    ind = random_index(rng, [3, 4], (5,))
    pattern = "class δ in, [class,\tδ]\n lambda -> lambda in"

    result = backend.gather(arr, ind, pattern)

    assert_same(result, oracle.gather(arr, ind, pattern))
