"""Run-time checks and helpers for generated numpy modules.

Each check raises `EindexError` naming the axis, the expected and the actual
size, and the pattern.
"""

import operator

import numpy as np

from eindex_codegen.errors import EindexError
from eindex_codegen.syntax import normalize_name

_INT64_MAX = np.iinfo(np.int64).max

# The axes of a stacked index after its first, by its number of dimensions: reducing over them
# leaves one value per row. Built once, because building the tuple on each call costs 0.2 us.
_ROW_AXES = [tuple(range(1, ndim)) for ndim in range(65)]


def fail(message, pattern):
    raise EindexError(f"{message}\n    pattern: {pattern}")


def as_array(value, part, pattern):
    """Return `value` as a numpy array; reject torch tensors, which belong to the torch backend."""
    if type(value) is np.ndarray:
        return value
    if type(value).__module__.startswith("torch"):
        fail(f"the {part} is a torch tensor but this is the numpy backend: pass numpy arrays "
             "for every argument, or torch tensors for every argument", pattern)
    return np.asarray(value)


def check_ndim(array, axes, part, pattern):
    if array.ndim != len(axes):
        fail(f"the {part} has {array.ndim} dimensions {tuple(array.shape)}, but the pattern names "
             f"{len(axes)}: {' '.join(axes) or '(none, a 0-d array)'}", pattern)


def _integer_array(value, description, pattern):
    array = as_array(value, description, pattern)
    if array.dtype.kind not in "iu":
        fail(f"{description} has dtype {array.dtype}; an index must have an integer dtype", pattern)
    return array


def _as_int64(row):
    """Return `row` as int64, or as native uint64 when it contains a value past the int64 range.

    Such a value is out of range for any axis. Kept unsigned, it reaches the
    bounds check intact, which reports it with the size of its axis; int64
    would wrap it to a negative number.
    """
    if row.dtype.kind == "u" and row.dtype.itemsize == 8 and row.size and row.max() > _INT64_MAX:
        return row.astype(np.uint64, copy=False)
    return row.astype(np.int64, copy=False)


def index_rows(ind, names, index_axes, pattern):
    """Return the index rows as int64 arrays broadcast to one shape, and that shape.

    The rows come back as one stacked array or as a list of arrays; either
    gives row i as `rows[i]`. `ind` is either one integer array shaped
    (len(names), *index_axes) or a list/tuple of integer arrays, one per
    bracketed axis, each with len(index_axes) dimensions.
    """
    n_rows, ndim = len(names), len(index_axes)
    if type(ind) is np.ndarray and ind.dtype == np.int64 and ind.ndim == ndim + 1 and len(ind) == n_rows:
        # The common case, checked in the fewest steps. The stacked array itself is returned, so
        # that check_bounds can reduce all its rows at once.
        return ind, ind.shape[1:]
    if isinstance(ind, (list, tuple)):
        if len(ind) != n_rows:
            fail(f"the index is a {type(ind).__name__} of {len(ind)} arrays, but the brackets "
                 f"[{', '.join(names)}] need {n_rows}", pattern)
        rows = [_as_int64(_integer_array(row, f"index row {name!r}", pattern)) for name, row in zip(names, ind)]
        for name, row in zip(names, rows):
            if row.ndim != ndim:
                fail(f"index row {name!r} has {row.ndim} dimensions {tuple(row.shape)}, but the index "
                     f"axes are {ndim}: {' '.join(index_axes) or '(none)'}", pattern)
        try:
            rows = np.broadcast_arrays(*rows)
        except ValueError:
            shapes = ", ".join(f"{name}: {tuple(row.shape)}" for name, row in zip(names, rows))
            fail(f"the index rows do not broadcast to one shape ({shapes})", pattern)
        return rows, rows[0].shape

    stacked = _integer_array(ind, "the index", pattern)
    if stacked.ndim != ndim + 1:
        layout = f"({', '.join(names)}) {' '.join(index_axes)}".rstrip()
        fail(f"the index has {stacked.ndim} dimensions {tuple(stacked.shape)}, but the pattern "
             f"needs {ndim + 1}: {layout}", pattern)
    if stacked.shape[0] != n_rows:
        fail(f"the index has {stacked.shape[0]} rows along its first axis, but the brackets "
             f"[{', '.join(names)}] need {n_rows}", pattern)
    return [_as_int64(row) for row in stacked], stacked.shape[1:]


def check_index_size(index_shape, dim, axis, size, pattern):
    if index_shape[dim] not in (size, 1):
        fail(f"axis {axis!r} has size {size} in the array but {index_shape[dim]} in the index; "
             f"expected {size} (or 1, which broadcasts)", pattern)


def check_keywords(sizes, known, needed, pattern):
    """Check keyword sizes: every keyword an axis, each an integer >= 0 that matches the inputs."""
    given = {}
    for name, value in sizes.items():
        name = name if name.isascii() else normalize_name(name)
        if name not in known and name not in needed:
            fail(f"keyword {name}={value!r} names no axis of the pattern; its axes are "
                 f"{', '.join(sorted(set(known) | set(needed)))}", pattern)
        # A Python int needs no conversion: the common case, taken first.
        given[name] = value if type(value) is int and value >= 0 else _size_value(name, value, pattern)
        if name in known and given[name] != known[name]:
            fail(f"axis {name!r} has size {known[name]} in the inputs, but the keyword gives {value}",
                 pattern)
    missing = [name for name in needed if name not in given]
    if missing:
        fail(f"no input shows the size of {', '.join(map(repr, missing))}: pass it as a keyword, "
             f"for example {missing[0]}=10", pattern)
    return [given[name] for name in needed]


def _size_value(name, value, pattern):
    """Return a keyword size as an int: Python, numpy and 0-d torch integers pass, bools do not."""
    if isinstance(value, (bool, np.bool_)) or str(getattr(value, "dtype", "")) == "torch.bool":
        fail(f"size of axis {name!r} must be an integer >= 0, got {value!r}, a bool", pattern)
    try:
        size = operator.index(value)
    except TypeError:
        fail(f"size of axis {name!r} must be an integer >= 0, got {value!r} of type {type(value).__name__}",
             pattern)
    if size < 0:
        fail(f"size of axis {name!r} must be an integer >= 0, got {size}", pattern)
    return size


# Up to this many values, a stacked index is checked in Python: 1.4 us against 2.1 us for one
# numpy reduction at 2 rows of 6 values, and as fast at 4 rows of 6 (numpy 2.4, 2 x86 cores).
_FEW_VALUES = 24


def check_bounds(rows, sizes, names, pattern):
    """Raise unless every coordinate in each index row lies in [0, size).

    `rows` is what `index_rows` returned; `sizes` and `names` follow the
    brackets, with a size of None for an ignored row (`_`).
    """
    # Viewed as unsigned, a negative coordinate is huge, so one max() finds both kinds of fault.
    if type(rows) is np.ndarray:
        if rows.size == 0:
            return
        if rows.size <= _FEW_VALUES:
            _check_few(rows, sizes, names, pattern)
            return
        # One reduction over the stacked rows. The whole check took 2.1 us for 2 rows of 6 values
        # and 4.2 us for 3 rows of 8,192, against 2.9 and 7.2 us with one max() per row (numpy 2.4
        # on 2 x86 cores).
        largest = np.maximum.reduce(rows.view(np.uint64), axis=_ROW_AXES[rows.ndim]).tolist()
    else:
        # -1 stands for a row with nothing to check, which passes any size.
        largest = [row.view(np.uint64).max() if size is not None and row.size else -1
                   for row, size in zip(rows, sizes)]
    # The rows themselves are only looked at on a fault: iterating over an array costs 0.6 us.
    for position, (high, size) in enumerate(zip(largest, sizes)):
        if size is not None and high >= size:
            _fail_outside(rows[position], size, names[position], pattern)


def _check_few(rows, sizes, names, pattern):
    """Check a small stacked index with Python's min and max, which beat a numpy reduction there."""
    for position, (values, size) in enumerate(zip(rows.reshape(len(rows), -1).tolist(), sizes)):
        if size is not None and (min(values) < 0 or max(values) >= size):
            _fail_outside(rows[position], size, names[position], pattern)


def _fail_outside(row, size, axis, pattern):
    fail_out_of_range(row[(row < 0) | (row >= size)].flat[0], size, axis, pattern)


def fail_out_of_range(value, size, axis, pattern):
    """Raise the error for a coordinate outside its axis, worded alike by both backends."""
    fail(f"index value {value} is out of range for axis {axis!r} of size {size}; "
         f"coordinates must lie in [0, {size})", pattern)


def check_float(array, pattern):
    if array.dtype.kind not in "fc":
        fail(f"agg='mean' needs a floating-point array, got dtype {array.dtype}; "
             "convert it first, for example with .astype(np.float64)", pattern)


def check_found_size(sizes, names, operation, pattern):
    if 0 in sizes:
        shown = ", ".join(f"{name}={size}" for name, size in zip(names, sizes))
        fail(f"{operation} over an empty [{', '.join(names)}] ({shown}) has no position", pattern)


def accumulator(dtype):
    """Return the dtype to accumulate `dtype` in: float32 for float16, else `dtype` itself.

    Summing float16 in float16 stalls once the total is large (2048 + 1 == 2048).
    """
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def identity(dtype, agg):
    """Return the value of a min or max over nothing in `dtype`: +-inf, or the integer limit."""
    if dtype.kind in "iu":
        limits = np.iinfo(dtype)
        return limits.max if agg == "min" else limits.min
    if dtype.kind == "b":
        return agg == "min"
    return np.inf if agg == "min" else -np.inf


def mean(sums, counts, dtype):
    """Return sums / counts in `dtype`, NaN where the count is 0."""
    # np.empty and fill take 0.3 us against 1.0 us for np.full and np.shape (numpy 2.4).
    means = np.empty(sums.shape, dtype=sums.dtype)
    means.fill(np.nan)
    np.divide(sums, counts, out=means, where=np.asarray(counts) > 0)
    return means.astype(dtype, copy=False)
