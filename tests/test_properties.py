"""Random valid patterns and inputs, checked against the brute-force oracle.

The strategies give every axis a role from the role tables of gather, scatter
and gather_scatter, then shuffle the axes on each side of the pattern and draw
sizes from 0 to 3. Indexes come stacked or as a list or tuple of rows, in any
integer dtype, and rows may have size-1 dimensions that broadcast, also against
the array. Arrays with no axes give 0-d inputs, and patterns with no result
axes give 0-d results.

Each oracle test runs once on numpy arrays and once on torch tensors with
the same data. The last tests compare the two backends with each other, bit
for bit, on integer data and on integer-valued floats with NaNs, where no
result may depend on the order in which a backend adds.
"""

import dataclasses
import math

import numpy as np
import oracle
import pytest
from backends import BACKENDS, HAVE_TORCH, INDEX_DTYPES, NUMPY, TORCH
from hypothesis import given, settings
from hypothesis import strategies as st

AGGREGATIONS = oracle.AGGREGATIONS
# Array dtypes of the oracle tests, whose arrays contain a permutation of 0 .. size-1.
ORACLE_ARRAY_DTYPES = (np.int32, np.int64, np.uint16, np.float32, np.float64)
# Array dtypes of the cross-backend tests, whose integers span the dtype's whole range,
# so sums wrap around, and whose floats are small integers, so every sum is exact.
CROSS_ARRAY_DTYPES = (
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float32,
    np.float64,
)
MEAN_DTYPES = (np.float32, np.float64)
ORACLE_ARG_DTYPES = (np.int8, np.uint8, np.int64, np.float16, np.float32, np.float64)
CROSS_ARG_DTYPES = (
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
)
# Keywords and non-ASCII letters are valid axis names too.
AXIS_NAMES = ("a", "b", "c", "h", "w", "t", "i", "j", "k", "x1", "class", "in", "δ", "Size")
IGNORED_NAMES = ("_", "_skip")
SPACES = (" ", "  ", "\t", "\n")
MAX_LOOP_SIZE = 200

# Each role is the set of places an axis appears in: the array (A), the
# brackets (B), the index axes after the brackets (I) and the result (R),
# with the least and greatest number of axes to draw for it.
GATHER_ROLES = {
    "indexed": ("AB", 1, 2),
    "batch": ("AIR", 0, 1),
    "new": ("IR", 0, 2),
    "carried": ("AR", 0, 2),
    "reduced_aligned": ("AI", 0, 1),
    "index_only": ("I", 0, 1),
}
SCATTER_ROLES = {
    "written": ("BR", 1, 2),
    "batch": ("AIR", 0, 1),
    "new": ("IR", 0, 1),
    "carried": ("AR", 0, 2),
    "aggregated": ("AI", 0, 1),
    "replica": ("I", 0, 1),
}
GATHER_SCATTER_ROLES = {
    "read": ("AB", 0, 2),
    "written": ("BR", 0, 2),
    "read_written": ("ABR", 0, 1),
    "batch": ("AIR", 0, 1),
    "new": ("IR", 0, 1),
    "carried": ("AR", 0, 1),
    "aggregated": ("AI", 0, 1),
    "index_only": ("I", 0, 1),
}


@dataclasses.dataclass
class IndexCase:
    """One call of gather, scatter or gather_scatter with everything it needs."""

    pattern: str
    arr: np.ndarray
    ind: object
    agg: str
    sizes: dict
    # Valid indexes give the same result with and without the bounds check.
    check_bounds: bool


@dataclasses.dataclass
class ArgCase:
    """One call of argmax, argmin or argsort."""

    pattern: str
    x: np.ndarray
    order_axis: str


def join_axes(draw, names):
    """Join axis names with random whitespace."""
    text = ""
    for position, name in enumerate(names):
        if position:
            text += draw(st.sampled_from(SPACES))
        text += name
    return text


def optional_space(draw):
    return draw(st.sampled_from(("", " ", "  ", "\n")))


def format_index_pattern(draw, array_axes, brackets, index_axes, result_axes):
    """Spell `ARRAY, [BRACKETS] INDEX -> RESULT` with random whitespace around every token."""
    bracket_text = ""
    for position, name in enumerate(brackets):
        if position:
            bracket_text += optional_space(draw) + "," + optional_space(draw)
        bracket_text += name
    pieces = [
        join_axes(draw, array_axes),
        optional_space(draw),
        ",",
        optional_space(draw),
        "[",
        optional_space(draw),
        bracket_text,
        optional_space(draw),
        "]",
        optional_space(draw),
        join_axes(draw, index_axes),
        optional_space(draw),
        "->",
        optional_space(draw),
        join_axes(draw, result_axes),
    ]
    return "".join(pieces)


def draw_sizes(draw, axes):
    """Draw a size for each axis, from 1 to 3, or from 0 to 3 in a quarter of the cases."""
    smallest = 0 if draw(st.integers(0, 3)) == 0 else 1
    return {axis: draw(st.integers(smallest, 3)) for axis in axes}


def limit_sizes(sizes, names, limit):
    """Cut to 1 each size that would push the product of the sizes of `names` over `limit`."""
    product = 1
    for name in names:
        if product * sizes[name] > limit:
            sizes[name] = min(sizes[name], 1)
        product *= sizes[name]


def draw_index_rows(draw, rng, brackets, index_axes, sizes, array_axes, index_dtype):
    """Draw one index row per bracketed axis, with size-1 dimensions where broadcasting allows.

    An index axis that the array lacks takes its size from the index, so at
    least one real row keeps the full size there. A row of an ignored axis
    contains arbitrary values, often out of range, which must not matter.
    """
    full_shape = [sizes[axis] for axis in index_axes]
    real_rows = [k for k, axis in enumerate(brackets) if not axis.startswith("_")]
    shapes = [list(full_shape) for _ in brackets]
    # With an empty index every row stays full-size, so no stretched value
    # outside the index is ever checked against a zero-size axis.
    if math.prod(full_shape) > 0:
        for d, axis in enumerate(index_axes):
            for k in range(len(brackets)):
                if draw(st.booleans()):
                    shapes[k][d] = 1
            if axis not in array_axes and all(shapes[k][d] != full_shape[d] for k in real_rows):
                shapes[draw(st.sampled_from(real_rows))][d] = full_shape[d]
        for k, axis in enumerate(brackets):
            # An ignored row may not carry a size that no real row shows.
            if axis.startswith("_"):
                shapes[k] = list(full_shape) if draw(st.booleans()) else [1] * len(full_shape)

    info = np.iinfo(index_dtype)
    rows = []
    for axis, shape in zip(brackets, shapes):
        if axis.startswith("_"):
            row = rng.integers(max(int(info.min), -50), 100, shape)
        elif sizes[axis] == 0:
            row = np.zeros(shape, dtype=np.int64)
        else:
            row = rng.integers(0, sizes[axis], shape)
        rows.append(row.astype(index_dtype))
    return rows


def draw_array(draw, rng, shape, agg, backend, values):
    """Draw an array of `shape` in a dtype that `agg` and `backend` accept.

    With `values="unique"` the array contains a permutation of 0 .. size-1, so
    the oracle can tell every element apart. With `values="full_range"` an
    integer array contains values from the whole range of its dtype, so sums
    wrap around, and a float array contains integers from -1024 to 1024, so
    every sum of up to MAX_LOOP_SIZE values is exact in any order of addition.
    Half of the float arrays also contain NaNs.
    """
    if agg == "mean":
        dtypes = MEAN_DTYPES
    else:
        dtypes = ORACLE_ARRAY_DTYPES if values == "unique" else CROSS_ARRAY_DTYPES
    if agg in ("min", "max"):
        dtypes = [dtype for dtype in dtypes if backend.has_min_max(dtype)]
    dtype = np.dtype(draw(st.sampled_from(dtypes)))

    if values == "unique":
        return rng.permutation(math.prod(shape)).reshape(shape).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    arr = rng.integers(-1024, 1025, shape).astype(dtype)
    if draw(st.booleans()):
        arr[rng.random(shape) < 0.2] = np.nan
    return arr


@st.composite
def index_cases(draw, roles, backend, values="unique"):
    """Draw a valid pattern and inputs for one of the index operations.

    `backend` limits the array dtypes to those it supports for the drawn agg,
    and `values` chooses the array values as `draw_array` describes.
    """
    names = list(draw(st.permutations(AXIS_NAMES)))
    # Scatter and gather_scatter accept a 0-d array, so sometimes leave out every array axis.
    array_optional = all("A" not in where or low == 0 for where, low, _ in roles.values())
    without_array = array_optional and draw(st.integers(0, 7)) == 0
    places = {}
    for where, low, high in roles.values():
        if without_array and "A" in where:
            continue
        for _ in range(draw(st.integers(low, high))):
            places[names.pop()] = where
    if not any("B" in where for where in places.values()):
        places[names.pop()] = "AB" if "indexed" in roles else "BR"

    array_axes = draw(st.permutations([axis for axis, where in places.items() if "A" in where]))
    brackets = [axis for axis, where in places.items() if "B" in where]
    ignored = draw(st.lists(st.sampled_from(IGNORED_NAMES), max_size=1))
    brackets = draw(st.permutations(brackets + ignored))
    index_axes = draw(st.permutations([axis for axis, where in places.items() if "I" in where]))
    result_axes = draw(st.permutations([axis for axis, where in places.items() if "R" in where]))

    sizes = draw_sizes(draw, places)
    limit_sizes(sizes, list(places), MAX_LOOP_SIZE)
    if math.prod(sizes[axis] for axis in index_axes) > 0:
        # A non-empty index needs a valid coordinate on every bracketed axis.
        for axis, where in places.items():
            if "B" in where:
                sizes[axis] = max(sizes[axis], 1)

    reduces = any(where in ("AI", "I") for where in places.values())
    if "indexed" in roles and not reduces:
        agg = None
    else:
        agg = draw(st.sampled_from(AGGREGATIONS))

    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    arr_shape = [sizes[axis] for axis in array_axes]
    arr = draw_array(draw, rng, arr_shape, agg, backend, values)

    index_dtype = draw(st.sampled_from(INDEX_DTYPES))
    rows = draw_index_rows(draw, rng, brackets, index_axes, sizes, array_axes, index_dtype)
    form = draw(st.sampled_from(("stacked", "list", "tuple")))
    if form == "stacked":
        # A stacked index keeps a size-1 dimension only where every row has one,
        # which is where it stretches against the array.
        common_shape = np.broadcast_shapes(*(row.shape for row in rows))
        ind = np.stack([np.broadcast_to(row, common_shape) for row in rows])
    elif form == "list":
        ind = rows
    else:
        ind = tuple(rows)

    keyword_sizes = {axis: sizes[axis] for axis, where in places.items() if where == "BR"}
    pattern = format_index_pattern(draw, array_axes, brackets, index_axes, result_axes)
    check_bounds = draw(st.booleans())
    return IndexCase(pattern, arr, ind, agg, keyword_sizes, check_bounds)


@st.composite
def arg_cases(draw, sort, backend, dtypes=ORACLE_ARG_DTYPES):
    """Draw a valid argmax/argmin pattern, or an argsort pattern when `sort` is true.

    The input dtype comes from `dtypes`, less those that `backend` cannot find
    the maximum or minimum of, unless `sort` is true.
    """
    names = list(draw(st.permutations(AXIS_NAMES)))
    input_axes = names[: draw(st.integers(1, 4))]
    sizes = draw_sizes(draw, input_axes)
    limit_sizes(sizes, input_axes, MAX_LOOP_SIZE)

    shuffled = draw(st.permutations(input_axes))
    found_count = draw(st.integers(1, len(input_axes)))
    found_axes = list(shuffled[:found_count])
    other_axes = list(shuffled[found_count:])
    if not sort:
        # A zero-size found axis has no position, which argmax and argmin reject.
        for axis in found_axes:
            sizes[axis] = max(sizes[axis], 1)

    order_axis = "order"
    if sort:
        order_axis = draw(st.sampled_from(("order", "rank")))
        other_axes.insert(draw(st.integers(0, len(other_axes))), order_axis)

    if not sort:
        dtypes = [dtype for dtype in dtypes if backend.has_min_max(dtype)]
    dtype = draw(st.sampled_from(dtypes))
    # Few distinct values make ties common, and floats sometimes contain NaN.
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = [sizes[axis] for axis in input_axes]
    x = rng.integers(0, 3, shape).astype(dtype)
    if np.issubdtype(dtype, np.floating) and draw(st.booleans()):
        x[rng.random(shape) < 0.3] = np.nan

    found_text = ""
    for position, axis in enumerate(found_axes):
        if position:
            found_text += "," + optional_space(draw)
        found_text += axis
    pattern = (
        join_axes(draw, input_axes)
        + optional_space(draw)
        + "->"
        + optional_space(draw)
        + "["
        + found_text
        + "]"
        + optional_space(draw)
        + join_axes(draw, other_axes)
    )
    return ArgCase(pattern=pattern, x=x, order_axis=order_axis)


def assert_matches_oracle(actual, expected, agg):
    """Assert equal dtype and shape, and equal values, within float tolerance for mean."""
    assert isinstance(actual, (np.ndarray, np.generic)), type(actual)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    if agg == "mean":
        np.testing.assert_allclose(actual, expected, rtol=1e-6)
    else:
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=300, deadline=None, report_multiple_bugs=False)
@given(data=st.data())
def test_gather_matches_oracle(backend, data):
    case = data.draw(index_cases(GATHER_ROLES, backend))

    result = backend.gather(
        case.arr, case.ind, case.pattern, case.agg, check_bounds=case.check_bounds
    )

    expected = oracle.gather(case.arr, case.ind, case.pattern, case.agg)
    assert_matches_oracle(result, expected, case.agg)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=300, deadline=None, report_multiple_bugs=False)
@given(data=st.data())
def test_scatter_matches_oracle(backend, data):
    case = data.draw(index_cases(SCATTER_ROLES, backend))

    result = backend.scatter(
        case.arr, case.ind, case.pattern, case.agg, check_bounds=case.check_bounds, **case.sizes
    )

    expected = oracle.scatter(case.arr, case.ind, case.pattern, case.agg, **case.sizes)
    assert_matches_oracle(result, expected, case.agg)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=300, deadline=None, report_multiple_bugs=False)
@given(data=st.data())
def test_gather_scatter_matches_oracle(backend, data):
    case = data.draw(index_cases(GATHER_SCATTER_ROLES, backend))

    result = backend.gather_scatter(
        case.arr, case.ind, case.pattern, case.agg, check_bounds=case.check_bounds, **case.sizes
    )

    expected = oracle.gather_scatter(case.arr, case.ind, case.pattern, case.agg, **case.sizes)
    assert_matches_oracle(result, expected, case.agg)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_argmax_argmin_match_oracle(backend, data):
    case = data.draw(arg_cases(sort=False, backend=backend))

    maximum = backend.argmax(case.x, case.pattern)
    minimum = backend.argmin(case.x, case.pattern)

    assert_matches_oracle(maximum, oracle.argmax(case.x, case.pattern), None)
    assert_matches_oracle(minimum, oracle.argmin(case.x, case.pattern), None)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_argsort_matches_oracle(backend, data):
    case = data.draw(arg_cases(sort=True, backend=backend))

    result = backend.argsort(case.x, case.pattern, order_axis=case.order_axis)

    expected = oracle.argsort(case.x, case.pattern, order_axis=case.order_axis)
    assert_matches_oracle(result, expected, None)


# The torch backend against the numpy backend.

needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")


def assert_identical(actual, expected):
    """Assert equal dtype, shape and values, with NaNs and the signs of zeros in the same places.

    The bits of a NaN may differ. For the mean of an empty group, torch
    divides 0 by 0, which gives a NaN with the sign bit set on x86 CPUs, while
    numpy writes np.nan, whose sign bit is clear.
    """
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)
    if actual.dtype.kind == "f":
        numbers = ~np.isnan(expected)
        np.testing.assert_array_equal(np.signbit(actual[numbers]), np.signbit(expected[numbers]))


CROSS_INDEX_OPERATIONS = {
    "gather": GATHER_ROLES,
    "scatter": SCATTER_ROLES,
    "gather_scatter": GATHER_SCATTER_ROLES,
}


@needs_torch
@pytest.mark.parametrize("operation", CROSS_INDEX_OPERATIONS)
@settings(max_examples=300, deadline=None, report_multiple_bugs=False)
@given(data=st.data())
def test_index_operations_torch_equals_numpy(operation, data):
    case = data.draw(index_cases(CROSS_INDEX_OPERATIONS[operation], TORCH, values="full_range"))
    options = {"check_bounds": case.check_bounds, **case.sizes}

    expected = getattr(NUMPY, operation)(case.arr, case.ind, case.pattern, case.agg, **options)
    actual = getattr(TORCH, operation)(case.arr, case.ind, case.pattern, case.agg, **options)

    assert_identical(actual, expected)


@needs_torch
@pytest.mark.parametrize("operation", ["argmax", "argmin", "argsort"])
@settings(max_examples=200, deadline=None, report_multiple_bugs=False)
@given(data=st.data())
def test_arg_operations_torch_equals_numpy(operation, data):
    # Inputs contain the values 0, 1 and 2 only, so most groups tie, and floats are sometimes NaN.
    case = data.draw(arg_cases(sort=operation == "argsort", backend=TORCH, dtypes=CROSS_ARG_DTYPES))
    options = {"order_axis": case.order_axis} if operation == "argsort" else {}

    expected = getattr(NUMPY, operation)(case.x, case.pattern, **options)
    actual = getattr(TORCH, operation)(case.x, case.pattern, **options)

    assert_identical(actual, expected)
