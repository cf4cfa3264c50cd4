"""The jobs of the benchmark, their sizes, and every variant that computes each job.

A case is one job at one size. Building a case makes its inputs (float32
values from a seeded generator, int64 indices) and a list of variants. The
variants are the hand-written candidates of `handwritten.py`, eindex_codegen
through its public functions, eindex 0.1.0 and einx 0.4.3. Each runs on numpy,
and the hand-written candidates and eindex_codegen on torch too, where torch
is installed. Inputs are built only when the case runs, so that one large
case at a time is in memory.
"""

import functools
import importlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import handwritten

HAND = "hand-written"
CODEGEN = "eindex_codegen"
CODEGEN_UNCHECKED = "eindex_codegen, check_bounds=False"
EINDEX = "eindex 0.1.0"
EINX = "einx 0.4.3"

# Column order of the tables: the hand-written baseline first, then the libraries.
LIBRARIES = (HAND, CODEGEN, CODEGEN_UNCHECKED, EINDEX, EINX)
BACKENDS = ("numpy", "torch")


@dataclass
class Variant:
    backend: str  # "numpy" or "torch"
    library: str  # one of LIBRARIES
    strategy: str  # what the code does, for hand-written candidates and composite library calls
    function: Callable | None  # None when the library cannot run this job
    unavailable: str = ""  # why `function` is None


@dataclass
class Case:
    job: str  # the row label: operation and options
    size: str  # "small", "medium" or "large"
    dims: dict  # axis sizes, for the table
    pattern: str
    build: Callable  # build(libraries) -> (variants, inputs); inputs must not change when run

    @property
    def dims_text(self):
        return " ".join(f"{name}={value:,}" for name, value in self.dims.items())


@dataclass
class Libraries:
    """The modules the variants call; None where a library is not installed."""

    codegen: object
    codegen_torch: object = None
    torch: object = None
    eindex: object = None
    einx: object = None
    missing: dict = field(default_factory=dict)  # library -> why it is missing

    @classmethod
    def load(cls):
        import eindex_codegen

        libraries = cls(codegen=eindex_codegen)
        for attribute, module_name, library in (
            ("torch", "torch", "torch"),
            ("codegen_torch", "eindex_codegen.torch", f"{CODEGEN} torch"),
            ("eindex", "eindex.numpy", EINDEX),
            ("einx", "einx", EINX),
        ):
            try:
                setattr(libraries, attribute, importlib.import_module(module_name))
            except ImportError as error:
                libraries.missing[library] = f"not importable: {error}"
        if libraries.torch is None:
            libraries.codegen_torch = None
        else:
            # One thread, as numpy has for these operations.
            libraries.torch.set_num_threads(1)
        return libraries

    def version(self, module_name):
        module = {"eindex": self.eindex, "einx": self.einx, "torch": self.torch}[module_name]
        if module is None:
            return "not installed"
        if module_name == "eindex":
            from importlib.metadata import version

            return version("eindex")
        return module.__version__


def _rng(job, size):
    """Return a generator seeded from the case's name, so every run uses the same inputs."""
    return np.random.default_rng(zlib.crc32(f"{job}/{size}".encode()))


def _indices(rng, high, shape):
    return rng.integers(0, high, shape, dtype=np.int64)


def _values(rng, shape):
    return rng.standard_normal(shape, dtype=np.float32)


def _library_variants(libraries, backend, hand, codegen_call, eindex_call=None,
                      einx_call=None, einx_strategy="", einx_unavailable=""):
    """Return the variants of one backend: hand-written candidates, then each library.

    `codegen_call(check_bounds)` runs eindex_codegen, with and without bounds
    checks, so that the table shows what the checks cost at every size. eindex
    0.1.0 and einx are timed for numpy only.
    """
    variants = [Variant(backend, HAND, name, function) for name, function in hand.items()]
    variants.append(Variant(backend, CODEGEN, "", functools.partial(codegen_call, True)))
    variants.append(Variant(backend, CODEGEN_UNCHECKED, "", functools.partial(codegen_call, False)))
    if backend != "numpy":
        return variants

    if libraries.eindex is None:
        variants.append(Variant(backend, EINDEX, "", None, libraries.missing[EINDEX]))
    else:
        variants.append(Variant(backend, EINDEX, "", eindex_call))
    if libraries.einx is None:
        variants.append(Variant(backend, EINX, "", None, libraries.missing[EINX]))
    elif einx_call is None:
        variants.append(Variant(backend, EINX, "", None, einx_unavailable))
    else:
        variants.append(Variant(backend, EINX, einx_strategy, einx_call))
    return variants


def _torch_variants(libraries, hand, codegen_call):
    if libraries.torch is None:
        return []
    if libraries.codegen_torch is None:
        unavailable = libraries.missing[f"{CODEGEN} torch"]
        return [*(Variant("torch", HAND, name, function) for name, function in hand.items()),
                Variant("torch", CODEGEN, "", None, unavailable)]
    return _library_variants(libraries, "torch", hand, codegen_call)


# gather, with or without agg='mean', over any number of indexed axes


def gather_case(job, size, dims, indexed, agg=None):
    """gather 'b <indexed> c, [<indexed>] b t -> b t c' (or '-> b c' with agg='mean')."""
    result = "b c" if agg else "b t c"
    pattern = f"b {' '.join(indexed)} c, [{', '.join(indexed)}] b t -> {result}"
    case = Case(job, size, dims, pattern, None)
    case.build = functools.partial(_build_gather, case, indexed, agg)
    return case


def _build_gather(case, indexed, agg, libraries):
    dims = case.dims
    rng = _rng(case.job, case.size)
    arr = _values(rng, (dims["b"], *(dims[axis] for axis in indexed), dims["c"]))
    ind = np.stack([_indices(rng, dims[axis], (dims["b"], dims["t"])) for axis in indexed])

    codegen = libraries.codegen
    einx_pattern = f"b [{' '.join(indexed)}] c, [{len(indexed)}] b t -> b t c"

    def codegen_numpy(check_bounds):
        return codegen.gather(arr, ind, case.pattern, agg=agg, check_bounds=check_bounds)

    def eindex_numpy():
        return libraries.eindex.gather(arr, ind, case.pattern, agg=agg)

    if agg is None:
        hand = handwritten.numpy_gather_candidates(arr, ind)

        def einx_numpy():
            return libraries.einx.get_at(einx_pattern, arr, ind)

        einx_strategy = ""
    else:
        hand = handwritten.numpy_gather_mean_candidates(arr, ind)

        def einx_numpy():
            return libraries.einx.mean("b [t] c", libraries.einx.get_at(einx_pattern, arr, ind))

        einx_strategy = "einx.get_at, then einx.mean"

    variants = _library_variants(libraries, "numpy", hand, codegen_numpy, eindex_numpy,
                                 einx_numpy, einx_strategy)

    if libraries.torch is not None:
        arr_t, ind_t = libraries.torch.from_numpy(arr), libraries.torch.from_numpy(ind)
        torch_hand = handwritten.torch_candidates(libraries.torch)
        hand_t = torch_hand.gather(arr_t, ind_t) if agg is None else torch_hand.gather_mean(arr_t, ind_t)

        def codegen_torch(check_bounds):
            return libraries.codegen_torch.gather(arr_t, ind_t, case.pattern, agg=agg,
                                                  check_bounds=check_bounds)

        variants += _torch_variants(libraries, hand_t, codegen_torch)
    return variants, [arr, ind]


# scatter 'n c, [k] n -> k c'


def scatter_case(size, dims, agg):
    case = Case(f"scatter {agg}", size, dims, "n c, [k] n -> k c", None)
    case.build = functools.partial(_build_scatter, case, agg)
    return case


def _build_scatter(case, agg, libraries):
    n, width, k = case.dims["n"], case.dims["c"], case.dims["k"]
    rng = _rng(case.job, case.size)
    arr = _values(rng, (n, width))
    ind = _indices(rng, k, (1, n))

    hand = {name: functools.partial(handwritten.scatter_from_index, kernel, arr, ind, k)
            for name, kernel in handwritten.numpy_scatter_kernels(agg).items()}

    def codegen_numpy(check_bounds):
        return libraries.codegen.scatter(arr, ind, case.pattern, agg=agg, check_bounds=check_bounds, k=k)

    def eindex_numpy():
        return libraries.eindex.scatter(arr, ind, case.pattern, agg=agg, k=k)

    einx_call, einx_strategy, einx_unavailable = _einx_scatter(libraries, agg, arr, ind, k)
    variants = _library_variants(libraries, "numpy", hand, codegen_numpy, eindex_numpy,
                                 einx_call, einx_strategy, einx_unavailable)

    if libraries.torch is not None:
        torch = libraries.torch
        arr_t, ind_t = torch.from_numpy(arr), torch.from_numpy(ind)
        hand_t = {name: functools.partial(handwritten.scatter_from_index, kernel, arr_t, ind_t, k)
                  for name, kernel in handwritten.torch_candidates(torch).scatter_kernels(agg).items()}

        def codegen_torch(check_bounds):
            return libraries.codegen_torch.scatter(arr_t, ind_t, case.pattern, agg=agg,
                                                   check_bounds=check_bounds, k=k)

        variants += _torch_variants(libraries, hand_t, codegen_torch)
    return variants, [arr, ind]


def _einx_scatter(libraries, agg, arr, ind, k):
    """Return (call, strategy, reason unavailable) for einx's version of a scatter."""
    einx = libraries.einx
    if agg in ("min", "max"):
        return None, "", "einx 0.4.3 has no min or max scatter (only get_at, set_at, add_at, subtract_at)"

    def sums():
        return einx.add_at("[k] c, [1] n, n c -> [k] c", np.zeros((k, arr.shape[1]), arr.dtype), ind, arr)

    if agg == "sum":
        return sums, "", ""

    def mean():
        counts = einx.add_at("[k], [1] n, n -> [k]", np.zeros(k, arr.dtype), ind,
                             np.ones(arr.shape[0], arr.dtype))
        with np.errstate(invalid="ignore"):
            return sums() / counts[:, None]

    return mean, "einx.add_at of values and of ones, then a division", ""


# scatter with several indexed axes and a batch axis: 'b n c, [y, x] b n -> b y x c'


def grid_scatter_case(size, dims):
    case = Case("scatter sum, [y, x] with batch b", size, dims, "b n c, [y, x] b n -> b y x c", None)
    case.build = functools.partial(_build_grid_scatter, case)
    return case


def _build_grid_scatter(case, libraries):
    b, n, width, height_y, width_x = (case.dims[axis] for axis in ("b", "n", "c", "y", "x"))
    rng = _rng(case.job, case.size)
    arr = _values(rng, (b, n, width))
    ind = np.stack([_indices(rng, height_y, (b, n)), _indices(rng, width_x, (b, n))])
    n_rows = b * height_y * width_x
    out_shape = (b, height_y, width_x, width)

    def row_kernel(kernel):
        # The flat row index is computed inside the call, so that its cost is timed.
        def call():
            flat = handwritten.flat_rows(b, ind, (height_y, width_x)).reshape(-1)
            return kernel(arr.reshape(-1, width), flat, n_rows).reshape(out_shape)

        return call

    def add_at_tuple():
        out = np.zeros(out_shape, arr.dtype)
        np.add.at(out, (np.arange(b)[:, None], ind[0], ind[1]), arr)
        return out

    hand = {"np.add.at with a tuple of index arrays": add_at_tuple}
    hand.update({f"flat row index, then {name}": row_kernel(kernel)
                 for name, kernel in handwritten.numpy_scatter_kernels("sum").items()})

    def codegen_numpy(check_bounds):
        return libraries.codegen.scatter(arr, ind, case.pattern, check_bounds=check_bounds,
                                         y=height_y, x=width_x)

    def eindex_numpy():
        return libraries.eindex.scatter(arr, ind, case.pattern, y=height_y, x=width_x)

    def einx_numpy():
        return libraries.einx.add_at("b [y x] c, [2] b n, b n c -> b [y x] c",
                                     np.zeros(out_shape, arr.dtype), ind, arr)

    variants = _library_variants(libraries, "numpy", hand, codegen_numpy, eindex_numpy,
                                 einx_numpy)

    if libraries.torch is not None:
        torch = libraries.torch
        torch_hand = handwritten.torch_candidates(torch)
        arr_t, ind_t = torch.from_numpy(arr), torch.from_numpy(ind)

        def torch_row_kernel(kernel):
            def call():
                flat = torch_hand.flat_rows(b, ind_t.unbind(0), (height_y, width_x)).reshape(-1)
                return kernel(arr_t.reshape(-1, width), flat, n_rows).reshape(out_shape)

            return call

        def index_put_tuple():
            out = arr_t.new_zeros(out_shape)
            return out.index_put_((torch.arange(b)[:, None], *ind_t.unbind(0)), arr_t, accumulate=True)

        hand_t = {"index_put_(accumulate=True) with a tuple of index tensors": index_put_tuple}
        hand_t.update({f"flat row index, then {name}": torch_row_kernel(kernel)
                       for name, kernel in torch_hand.scatter_kernels("sum").items()})

        def codegen_torch(check_bounds):
            return libraries.codegen_torch.scatter(arr_t, ind_t, case.pattern, check_bounds=check_bounds,
                                                   y=height_y, x=width_x)

        variants += _torch_variants(libraries, hand_t, codegen_torch)
    return variants, [arr, ind]


# gather_scatter 'vin c, [vin, vout] edge -> vout c'


def gather_scatter_case(size, dims, agg):
    case = Case(f"gather_scatter {agg}", size, dims, "vin c, [vin, vout] edge -> vout c", None)
    case.build = functools.partial(_build_gather_scatter, case, agg)
    return case


def _build_gather_scatter(case, agg, libraries):
    nodes, edges, width = case.dims["nodes"], case.dims["edges"], case.dims["c"]
    rng = _rng(case.job, case.size)
    arr = _values(rng, (nodes, width))
    ind = _indices(rng, nodes, (2, edges))

    hand = handwritten.numpy_gather_scatter_candidates(arr, ind, nodes, agg)

    def codegen_numpy(check_bounds):
        return libraries.codegen.gather_scatter(arr, ind, case.pattern, agg=agg,
                                                check_bounds=check_bounds, vout=nodes)

    def eindex_numpy():
        return libraries.eindex.gather_scatter(arr, ind, case.pattern, agg=agg, vout=nodes)

    def einx_sums():
        einx = libraries.einx
        values = einx.get_at("[vin] c, edge -> edge c", arr, ind[0])
        return einx.add_at("[vout] c, edge, edge c -> [vout] c", np.zeros_like(arr), ind[1], values)

    def einx_mean():
        counts = libraries.einx.add_at("[vout], edge, edge -> [vout]", np.zeros(nodes, arr.dtype), ind[1],
                                       np.ones(edges, arr.dtype))
        with np.errstate(invalid="ignore"):
            return einx_sums() / counts[:, None]

    if agg == "sum":
        einx_call, einx_strategy = einx_sums, "einx.get_at, then einx.add_at"
    else:
        einx_call, einx_strategy = einx_mean, "einx.get_at, einx.add_at of values and of ones, a division"

    variants = _library_variants(libraries, "numpy", hand, codegen_numpy, eindex_numpy,
                                 einx_call, einx_strategy)

    if libraries.torch is not None:
        torch = libraries.torch
        arr_t, ind_t = torch.from_numpy(arr), torch.from_numpy(ind)
        hand_t = handwritten.torch_candidates(torch).gather_scatter(arr_t, ind_t, nodes, agg)

        def codegen_torch(check_bounds):
            return libraries.codegen_torch.gather_scatter(arr_t, ind_t, case.pattern, agg=agg,
                                                          check_bounds=check_bounds, vout=nodes)

        variants += _torch_variants(libraries, hand_t, codegen_torch)
    return variants, [arr, ind]


# argmax 'b h w t -> [h, w] b t'


def argmax_case(size, dims):
    case = Case("argmax", size, dims, "b h w t -> [h, w] b t", None)
    case.build = functools.partial(_build_argmax, case)
    return case


def _build_argmax(case, libraries):
    x = _values(_rng(case.job, case.size), tuple(case.dims[axis] for axis in ("b", "h", "w", "t")))
    hand = handwritten.numpy_argmax_candidates(x)

    variants = _library_variants(
        libraries, "numpy", hand,
        lambda check_bounds: libraries.codegen.argmax(x, case.pattern),
        lambda: libraries.eindex.argmax(x, case.pattern),
        lambda: libraries.einx.argmax("b [h w] t -> [2] b t", x),
    )
    # argmax has no bounds to check, so its unchecked variant would time the same call twice.
    variants = [variant for variant in variants if variant.library != CODEGEN_UNCHECKED]

    if libraries.torch is not None:
        x_t = libraries.torch.from_numpy(x)
        hand_t = handwritten.torch_candidates(libraries.torch).argmax(x_t)
        variants += [variant for variant in _torch_variants(
            libraries, hand_t, lambda check_bounds: libraries.codegen_torch.argmax(x_t, case.pattern))
            if variant.library != CODEGEN_UNCHECKED]
    return variants, [x]


# argsort 't b w -> [w] t b order'


def argsort_case(size, dims):
    case = Case("argsort", size, dims, "t b w -> [w] t b order", None)
    case.build = functools.partial(_build_argsort, case)
    return case


def _build_argsort(case, libraries):
    # Each row is a permutation of 0 .. w-1, so it has no ties and the unstable sorts of
    # eindex 0.1.0 and einx return the same order as a stable one.
    shape = tuple(case.dims[axis] for axis in ("t", "b", "w"))
    x = _rng(case.job, case.size).random(shape).argsort(axis=-1).astype(np.float32)
    hand = handwritten.numpy_argsort_candidates(x)

    variants = _library_variants(
        libraries, "numpy", hand,
        lambda check_bounds: libraries.codegen.argsort(x, case.pattern),
        lambda: libraries.eindex.argsort(x, case.pattern),
        lambda: libraries.einx.argsort("t b [w] -> t b [w]", x)[None],
        einx_strategy="einx.argsort, which calls np.argsort's default unstable sort",
    )
    variants = [variant for variant in variants if variant.library != CODEGEN_UNCHECKED]
    for variant in variants:
        if variant.library == EINDEX:
            variant.strategy = "np.argsort's default unstable sort"

    if libraries.torch is not None:
        x_t = libraries.torch.from_numpy(x)
        hand_t = handwritten.torch_candidates(libraries.torch).argsort(x_t)
        variants += [variant for variant in _torch_variants(
            libraries, hand_t, lambda check_bounds: libraries.codegen_torch.argsort(x_t, case.pattern))
            if variant.library != CODEGEN_UNCHECKED]
    return variants, [x]


# The sizes. Small and large gather and scatter sizes are those of the performance targets.

GATHER_SIZES = {
    "small": {"b": 2, "h": 4, "w": 4, "c": 8, "t": 3},
    "medium": {"b": 8, "h": 32, "w": 32, "c": 32, "t": 64},
    "large": {"b": 32, "h": 64, "w": 64, "c": 64, "t": 256},
}
VIDEO_GATHER_SIZES = {
    "small": {"b": 2, "f": 3, "h": 4, "w": 4, "c": 8, "t": 3},
    "large": {"b": 8, "f": 16, "h": 32, "w": 32, "c": 32, "t": 1024},
}
SCATTER_SIZES = {
    "small": {"n": 16, "c": 8, "k": 4},
    "medium": {"n": 10_000, "c": 16, "k": 256},
    "large": {"n": 200_000, "c": 32, "k": 64},
}
GRID_SCATTER_SIZES = {
    "small": {"b": 2, "n": 16, "c": 4, "y": 4, "x": 4},
    "large": {"b": 8, "n": 50_000, "c": 16, "y": 64, "x": 64},
}
GATHER_SCATTER_SIZES = {
    "small": {"nodes": 16, "edges": 48, "c": 8},
    "medium": {"nodes": 5_000, "edges": 50_000, "c": 16},
    "large": {"nodes": 100_000, "edges": 1_000_000, "c": 32},
}
ARGMAX_SIZES = {
    "small": {"b": 2, "h": 4, "w": 4, "t": 3},
    "medium": {"b": 8, "h": 32, "w": 32, "t": 16},
    "large": {"b": 16, "h": 64, "w": 64, "t": 128},
}
ARGSORT_SIZES = {
    "small": {"t": 3, "b": 2, "w": 16},
    "medium": {"t": 16, "b": 8, "w": 256},
    "large": {"t": 64, "b": 32, "w": 1024},
}
SIZES = ("small", "medium", "large")


def all_cases(sizes=SIZES):
    """Return every case whose size is in `sizes`, grouped by job."""
    cases = []

    def add(table, make):
        cases.extend(make(size, table[size]) for size in SIZES if size in sizes and size in table)

    add(GATHER_SIZES, lambda size, dims: gather_case("gather", size, dims, ("h", "w")))
    add(GATHER_SIZES, lambda size, dims: gather_case("gather agg=mean", size, dims, ("h", "w"), "mean"))
    add(VIDEO_GATHER_SIZES,
        lambda size, dims: gather_case("gather, [f, h, w] with batch b", size, dims, ("f", "h", "w")))
    for agg in ("sum", "mean", "min", "max"):
        add(SCATTER_SIZES, functools.partial(scatter_case, agg=agg))
    add(GRID_SCATTER_SIZES, grid_scatter_case)
    for agg in ("sum", "mean"):
        add(GATHER_SCATTER_SIZES, functools.partial(gather_scatter_case, agg=agg))
    add(ARGMAX_SIZES, argmax_case)
    add(ARGSORT_SIZES, argsort_case)
    return cases
