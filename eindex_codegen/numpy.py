"""The six operations for numpy arrays, with the signatures of `eindex.numpy` (eindex 0.1.0).

Code written for eindex switches with one import:

    import eindex_codegen.numpy as EX      # was: import eindex.numpy as EX

Unlike the top-level functions, these always use the numpy backend, so a torch
tensor passed here is an error rather than dispatched to torch.
"""

from eindex_codegen.api import compiled

__all__ = ["argmax", "argmin", "argsort", "gather", "gather_scatter", "scatter"]


def argmax(tensor, pattern, /):
    return compiled("argmax", pattern, "numpy")(tensor)


def argmin(tensor, pattern, /):
    return compiled("argmin", pattern, "numpy")(tensor)


def argsort(tensor, pattern, /, *, order_axis="order"):
    return compiled("argsort", pattern, "numpy", order_axis=order_axis)(tensor)


def gather(arr, ind, pattern, /, agg=None, *, check_bounds=True):
    return compiled("gather", pattern, "numpy", agg=agg)(arr, ind, check_bounds=check_bounds)


def scatter(arr, ind, pattern, /, agg="sum", *, check_bounds=True, **axis_sizes):
    return compiled("scatter", pattern, "numpy", agg=agg)(arr, ind, check_bounds=check_bounds, **axis_sizes)


def gather_scatter(arr, ind, pattern, /, agg="sum", *, check_bounds=True, **axis_sizes):
    function = compiled("gather_scatter", pattern, "numpy", agg=agg)
    return function(arr, ind, check_bounds=check_bounds, **axis_sizes)
