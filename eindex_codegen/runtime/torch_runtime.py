"""Run-time checks and helpers for generated torch modules.

The checks that only compare shapes, sizes and keywords are the numpy
backend's, so both backends word their errors alike. Everything here runs
under torch.compile(fullgraph=True): shapes, dtypes and devices become
guards, and no check reads tensor data back to Python except the CPU
bounds check outside torch.compile.
"""

import itertools

import torch

from eindex_codegen.runtime.numpy_runtime import (
    check_found_size,
    check_index_size,
    check_keywords,
    check_ndim,
    fail,
    fail_out_of_range,
)
from eindex_codegen.syntax import normalize_name

# check_keywords normalises keyword names with unicodedata, which torch.compile cannot trace.
# The name is a constant, so torch.compile may run the function while tracing and keep the result.
torch.compiler.assume_constant_result(normalize_name)

__all__ = [
    "NO_INDEX_SELECT",
    "accumulator",
    "cast",
    "check_bounds",
    "check_float",
    "check_found_size",
    "check_index_size",
    "check_keywords",
    "check_ndim",
    "check_tensor",
    "identity",
    "index_rows",
    "mean",
    "orderable",
    "widened",
]

# Array dtypes whose single elements torch 2.13 cannot index_select (whole rows it can).
NO_INDEX_SELECT = (torch.uint16, torch.uint32, torch.uint64)

_INTEGER_DTYPES = (
    torch.int8, torch.int16, torch.int32, torch.int64,
    torch.uint8, torch.uint16, torch.uint32, torch.uint64,
)


def _type_name(value):
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def check_tensor(value, part, pattern):
    """Raise unless `value` is a torch tensor: numpy arrays belong to the numpy backend."""
    if not isinstance(value, torch.Tensor):
        fail(f"the {part} is a {_type_name(value)}, not a torch tensor: pass torch tensors for "
             "every argument, or numpy arrays for every argument to the top-level functions "
             "(eindex_codegen.gather and the others), which then use numpy", pattern)


def _integer_tensor(value, description, device, pattern):
    """Return `value` after checking that it is an integer tensor on `device`."""
    if not isinstance(value, torch.Tensor):
        fail(f"{description} is a {_type_name(value)}, but the array is a torch tensor: pass torch "
             "tensors for every argument, or numpy arrays for every argument", pattern)
    if value.requires_grad:
        fail(f"{description} has requires_grad=True (dtype {value.dtype}), but an index holds "
             "integer positions, which have no gradient: pass an integer tensor, for example "
             "ind.detach().long()", pattern)
    if value.dtype not in _INTEGER_DTYPES:
        fail(f"{description} has dtype {value.dtype}; an index must have an integer dtype", pattern)
    if value.device != device:
        fail(f"{description} is on device {value.device}, but the array is on {device}: "
             f"move it there first, for example with .to({str(device)!r})", pattern)
    return value


def _as_int64(row):
    """Return `row` as int64, or as uint64 when it contains a value past the int64 range.

    Such a value is out of range for any axis. Kept unsigned, it reaches the
    bounds check intact, which reports it with the size of its axis; int64
    would wrap it to a negative number. Finding it reads a value back from the
    tensor, so it is looked for eagerly on the CPU only: on other devices, and
    under torch.compile, such values wrap, and the bounds check then reports
    the wrapped value.
    """
    if (row.dtype == torch.uint64 and row.device.type == "cpu" and row.numel()
            and not torch.compiler.is_compiling()):
        wrapped = row.view(torch.int64)  # torch 2.13 has no max() kernel for uint64
        if bool((wrapped < 0).any()):
            return row
    return row.to(torch.int64)


def _broadcast_shape(rows, names, pattern):
    """Return the shape that `rows` broadcast to, or raise naming each row's shape."""
    shape = []
    for sizes in zip(*(row.shape for row in rows)):
        size = 1
        for other in sizes:
            if other != 1 and size not in (1, other):
                shapes = ", ".join(f"{name}: {tuple(row.shape)}" for name, row in zip(names, rows))
                fail(f"the index rows do not broadcast to one shape ({shapes})", pattern)
            size = size if other == 1 else other
        shape.append(size)
    return torch.Size(shape)


def index_rows(ind, names, index_axes, device, pattern):
    """Return the index rows as int64 tensors broadcast to one shape, and that shape.

    The rows come back as a tuple or a list of tensors. `ind` is either one
    integer tensor shaped (len(names), *index_axes) or a list/tuple of
    integer tensors, one per bracketed axis, each with
    len(index_axes) dimensions. Every tensor must lie on `device`, the
    array's device, and must not require grad.
    """
    n_rows, ndim = len(names), len(index_axes)
    # The common case, a valid stacked int64 tensor, needs no conversion. Returning its rows at
    # once took 3.3 us against 6.0 us through the full checks below (2 rows, torch 2.13). The
    # rows are counted with shape[0], because len() of a tensor runs Python code (0.4 us).
    if (type(ind) is torch.Tensor and ind.dtype == torch.int64 and ind.ndim == ndim + 1
            and ind.shape[0] == n_rows and ind.device == device and not ind.requires_grad):
        return ind.unbind(0), ind.shape[1:]
    if isinstance(ind, (list, tuple)):
        if len(ind) != n_rows:
            fail(f"the index is a {type(ind).__name__} of {len(ind)} tensors, but the brackets "
                 f"[{', '.join(names)}] need {n_rows}", pattern)
        rows = [_as_int64(_integer_tensor(row, f"index row {name!r}", device, pattern))
                for name, row in zip(names, ind)]
        for name, row in zip(names, rows):
            if row.ndim != ndim:
                fail(f"index row {name!r} has {row.ndim} dimensions {tuple(row.shape)}, but the index "
                     f"axes are {ndim}: {' '.join(index_axes) or '(none)'}", pattern)
        shape = _broadcast_shape(rows, names, pattern)
        return [row.expand(shape) for row in rows], shape

    stacked = _integer_tensor(ind, "the index", device, pattern)
    if stacked.ndim != ndim + 1:
        layout = f"({', '.join(names)}) {' '.join(index_axes)}".rstrip()
        fail(f"the index has {stacked.ndim} dimensions {tuple(stacked.shape)}, but the pattern "
             f"needs {ndim + 1}: {layout}", pattern)
    if stacked.shape[0] != n_rows:
        fail(f"the index has {stacked.shape[0]} rows along its first axis, but the brackets "
             f"[{', '.join(names)}] need {n_rows}", pattern)
    return [_as_int64(row) for row in stacked.unbind(0)], stacked.shape[1:]


def check_bounds(rows, sizes, names, pattern):
    """Raise unless every coordinate in each index row lies in [0, size).

    `rows` is what `index_rows` returned; `sizes` and `names` follow the
    brackets, with a size of None for an ignored row (`_`).

    Eagerly on CPU, this raises EindexError naming the first offending value.
    Reading that value back would make a CUDA call wait for the GPU and would
    break the graph under torch.compile, so on any other device, and under
    torch.compile, the check is `torch._assert_async` instead, which reads
    nothing back. On CPU it raises RuntimeError with the message below. On
    CUDA it is a device-side assertion, which, as torch documents for
    `_assert_async`, fails at a later CUDA call and leaves the process unable
    to use CUDA. The message names the axis but not its
    size, because a size in the text would make torch.compile specialise the
    graph on it.
    """
    # Every row lies on the array's device, so the first row shows where they all are.
    eager_cpu = rows[0].device.type == "cpu" and not torch.compiler.is_compiling()
    for row, size, axis in zip(rows, sizes, names):
        if size is None:
            continue
        if eager_cpu:
            _check_cpu_row(row, size, axis, pattern)
            continue
        # One line: inductor copies the message into generated C++ source, which breaks on a newline.
        inside = ((row >= 0) & (row < size)).all()
        torch._assert_async(inside, f"an index value is out of range for axis {axis!r}; coordinates "
                                    f"must lie in [0, size of {axis!r}); pattern: {pattern}")


# Up to this many values, a CPU row is read into Python and compared there. For 16 values that
# took 0.9 us against 1.8 us for aminmax and item(), and aminmax wins from about 48 values (torch
# 2.13, one thread). A whole small scatter took 12.4 against 13.8 us, a small gather 18.9 against 19.8 us.
_FEW_VALUES = 32


def _check_cpu_row(row, size, axis, pattern):
    """Raise EindexError unless every coordinate in `row`, a CPU tensor, lies in [0, size)."""
    # Both ends are found first; only a fault pays for the search of an offending value.
    # Comparing Python numbers read back with item() took 1.9 us per axis against 5.0 us
    # for comparing the tensors (torch 2.13, 6 int64 values). Viewing the rows as numpy arrays
    # and checking them there took 2.7 us on its own, but made a whole small gather 2.5 us slower
    # than aminmax, and a large one 7 us slower.
    count = row.numel()
    if count == 0:
        return
    if row.dtype == torch.uint64:
        # Only a row with a value past the int64 range stays uint64 (see _as_int64). torch 2.13
        # has no min or max for uint64, so that value is found as a negative int64.
        wrapped = row.view(torch.int64)
        fail_out_of_range(wrapped[wrapped < 0][0].item() + 2**64, size, axis, pattern)
    if count <= _FEW_VALUES:
        values = row.tolist() if row.ndim else [row.item()]
        # Flattened in Python: 0.9 us against 1.5 us through reshape(-1) for a row of 2 x 3.
        for _ in range(row.ndim - 1):
            values = list(itertools.chain.from_iterable(values))
        low, high = min(values), max(values)
    else:
        low, high = torch.aminmax(row)
        low, high = low.item(), high.item()
    if low < 0 or high >= size:
        fail_out_of_range(row[(row < 0) | (row >= size)][0].item(), size, axis, pattern)


def check_float(array, pattern):
    if not (array.dtype.is_floating_point or array.dtype.is_complex):
        fail(f"agg='mean' needs a floating-point array, got dtype {array.dtype}; "
             "convert it first, for example with .to(torch.float32)", pattern)


def orderable(tensor):
    """Return `tensor` as uint8 if it is bool, which torch.argmax and torch.argmin reject.

    False < True holds for 0 < 1, so the positions found are the same.
    """
    return tensor.to(torch.uint8) if tensor.dtype == torch.bool else tensor


# The dtype to add each narrow dtype in (see accumulator for the reason).
_WIDER = {
    torch.float16: torch.float32, torch.bfloat16: torch.float32,
    torch.uint16: torch.int64, torch.uint32: torch.int64, torch.uint64: torch.int64,
}


def accumulator(dtype):
    """Return the dtype to add `dtype` in: float32 for half precision, int64 for wide unsigned types.

    Summing half precision in half precision stalls once the total is large
    (2048 + 1 == 2048 in float16). torch 2.13 has no addition kernels for
    uint16, uint32 and uint64, and int64 wraps around exactly as they would,
    so the sum cast back is the same.
    """
    return _WIDER.get(dtype, dtype)


def widened(values):
    """Return `values` in the dtype to add them in: itself, or a copy in its accumulator dtype."""
    dtype = _WIDER.get(values.dtype)
    return values if dtype is None else values.to(dtype)


def cast(tensor, dtype):
    """Return `tensor` in `dtype`, itself when it has that dtype already.

    `tensor.to(dtype)` returns the tensor itself too, but its argument parsing
    took 0.9 us against 0.1 us for this comparison (torch 2.13).
    """
    return tensor if tensor.dtype == dtype else tensor.to(dtype)


def identity(dtype, agg):
    """Return the value of a min or max over nothing in `dtype`: +-inf, or the integer limit."""
    if dtype == torch.bool:
        return agg == "min"
    if dtype.is_floating_point:
        return float("inf") if agg == "min" else float("-inf")
    limits = torch.iinfo(dtype)
    return limits.max if agg == "min" else limits.min


def mean(sums, counts, dtype):
    """Return sums / counts cast to `dtype`: an empty group sums to 0, and 0 / 0 gives NaN.

    `counts` is an int64 tensor or a Python int. torch's type promotion
    converts it to the dtype of `sums` before dividing.
    """
    return cast(sums / counts, dtype)
