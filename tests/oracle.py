"""Brute-force reference implementation of the six eindex operations.

Each function loops over every value of every axis with `itertools.product`
and reads or writes one element at a time, so it is slow but can be checked
by eye. It imports nothing from eindex_codegen. It accepts only valid patterns
and valid indexes, and checks them with plain asserts at most.

Semantics of gather, scatter and gather_scatter: for every combination of the
axes outside the brackets, the coordinate of each bracketed axis is read from
the index at the position of the index axes. The array is read at the free
coordinates plus the bracketed coordinates of the array's axes, and the value
is aggregated into the result at the free coordinates plus the bracketed
coordinates of the result's axes. Result cells that receive no value get the
identity of the aggregation.
"""

import itertools

import numpy as np

AGGREGATIONS = ("sum", "mean", "min", "max")


def parse_index_pattern(pattern):
    """Split `ARRAY, [BRACKETS] INDEX -> RESULT` into four lists of axis names."""
    left, right = pattern.split("->")
    array_text, index_text = left.split(",", 1)
    bracket_text, index_axes_text = index_text.split("]")
    bracket_text = bracket_text.replace("[", "")
    brackets = [name.strip() for name in bracket_text.split(",")]
    return array_text.split(), brackets, index_axes_text.split(), right.split()


def parse_arg_pattern(pattern):
    """Split `INPUT -> [FOUND] OTHER` into three lists of axis names."""
    left, right = pattern.split("->")
    found_text, other_text = right.split("]")
    found_text = found_text.replace("[", "")
    found = [name.strip() for name in found_text.split(",")]
    return left.split(), found, other_text.split()


def index_rows(ind):
    """Return the index as a list of arrays, one per bracketed axis."""
    if isinstance(ind, (list, tuple)):
        return [np.asarray(row) for row in ind]
    return [ind[k] for k in range(ind.shape[0])]


def read_row(row, position):
    """Read one index row at `position`, stretching its size-1 dimensions."""
    stretched = tuple(0 if row.shape[d] == 1 else p for d, p in enumerate(position))
    return int(row[stretched])


def infer_sizes(arr, rows, array_axes, index_axes, keyword_sizes):
    """Return the size of every axis: from the array, else the index, else a keyword."""
    sizes = dict(zip(array_axes, arr.shape))
    for d, axis in enumerate(index_axes):
        if axis in sizes:
            continue
        # Numpy broadcasting: every size other than 1 must agree, and 1 alone stays 1.
        row_sizes = {row.shape[d] for row in rows} - {1}
        assert len(row_sizes) <= 1, f"index rows disagree on axis {axis}: {row_sizes}"
        sizes[axis] = row_sizes.pop() if row_sizes else 1
    for axis, size in keyword_sizes.items():
        sizes.setdefault(axis, size)
    return sizes


def identity(agg, dtype):
    """Return the value of an aggregation over no values."""
    if agg == "sum":
        return 0
    if agg == "mean":
        return np.nan
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return info.max if agg == "min" else info.min
    return np.inf if agg == "min" else -np.inf


def accumulation_dtype(dtype):
    """Return the dtype that sums are carried in: float32 for half precision."""
    if np.issubdtype(dtype, np.floating) and np.dtype(dtype).itemsize < 4:
        return np.dtype(np.float32)
    return np.dtype(dtype)


def wrap_integer(value, dtype):
    """Wrap a Python int into the range of an integer dtype, as fixed-width addition does."""
    info = np.iinfo(dtype)
    span = int(info.max) - int(info.min) + 1
    return (value - int(info.min)) % span + int(info.min)


def is_nan(value):
    return isinstance(value, (float, np.floating)) and bool(np.isnan(value))


def aggregate(values, agg, dtype):
    """Aggregate the values that landed in one result cell, in the order they arrived."""
    if agg is None:
        assert len(values) == 1, f"gather without agg read {len(values)} values for one cell"
        return values[0]
    if not values:
        return identity(agg, dtype)

    if agg in ("min", "max"):
        if any(is_nan(value) for value in values):
            return np.nan
        return min(values) if agg == "min" else max(values)

    if np.issubdtype(dtype, np.integer):
        assert agg == "sum", "mean needs a floating input"
        return wrap_integer(sum(int(value) for value in values), dtype)

    # Floats: add one value at a time in the accumulation dtype, like a scatter-add.
    carrier = accumulation_dtype(dtype).type
    total = carrier(0)
    for value in values:
        total = carrier(total + carrier(value))
    if agg == "sum":
        return total
    return carrier(total / carrier(len(values)))


def index_operation(arr, ind, pattern, agg, keyword_sizes):
    """Run gather, scatter or gather_scatter by visiting every axis value."""
    arr = np.asarray(arr)
    array_axes, brackets, index_axes, result_axes = parse_index_pattern(pattern)
    rows = index_rows(ind)
    assert len(rows) == len(brackets)
    for row in rows:
        assert row.ndim == len(index_axes)
    sizes = infer_sizes(arr, rows, array_axes, index_axes, keyword_sizes)

    all_axes = dict.fromkeys(array_axes + index_axes + result_axes)
    free_axes = [axis for axis in all_axes if axis not in brackets]
    cells = {}
    for free_values in itertools.product(*(range(sizes[axis]) for axis in free_axes)):
        coordinates = dict(zip(free_axes, free_values))
        position = tuple(coordinates[axis] for axis in index_axes)
        for axis, row in zip(brackets, rows):
            if axis.startswith("_"):
                continue
            coordinate = read_row(row, position)
            assert 0 <= coordinate < sizes[axis], f"{axis}={coordinate} out of range {sizes[axis]}"
            coordinates[axis] = coordinate
        value = arr[tuple(coordinates[axis] for axis in array_axes)]
        cell = tuple(coordinates[axis] for axis in result_axes)
        cells.setdefault(cell, []).append(value)

    result_shape = [sizes[axis] for axis in result_axes]
    result = np.empty(result_shape, dtype=arr.dtype)
    for cell in itertools.product(*(range(size) for size in result_shape)):
        result[cell] = aggregate(cells.get(cell, []), agg, arr.dtype)
    return result


def gather(arr, ind, pattern, agg=None):
    return index_operation(arr, ind, pattern, agg, {})


def scatter(arr, ind, pattern, agg="sum", **sizes):
    return index_operation(arr, ind, pattern, agg, sizes)


def gather_scatter(arr, ind, pattern, agg="sum", **sizes):
    return index_operation(arr, ind, pattern, agg, sizes)


def found_positions(sizes, found_axes):
    """Return every position over the found axes, the first bracketed axis varying slowest."""
    return list(itertools.product(*(range(sizes[axis]) for axis in found_axes)))


def read_input(x, input_axes, coordinates):
    return x[tuple(coordinates[axis] for axis in input_axes)]


def arg_extreme(x, pattern, is_better):
    """Return, for each combination of the other axes, the first position of the best value."""
    x = np.asarray(x)
    input_axes, found_axes, other_axes = parse_arg_pattern(pattern)
    sizes = dict(zip(input_axes, x.shape))
    positions = found_positions(sizes, found_axes)
    assert positions, "a zero-size found axis has no position"

    result = np.empty([len(found_axes)] + [sizes[axis] for axis in other_axes], dtype=np.int64)
    for other_values in itertools.product(*(range(sizes[axis]) for axis in other_axes)):
        coordinates = dict(zip(other_axes, other_values))
        best_position = None
        best_value = None
        for position in positions:
            coordinates.update(zip(found_axes, position))
            value = read_input(x, input_axes, coordinates)
            if best_position is None or is_better(value, best_value):
                best_position, best_value = position, value
        for k, coordinate in enumerate(best_position):
            result[(k, *other_values)] = coordinate
    return result


def greater(value, best):
    """Order for argmax: a NaN beats every number, and the first NaN is kept."""
    if is_nan(best):
        return False
    return is_nan(value) or value > best


def less(value, best):
    """Order for argmin: a NaN beats every number, and the first NaN is kept."""
    if is_nan(best):
        return False
    return is_nan(value) or value < best


def argmax(x, pattern):
    return arg_extreme(x, pattern, greater)


def argmin(x, pattern):
    return arg_extreme(x, pattern, less)


def argsort(x, pattern, order_axis="order"):
    """Sort positions over the found axes by value, stably, NaNs last."""
    x = np.asarray(x)
    input_axes, found_axes, other_axes = parse_arg_pattern(pattern)
    sizes = dict(zip(input_axes, x.shape))
    positions = found_positions(sizes, found_axes)
    sizes[order_axis] = len(positions)
    batch_axes = [axis for axis in other_axes if axis != order_axis]

    result = np.empty([len(found_axes)] + [sizes[axis] for axis in other_axes], dtype=np.int64)
    for batch_values in itertools.product(*(range(sizes[axis]) for axis in batch_axes)):
        coordinates = dict(zip(batch_axes, batch_values))
        values = []
        for position in positions:
            coordinates.update(zip(found_axes, position))
            values.append(read_input(x, input_axes, coordinates))

        # Python's sort is stable, and the key puts NaNs after every number.
        def sort_key(i, values=values):
            return (True, 0) if is_nan(values[i]) else (False, values[i])

        order = sorted(range(len(positions)), key=sort_key)
        for rank, i in enumerate(order):
            coordinates[order_axis] = rank
            cell = tuple(coordinates[axis] for axis in other_axes)
            for k, coordinate in enumerate(positions[i]):
                result[(k, *cell)] = coordinate
    return result
