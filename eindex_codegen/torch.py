"""The six operations for torch tensors, with the signatures of `eindex.torch` (eindex 0.1.0).

Code written for eindex switches with one import:

    import eindex_codegen.torch as EX      # was: import eindex.torch as EX

These always use the torch backend, so a numpy array passed here is an
error rather than dispatched to numpy. Importing this module does not
import torch; the generated modules do, when they first run.

Generated torch code makes every new tensor on the array's device, and is
differentiable in the array argument of gather, scatter and gather_scatter
for every agg. A tied max or min splits its gradient evenly between the tied
values. Every operation compiles under torch.compile(fullgraph=True).

The bounds check raises EindexError on CPU. On CUDA it is a device-side
assertion, so that it never waits for the device: an out-of-range index stops
the process's CUDA context with "device-side assert triggered". Under
torch.compile on CPU it raises RuntimeError naming the axis.
`torch_runtime.check_bounds` gives the details.
"""

from eindex_codegen.api import compiled

__all__ = ["argmax", "argmin", "argsort", "gather", "gather_scatter", "scatter"]


def argmax(tensor, pattern, /):
    return compiled("argmax", pattern, "torch")(tensor)


def argmin(tensor, pattern, /):
    return compiled("argmin", pattern, "torch")(tensor)


def argsort(tensor, pattern, /, *, order_axis="order"):
    return compiled("argsort", pattern, "torch", order_axis=order_axis)(tensor)


def gather(arr, ind, pattern, /, agg=None, *, check_bounds=True):
    return compiled("gather", pattern, "torch", agg=agg)(arr, ind, check_bounds=check_bounds)


def scatter(arr, ind, pattern, /, agg="sum", *, check_bounds=True, **axis_sizes):
    return compiled("scatter", pattern, "torch", agg=agg)(arr, ind, check_bounds=check_bounds, **axis_sizes)


def gather_scatter(arr, ind, pattern, /, agg="sum", *, check_bounds=True, **axis_sizes):
    function = compiled("gather_scatter", pattern, "torch", agg=agg)
    return function(arr, ind, check_bounds=check_bounds, **axis_sizes)
