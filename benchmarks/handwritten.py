"""Hand-written numpy and torch code for each job: the baselines of the benchmark.

Each job has several candidates, written the way an experienced user would
write them, and the benchmark times all of them: the fastest one that returns
the right values is the baseline. Every candidate produces exactly what
eindex_codegen promises for the same pattern: the array's dtype, +inf / -inf
in empty groups for min / max, NaN in empty groups for mean, first
position on ties for argmax, and a stable argsort. None of them checks
that index values are in range axis by axis, as eindex_codegen does by
default. numpy's indexing still rejects a flat index that is out of range.

The numpy candidates call array methods (`.take`, `.argsort`) rather than
the numpy functions of the same name, and fill arrays with `np.empty` and
`.fill`: np.take, np.argsort, np.stack and np.full are Python wrappers
that add 0.5 to 1 us per call, which matters at the small sizes.

Every candidate takes the stacked index that eindex_codegen takes, and
splits it into its rows inside the timed call, as eindex_codegen must.
Scatter-style kernels share one signature: `kernel(values, rows, n_rows)`
takes values shaped (n, c) and int64 row numbers shaped (n,), and returns
an (n_rows, c) array in which row r aggregates every value whose row is r;
`scatter_from_index` calls one on the first row of a stacked index.
"""

import functools
import warnings

import numpy as np

# torch.Tensor.index_reduce_ warns once per process that its API is in beta.
warnings.filterwarnings("ignore", message=r"index_reduce\(\) is in beta")


# numpy: flat positions


def filled(shape, value, dtype):
    """Return a new array of `shape` holding `value`: np.full without its Python wrapper."""
    out = np.empty(shape, dtype)
    out.fill(value)
    return out


def flat_rows(batch_size, coordinates, sizes):
    """Return the row of (b, *coordinates) in an array reshaped to (b * prod(sizes), c)."""
    rows = np.arange(batch_size)[:, None]
    for coordinate, size in zip(coordinates, sizes):
        rows = rows * size + coordinate
    return rows


def local_rows(coordinates, sizes):
    """Return the row of the coordinates inside one batch element, as for np.ravel_multi_index."""
    rows = coordinates[0]
    for coordinate, size in zip(coordinates[1:], sizes[1:]):
        rows = rows * size + coordinate
    return rows


def flat_elements(rows, width):
    """Return flat element offsets (n, width) of whole rows of a C-contiguous (?, width) array."""
    return rows[..., None] * width + np.arange(width)


# numpy: gather over a batch axis, several indexed axes and a carried axis


def numpy_gather_candidates(arr, ind):
    """Gather candidates for arr (b, *indexed, c) and ind (len(indexed), b, t) -> (b, t, c)."""
    batch_size, *sizes, width = arr.shape

    def fancy_indexing():
        return arr[(np.arange(batch_size)[:, None], *ind)]

    def take_rows():
        rows = flat_rows(batch_size, ind, sizes)
        return arr.reshape(-1, width).take(rows, axis=0)

    def take_elements():
        rows = flat_rows(batch_size, ind, sizes)
        return arr.reshape(-1).take(flat_elements(rows, width))

    def take_along_axis():
        rows = local_rows(ind, sizes)
        return np.take_along_axis(arr.reshape(batch_size, -1, width), rows[..., None], axis=1)

    def ravel_multi_index():
        rows = np.ravel_multi_index((np.arange(batch_size)[:, None], *ind), arr.shape[:-1])
        return arr.reshape(-1, width).take(rows, axis=0)

    return {
        "fancy indexing": fancy_indexing,
        "take on a flat row index": take_rows,
        "take on a flat element index": take_elements,
        "np.take_along_axis per batch": take_along_axis,
        "np.ravel_multi_index, then take": ravel_multi_index,
    }


def numpy_gather_mean_candidates(arr, ind):
    """Gather candidates followed by a mean over the index axis t: (b, t, c) -> (b, c)."""
    return {f"{name}, then .mean": _then_mean_numpy(gather)
            for name, gather in numpy_gather_candidates(arr, ind).items()}


def _then_mean_numpy(gather):
    return lambda: gather().mean(axis=1)


# numpy: scatter kernels


def numpy_add_at_2d(values, rows, n_rows):
    out = np.zeros((n_rows, values.shape[1]), values.dtype)
    np.add.at(out, rows, values)
    return out


def numpy_add_at_flat(values, rows, n_rows):
    width = values.shape[1]
    out = np.zeros(n_rows * width, values.dtype)
    np.add.at(out, flat_elements(rows, width).reshape(-1), values.reshape(-1))
    return out.reshape(n_rows, width)


def numpy_bincount_flat(values, rows, n_rows):
    # bincount sums in float64; the cast returns the array's dtype.
    width = values.shape[1]
    sums = np.bincount(flat_elements(rows, width).reshape(-1), weights=values.reshape(-1),
                       minlength=n_rows * width)
    return sums.astype(values.dtype).reshape(n_rows, width)


def numpy_bincount_per_column(values, rows, n_rows):
    out = np.empty((n_rows, values.shape[1]), values.dtype)
    for column in range(values.shape[1]):
        out[:, column] = np.bincount(rows, weights=values[:, column], minlength=n_rows)
    return out


def numpy_reduce_sorted(values, keys, n_rows, ufunc, fill):
    """Reduce runs of equal `keys` (sorted) with `ufunc.reduceat`; rows with no key get `fill`."""
    out = filled((n_rows, values.shape[1]), fill, values.dtype)
    if keys.size:
        starts = np.flatnonzero(np.diff(keys, prepend=-1))
        out[keys[starts]] = ufunc.reduceat(values, starts, axis=0)
    return out


def numpy_sort_reduceat(ufunc, fill):
    """Return a kernel that sorts by row (any order within a row), then reduces each run."""

    def kernel(values, rows, n_rows):
        order = rows.argsort()
        return numpy_reduce_sorted(values.take(order, axis=0), rows[order], n_rows, ufunc, fill)

    return kernel


def numpy_ufunc_at_2d(ufunc, fill):
    def kernel(values, rows, n_rows):
        out = filled((n_rows, values.shape[1]), fill, values.dtype)
        ufunc.at(out, rows, values)
        return out

    return kernel


def numpy_ufunc_at_flat(ufunc, fill):
    def kernel(values, rows, n_rows):
        width = values.shape[1]
        out = filled(n_rows * width, fill, values.dtype)
        ufunc.at(out, flat_elements(rows, width).reshape(-1), values.reshape(-1))
        return out.reshape(n_rows, width)

    return kernel


def numpy_mean_from(sum_kernel):
    """Return a mean kernel: `sum_kernel`'s sums divided by counts, NaN where a row has none."""

    def kernel(values, rows, n_rows):
        sums = sum_kernel(values, rows, n_rows)
        counts = np.bincount(rows, minlength=n_rows).astype(sums.dtype)
        with np.errstate(invalid="ignore"):
            return sums / counts[:, None]

    return kernel


NUMPY_SUM_KERNELS = {
    "np.add.at on a 2-d array": numpy_add_at_2d,
    "np.add.at on a flat 1-d index": numpy_add_at_flat,
    "np.bincount with weights on a flat index": numpy_bincount_flat,
    "np.bincount with weights, one call per column": numpy_bincount_per_column,
    "argsort + np.add.reduceat": numpy_sort_reduceat(np.add, 0),
}


def scatter_from_index(kernel, values, ind, n_rows):
    """Call a scatter kernel on the first row of the stacked index `ind`, numpy or torch."""
    return kernel(values, ind[0], n_rows)


def numpy_scatter_kernels(agg):
    """Return the numpy candidates {description: kernel} for one aggregation."""
    if agg == "sum":
        return dict(NUMPY_SUM_KERNELS)
    if agg == "mean":
        return {f"{name}, / np.bincount counts": numpy_mean_from(kernel)
                for name, kernel in NUMPY_SUM_KERNELS.items()}
    ufunc, fill = {"min": (np.minimum, np.inf), "max": (np.maximum, -np.inf)}[agg]
    return {
        f"np.{ufunc.__name__}.at on a 2-d array": numpy_ufunc_at_2d(ufunc, fill),
        f"np.{ufunc.__name__}.at on a flat 1-d index": numpy_ufunc_at_flat(ufunc, fill),
        f"argsort + np.{ufunc.__name__}.reduceat": numpy_sort_reduceat(ufunc, fill),
    }


def numpy_gather_scatter_candidates(arr, ind, n_rows, agg):
    """Return candidates for out[dst[e]] (agg)= arr[src[e]] over edges e, with (src, dst) = ind.

    Each is a row gather, then a kernel.

    The sort-based candidate sorts the edges by destination first, so that
    the gathered rows come out in sorted order and need no second permutation.
    """
    candidates = {f"take rows, then {name}": functools.partial(_gather_then_kernel_numpy,
                                                                  kernel, arr, ind, n_rows)
                  for name, kernel in numpy_scatter_kernels(agg).items()
                  if "argsort" not in name}
    ufunc, fill = {"sum": (np.add, 0), "mean": (np.add, 0),
                   "min": (np.minimum, np.inf), "max": (np.maximum, -np.inf)}[agg]

    def sort_by_destination():
        src, dst = ind[0], ind[1]
        order = dst.argsort()
        keys = dst[order]
        values = arr.take(src[order], axis=0)
        result = numpy_reduce_sorted(values, keys, n_rows, ufunc, fill)
        if agg == "mean":
            counts = np.bincount(dst, minlength=n_rows).astype(result.dtype)
            with np.errstate(invalid="ignore"):
                result = result / counts[:, None]
        return result

    candidates[f"argsort by destination, take rows, np.{ufunc.__name__}.reduceat"] = (
        sort_by_destination)
    return candidates


def _gather_then_kernel_numpy(kernel, arr, ind, n_rows):
    return kernel(arr.take(ind[0], axis=0), ind[1], n_rows)


# numpy: arg-reductions


def numpy_argmax_candidates(x):
    """argmax over (h, w) of x (b, h, w, t) -> int64 (2, b, t), first position on ties."""
    batch_size, height, width, tokens = x.shape

    def strided_argmax():
        flat = x.reshape(batch_size, height * width, tokens).argmax(axis=1)
        return np.array(np.divmod(flat, width))

    def contiguous_argmax():
        moved = np.ascontiguousarray(x.reshape(batch_size, height * width, tokens).transpose(0, 2, 1))
        return np.array(np.divmod(moved.argmax(axis=-1), width))

    def unravel_index():
        flat = x.reshape(batch_size, height * width, tokens).argmax(axis=1)
        return np.array(np.unravel_index(flat, (height, width)))

    return {
        "argmax over (b, h*w, t), np.divmod": strided_argmax,
        "argmax over a contiguous (b, t, h*w) copy, np.divmod": contiguous_argmax,
        "argmax over (b, h*w, t), np.unravel_index": unravel_index,
    }


def numpy_argsort_candidates(x):
    """Stable argsort along the last axis of x (t, b, w) -> int64 (1, t, b, w).

    numpy's default quicksort is faster on float32 but not stable, so it does
    not meet the same contract and is left out.
    """
    return {"argsort(kind='stable')": lambda: x.argsort(axis=-1, kind="stable")[None]}


# torch


def torch_candidates(torch):
    """Return the torch candidate builders, bound to the imported torch module."""
    return _TorchCandidates(torch)


class _TorchCandidates:
    """The torch versions of the candidates above; torch is imported only when torch is installed."""

    def __init__(self, torch):
        self.torch = torch

    def flat_rows(self, batch_size, coordinates, sizes):
        rows = self.torch.arange(batch_size)[:, None]
        for coordinate, size in zip(coordinates, sizes):
            rows = rows * size + coordinate
        return rows

    def gather(self, arr, ind):
        torch = self.torch
        batch_size, *sizes, width = arr.shape

        def fancy_indexing():
            return arr[(torch.arange(batch_size)[:, None], *ind.unbind(0))]

        def index_select():
            rows = self.flat_rows(batch_size, ind.unbind(0), sizes)
            return arr.reshape(-1, width).index_select(0, rows.reshape(-1)).reshape(*rows.shape, width)

        def gather_along_rows():
            rows = local_rows(ind.unbind(0), sizes)
            return torch.gather(arr.reshape(batch_size, -1, width), 1,
                                rows[..., None].expand(*rows.shape, width))

        def take_elements():
            rows = self.flat_rows(batch_size, ind.unbind(0), sizes)
            return torch.take(arr, rows[..., None] * width + torch.arange(width))

        return {
            "fancy indexing": fancy_indexing,
            "index_select on a flat row index": index_select,
            "torch.gather per batch": gather_along_rows,
            "torch.take on a flat element index": take_elements,
        }

    def gather_mean(self, arr, ind):
        return {f"{name}, then .mean": _then_mean_torch(gather)
                for name, gather in self.gather(arr, ind).items()}

    def scatter_kernels(self, agg):
        torch = self.torch

        def index_add(values, rows, n_rows):
            return values.new_zeros((n_rows, values.shape[1])).index_add_(0, rows, values)

        def scatter_add(values, rows, n_rows):
            out = values.new_zeros((n_rows, values.shape[1]))
            return out.scatter_add_(0, rows[:, None].expand(-1, values.shape[1]), values)

        def index_put(values, rows, n_rows):
            out = values.new_zeros((n_rows, values.shape[1]))
            return out.index_put_((rows,), values, accumulate=True)

        def bincount_flat(values, rows, n_rows):
            width = values.shape[1]
            offsets = rows[:, None] * width + torch.arange(width)
            sums = torch.bincount(offsets.reshape(-1), weights=values.reshape(-1),
                                  minlength=n_rows * width)
            return sums.to(values.dtype).reshape(n_rows, width)

        def segment_reduce(reduce, initial=None):
            def kernel(values, rows, n_rows):
                order = torch.argsort(rows)
                lengths = torch.bincount(rows, minlength=n_rows)
                return torch.segment_reduce(values.index_select(0, order), reduce, lengths=lengths,
                                            axis=0, unsafe=True, initial=initial)

            return kernel

        if agg == "sum":
            return {
                "index_add_": index_add,
                "scatter_add_ with an expanded index": scatter_add,
                "index_put_(accumulate=True)": index_put,
                "torch.bincount with weights on a flat index": bincount_flat,
                "argsort + segment_reduce": segment_reduce("sum"),
            }

        if agg == "mean":
            def index_reduce_mean(values, rows, n_rows):
                out = values.new_full((n_rows, values.shape[1]), float("nan"))
                return out.index_reduce_(0, rows, values, "mean", include_self=False)

            def scatter_reduce_mean(values, rows, n_rows):
                out = values.new_full((n_rows, values.shape[1]), float("nan"))
                index = rows[:, None].expand(-1, values.shape[1])
                return out.scatter_reduce_(0, index, values, "mean", include_self=False)

            return {
                "index_add_ / torch.bincount counts": self._mean_from(index_add),
                "scatter_add_ / torch.bincount counts": self._mean_from(scatter_add),
                "index_reduce_('mean') on a NaN-filled array": index_reduce_mean,
                "scatter_reduce_('mean') on a NaN-filled array": scatter_reduce_mean,
                "argsort + segment_reduce('mean')": segment_reduce("mean"),
            }

        reduce, fill = {"min": ("amin", float("inf")), "max": ("amax", float("-inf"))}[agg]

        def index_reduce_extreme(values, rows, n_rows):
            out = values.new_full((n_rows, values.shape[1]), fill)
            return out.index_reduce_(0, rows, values, reduce)

        def scatter_reduce_extreme(values, rows, n_rows):
            out = values.new_full((n_rows, values.shape[1]), fill)
            index = rows[:, None].expand(-1, values.shape[1])
            return out.scatter_reduce_(0, index, values, reduce)

        return {
            f"index_reduce_('{reduce}') on a {fill}-filled array": index_reduce_extreme,
            f"scatter_reduce_('{reduce}') on a {fill}-filled array": scatter_reduce_extreme,
            f"argsort + segment_reduce('{agg}')": segment_reduce(agg, initial=fill),
        }

    def _mean_from(self, sum_kernel):
        torch = self.torch

        def kernel(values, rows, n_rows):
            # An int64 count divides a float tensor as a float; 0 / 0 gives NaN.
            return sum_kernel(values, rows, n_rows) / torch.bincount(rows, minlength=n_rows)[:, None]

        return kernel

    def gather_scatter(self, arr, ind, n_rows, agg):
        """Return candidates for out[dst[e]] (agg)= arr[src[e]]; see numpy_gather_scatter_candidates."""
        torch = self.torch
        candidates = {f"index_select rows, then {name}": functools.partial(
                          _gather_then_kernel_torch, kernel, arr, ind, n_rows)
                      for name, kernel in self.scatter_kernels(agg).items()
                      if "argsort" not in name}
        reduce, initial = {"sum": ("sum", None), "mean": ("mean", None),
                           "min": ("min", float("inf")), "max": ("max", float("-inf"))}[agg]

        def sort_by_destination():
            src, dst = ind.unbind(0)
            order = torch.argsort(dst)
            lengths = torch.bincount(dst, minlength=n_rows)
            values = arr.index_select(0, src.index_select(0, order))
            return torch.segment_reduce(values, reduce, lengths=lengths, axis=0, unsafe=True,
                                        initial=initial)

        candidates[f"argsort by destination, index_select rows, segment_reduce('{reduce}')"] = (
            sort_by_destination)
        return candidates

    def argmax(self, x):
        torch = self.torch
        batch_size, height, width, tokens = x.shape

        def strided_argmax():
            flat = x.reshape(batch_size, height * width, tokens).argmax(dim=1)
            return torch.stack((flat // width, flat % width))

        def contiguous_argmax():
            moved = x.reshape(batch_size, height * width, tokens).transpose(1, 2).contiguous()
            flat = moved.argmax(dim=-1)
            return torch.stack((flat // width, flat % width))

        return {
            "argmax over (b, h*w, t), // and %": strided_argmax,
            "argmax over a contiguous (b, t, h*w) copy, // and %": contiguous_argmax,
        }

    def argsort(self, x):
        torch = self.torch
        return {
            "torch.argsort(stable=True)": lambda: torch.argsort(x, dim=-1, stable=True)[None],
            "torch.sort(stable=True).indices": lambda: torch.sort(x, dim=-1, stable=True).indices[None],
        }


def _then_mean_torch(gather):
    return lambda: gather().mean(dim=1)


def _gather_then_kernel_torch(kernel, arr, ind, n_rows):
    src, dst = ind.unbind(0)
    return kernel(arr.index_select(0, src), dst, n_rows)
