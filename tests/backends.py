"""Run one test on numpy arrays or on torch tensors with the same data.

A test takes a `Backend` (the `backend` fixture of conftest.py, or
`pytest.mark.parametrize("backend", BACKENDS)` for hypothesis tests), builds
its inputs with numpy and calls `backend.gather(...)` and the other five
operations. Each call converts the array arguments to the backend, calls the
top-level function of eindex_codegen, which dispatches on the argument type,
checks that the result has the backend's type and returns it as a numpy array.
So one expected value serves both backends.
"""

import importlib
import importlib.util

import numpy as np
import pytest

import eindex_codegen

HAVE_TORCH = importlib.util.find_spec("torch") is not None

# torch 2.13 has no min, max, argmax or argmin kernels for these dtypes, so it raises
# NotImplementedError ("max_values_cpu" not implemented for 'UInt16'). Sums and argsort work.
TORCH_WITHOUT_MIN_MAX = (np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64))


def to_backend(value, backend):
    """Return `value` converted for `backend` ("numpy" or "torch").

    numpy arrays and numpy scalars become torch tensors with the same dtype,
    shape and values. Lists and tuples are converted element by element and
    keep their type. Anything else (patterns, Python numbers, None) is
    returned unchanged.
    """
    if backend == "numpy":
        return value
    import torch

    if isinstance(value, (list, tuple)):
        return type(value)(to_backend(item, backend) for item in value)
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        # torch.from_numpy rejects negative strides and warns on read-only arrays
        # (np.broadcast_to returns one), so such arrays are copied first.
        if not value.flags.writeable or any(stride < 0 for stride in value.strides):
            value = value.copy()
        return torch.from_numpy(value)
    return value


def to_numpy(result, backend):
    """Return `result` as a numpy array after checking that `backend` returned its own type."""
    if backend == "numpy":
        assert isinstance(result, (np.ndarray, np.generic)), type(result)
        return result
    import torch

    assert isinstance(result, torch.Tensor), type(result)
    return result.numpy()


class Backend:
    """The six operations of eindex_codegen on one backend, taking and returning numpy arrays."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name

    @property
    def module(self):
        """The backend's own module, eindex_codegen.numpy or eindex_codegen.torch."""
        return importlib.import_module(f"eindex_codegen.{self.name}")

    @property
    def runtime(self):
        """The run-time module that the backend's generated code calls."""
        return importlib.import_module(f"eindex_codegen.runtime.{self.name}_runtime")

    def dtype_name(self, dtype):
        """Return how this backend prints a numpy dtype in messages: float64 or torch.float64."""
        name = np.dtype(dtype).name
        return name if self.name == "numpy" else f"torch.{name}"

    def has_min_max(self, dtype):
        """Return whether min, max, argmax and argmin work on arrays of `dtype` in this backend."""
        return self.name == "numpy" or np.dtype(dtype) not in TORCH_WITHOUT_MIN_MAX

    def skip_without_min_max(self, dtype):
        """Skip the test on torch for a dtype that has no min or max kernel in torch."""
        if not self.has_min_max(dtype):
            import torch

            pytest.skip(f"torch {torch.__version__} has no min, max, argmax or argmin kernel "
                        f"for {np.dtype(dtype).name} tensors")

    def call(self, function, *args, **kwargs):
        """Call `function` on converted positional arguments and return its result as numpy."""
        converted = [to_backend(arg, self.name) for arg in args]
        return to_numpy(function(*converted, **kwargs), self.name)

    def gather(self, *args, **kwargs):
        return self.call(eindex_codegen.gather, *args, **kwargs)

    def scatter(self, *args, **kwargs):
        return self.call(eindex_codegen.scatter, *args, **kwargs)

    def gather_scatter(self, *args, **kwargs):
        return self.call(eindex_codegen.gather_scatter, *args, **kwargs)

    def argmax(self, *args, **kwargs):
        return self.call(eindex_codegen.argmax, *args, **kwargs)

    def argmin(self, *args, **kwargs):
        return self.call(eindex_codegen.argmin, *args, **kwargs)

    def argsort(self, *args, **kwargs):
        return self.call(eindex_codegen.argsort, *args, **kwargs)


NUMPY = Backend("numpy")
TORCH = Backend("torch")

# Parameters for the `backend` fixture and for tests that cannot take a fixture (hypothesis tests).
BACKENDS = [
    pytest.param(NUMPY, id="numpy"),
    pytest.param(TORCH, id="torch",
                 marks=pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")),
]


# Every integer dtype an index may have.
INDEX_DTYPES = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
