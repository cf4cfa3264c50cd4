"""The six operations, dispatching on the array type, and the tools to read generated code."""

import numpy as np

from eindex_codegen.cache import ModuleCache, build_module_text, module_key
from eindex_codegen.options import check_options

# One table for the whole process: a pattern compiled through any entry point is reused by all.
module_cache = ModuleCache()


def _is_torch(value):
    return type(value).__module__.startswith("torch")


def backend_of(arr, ind=None):
    """Return "torch" when either argument is a torch tensor (or a list holding one), else "numpy"."""
    if type(arr) is np.ndarray and (ind is None or type(ind) is np.ndarray):
        return "numpy"  # the common case, checked first because every call pays for it
    for value in (arr, ind):
        if _is_torch(value) or isinstance(value, (list, tuple)) and any(map(_is_torch, value)):
            return "torch"
    return "numpy"


def compiled(operation, pattern, backend, agg=None, order_axis=None):
    """Return the generated function for one (operation, pattern, options, backend)."""
    return getattr(_loaded_functions, _load(operation, pattern, backend, agg, order_axis))


def _load(operation, pattern, backend, agg, order_axis):
    """Load or build the generated function, store it on `_loaded_functions`, return its attribute name."""
    function = module_cache.function(operation, pattern, backend, agg, order_axis)
    try:
        name = function._loaded_name  # kept on the function, so a repeated call builds no string
    except AttributeError:
        name = function._loaded_name = function.__module__.replace(".", "__")
    # Stored on every call: another module cache may have stored its own copy under this name.
    setattr(_loaded_functions, name, function)
    return name


class _LoadedFunctions:
    """The generated functions that `compiled` returned, one attribute each, named after the module."""


_loaded_functions = _LoadedFunctions()

# NOTE: torch.compile cannot trace the parser or the cache, so `compiled` is split in two.
# torch.compile runs a function marked with `_dynamo_marked_constant` for real while it traces,
# and keeps its result as a constant. torch.compiler.assume_constant_result sets this attribute;
# it is set by hand here so that this module does not import torch. Such a result must be a plain
# value, not a function, so `_load` returns a name, and the traced code reads the function from
# `_loaded_functions` and inlines it. Checked with torch 2.13.
_load._dynamo_marked_constant = True


def gather(arr, ind, pattern, /, agg=None, *, check_bounds=True):
    """Read `arr` at the positions in `ind`: `gather(images, best, 'b h w c, [h, w] b t -> b t c')`."""
    function = compiled("gather", pattern, backend_of(arr, ind), agg=agg)
    return function(arr, ind, check_bounds=check_bounds)


def scatter(arr, ind, pattern, /, agg="sum", *, check_bounds=True, **sizes):
    """Write `arr` into a new array at the positions in `ind`, aggregating collisions with `agg`."""
    function = compiled("scatter", pattern, backend_of(arr, ind), agg=agg)
    return function(arr, ind, check_bounds=check_bounds, **sizes)


def gather_scatter(arr, ind, pattern, /, agg="sum", *, check_bounds=True, **sizes):
    """Read `arr` at bracketed positions and write into a new array at bracketed positions, in one step."""
    function = compiled("gather_scatter", pattern, backend_of(arr, ind), agg=agg)
    return function(arr, ind, check_bounds=check_bounds, **sizes)


def argmax(x, pattern, /):
    """Return the position of the maximum over the bracketed axes: shape (len(brackets), *other axes)."""
    return compiled("argmax", pattern, backend_of(x))(x)


def argmin(x, pattern, /):
    """Return the position of the minimum over the bracketed axes: shape (len(brackets), *other axes)."""
    return compiled("argmin", pattern, backend_of(x))(x)


def argsort(x, pattern, /, *, order_axis="order"):
    """Return the positions over the bracketed axes in ascending order of value, along `order_axis`."""
    return compiled("argsort", pattern, backend_of(x), order_axis=order_axis)(x)


def source(operation, pattern, backend="numpy", **options):
    """Return the text of the generated module, exactly as the cache stores it."""
    options = check_options(operation, **options)
    return build_module_text(operation, pattern, options, backend)


def explain(operation, pattern, **options):
    """Return the plan of `pattern` for `operation` as text: one line per step with its layout."""
    from eindex_codegen.plan import build_plan

    return build_plan(operation, pattern, **options).describe()


def use_generated(package):
    """Register a package written by `eindex-gen`, so its modules are used before the disk cache.

    `package` is a module or an importable name. Returns True when the package
    was written by this compiler, False (with a warning) when it is stale.
    """
    return module_cache.registry.use(package)


def cached_path(operation, pattern, backend="numpy", **options):
    """Compile the module if needed and return the path of its file in the disk cache."""
    module_cache.function(operation, pattern, backend, **options)
    options = check_options(operation, **options)
    return module_cache.path(operation, module_key(operation, pattern, options, backend), backend)


