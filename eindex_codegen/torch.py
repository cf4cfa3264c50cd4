"""The six operations for torch tensors, with the signatures of `eindex_codegen.numpy`.

    import eindex_codegen.torch as EX
    best = EX.argmax(score, "b h w token -> [h, w] b token")

These always use the torch backend, so a numpy array passed here is an error
rather than dispatched to numpy. (eindex 0.1.0 itself has no torch module.)
Importing this module does not import torch; a generated module does when it
is first loaded.

Generated code creates every new tensor on the array's device. Gradients reach
the array argument of gather, scatter and gather_scatter for every agg, and a
tied max or min splits its gradient evenly between the tied values. Calls work
inside torch.compile(fullgraph=True), where the pattern is compiled while
torch.compile traces and the generated function is traced into the graph.

What a failed check looks like:

- Eagerly on CPU, every failure raises EindexError, an out-of-range index
  included.
- On CUDA, an out-of-range index is found by a device-side assertion, so
  that no call waits for the GPU: a later CUDA call raises "RuntimeError:
  CUDA error: device-side assert triggered", and the process cannot use CUDA
  any more. The other checks compare shapes, dtypes and devices and raise
  EindexError at once. NOTE: the CUDA tests skip without a GPU, and this
  behaviour has not yet been checked on one.
- Under torch.compile, an out-of-range index raises RuntimeError naming the
  axis (on CPU) or the device-side assertion (on CUDA). With fullgraph=True,
  any other failed check surfaces as torch._dynamo's "Observed exception"
  error, which quotes the EindexError; without fullgraph, torch.compile runs
  the call eagerly and the EindexError itself is raised. A bad pattern
  raises an error that quotes the PatternError.

NOTE: torch 2.13 has no min, max or argmax kernels for uint16, uint32 and
uint64 tensors, so agg="min" and agg="max", argmax and argmin on them raise
torch's NotImplementedError; convert such arrays to int64 first. Sums work.
Float sums on CUDA can differ from CPU results in the last bits. Scatter
sums and means use index_add, which on CUDA adds in an order that varies from
run to run unless torch.use_deterministic_algorithms(True) is set (torch 2.13
documentation).
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
