"""A profile of small calls: the steps of the generated code, each timed alone.

The small-size targets compare a whole call with hand-written code that
makes one or two numpy or torch calls of 2 to 5 us. This script times that
hand-written code, the whole call through `eindex_codegen`, and each check
the generated function makes before its work, with the arguments it makes
it with. The checks alone show which fixed costs exceed the 2x budget.
Steps timed alone run faster than inside a call, where they share the caches,
so the parts add up to less than the whole.

Run it with `.venv/bin/python benchmarks/profile_small.py`; it takes about 5 seconds.
"""

import timeit

import eindex_codegen as eindex
import numpy as np
import torch
from eindex_codegen import api
from eindex_codegen.runtime import numpy_runtime, torch_runtime

GATHER = "b h w c, [h, w] b t -> b t c"
SCATTER = "n c, [k] n -> k c"

# (label, statement) per case. Each statement runs in the namespace that `_inputs` returns.
GATHER_STEPS = [
    ("hand-written: fancy indexing", "{gather_baseline}"),
    ("eindex_codegen, whole call", "eindex.gather(arr, ind, GATHER)"),
    ("eindex_codegen, check_bounds=False", "eindex.gather(arr, ind, GATHER, check_bounds=False)"),
    ("  dispatch: backend and module lookup", "api.compiled('gather', GATHER, api.backend_of(arr, ind))"),
    ("  array type and dimensions", "{check_array}; runtime.check_ndim(arr, AXES, 'array', GATHER)"),
    ("  index rows", "runtime.index_rows(ind, ('h', 'w'), ('b', 't'), {device}GATHER)"),
    ("  index sizes", "runtime.check_index_size(ind.shape[1:], 0, 'b', 2, GATHER)"),
    ("  bounds check", "runtime.check_bounds(rows, (4, 4), ('h', 'w'), GATHER)"),
]

SCATTER_STEPS = [
    ("hand-written: add into zeros", "{scatter_baseline}"),
    ("eindex_codegen, whole call", "eindex.scatter(arr, ind, SCATTER, k=4)"),
    ("eindex_codegen, check_bounds=False", "eindex.scatter(arr, ind, SCATTER, check_bounds=False, k=4)"),
    ("  dispatch: backend and module lookup", "api.compiled('scatter', SCATTER, api.backend_of(arr, ind), agg='sum')"),
    ("  array type and dimensions", "{check_array}; runtime.check_ndim(arr, ('n', 'c'), 'array', SCATTER)"),
    ("  index rows", "runtime.index_rows(ind, ('k',), ('n',), {device}SCATTER)"),
    ("  index sizes", "runtime.check_index_size(ind.shape[1:], 0, 'n', 16, SCATTER)"),
    ("  keyword sizes", "runtime.check_keywords({{'k': 4}}, {{'n': 16, 'c': 8}}, ['k'], SCATTER)"),
    ("  bounds check", "runtime.check_bounds(rows, (4,), ('k',), SCATTER)"),
]

BACKENDS = {
    "numpy": {
        "check_array": "runtime.as_array(arr, 'array', PATTERN)",
        "device": "",
        "gather_baseline": "arr[(np.arange(2)[:, None], *ind)]",
        "scatter_baseline": "out = np.zeros((4, 8), np.float32); np.add.at(out, ind[0], arr)",
    },
    "torch": {
        "check_array": "runtime.check_tensor(arr, 'array', PATTERN)",
        "device": "arr.device, ",
        "gather_baseline": "arr[(torch.arange(2)[:, None], *ind.unbind(0))]",
        "scatter_baseline": "arr.new_zeros((4, 8)).index_add_(0, ind[0], arr)",
    },
}


def _inputs(backend, operation):
    """Return the namespace of one case: the benchmark's small inputs and the names the steps use."""
    rng = np.random.default_rng(0)
    if operation == "gather":
        arr, ind, pattern = rng.random((2, 4, 4, 8), np.float32), rng.integers(0, 4, (2, 2, 3)), GATHER
    else:
        arr, ind, pattern = rng.random((16, 8), np.float32), rng.integers(0, 4, (1, 16)), SCATTER
    runtime = numpy_runtime
    if backend == "torch":
        arr, ind, runtime = torch.from_numpy(arr), torch.from_numpy(ind), torch_runtime
    device = (arr.device,) if backend == "torch" else ()
    brackets = ("h", "w") if operation == "gather" else ("k",)
    index_axes = ("b", "t") if operation == "gather" else ("n",)
    rows, _ = runtime.index_rows(ind, brackets, index_axes, *device, pattern)
    return {"np": np, "torch": torch, "eindex": eindex, "api": api, "runtime": runtime,
            "arr": arr, "ind": ind, "rows": rows, "GATHER": GATHER, "SCATTER": SCATTER,
            "PATTERN": pattern, "AXES": ("b", "h", "w", "c")}


def _microseconds(statement, namespace):
    """Return the fastest of 7 samples of 2,000 calls, in us per call."""
    samples = timeit.repeat(statement, globals=namespace, number=2000, repeat=7)
    return min(samples) / 2000 * 1e6


def profile(backend, operation, steps):
    namespace = _inputs(backend, operation)
    print(f"\n{operation}, small, {backend}")
    baseline = None
    for label, template in steps:
        statement = template.format(**BACKENDS[backend])
        time = _microseconds(statement, namespace)
        baseline = baseline or time
        print(f"  {label:<40} {time:6.2f} us  {time / baseline:5.2f}x the hand-written code")
    print(f"  {'budget at 2x the hand-written code':<40} {2 * baseline:6.2f} us")


def main():
    torch.set_num_threads(1)
    for backend in BACKENDS:
        profile(backend, "gather", GATHER_STEPS)
        profile(backend, "scatter", SCATTER_STEPS)


if __name__ == "__main__":
    main()
