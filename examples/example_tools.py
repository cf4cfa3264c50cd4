"""Helpers shared by the example scripts: backends, checks, timing and the outcome record.

Each example module defines `run(backend)`, which returns an `Outcome`, and
`main()`, which runs every available backend, prints the report and exits
with status 1 when a check fails. `run_all.py` calls `run` for the one-line
report of `make demo`.
"""

import dataclasses
import sys
import time

import numpy as np


def available_backends():
    """Return the backends to run: numpy, and torch when torch and eindex_codegen.torch import."""
    backends = ["numpy"]
    try:
        import torch  # noqa: F401

        import eindex_codegen.torch  # noqa: F401
    except ImportError:
        return backends
    backends.append("torch")
    return backends


def to_backend(array, backend):
    """Return `array` as a numpy array or as a CPU torch tensor of the same dtype."""
    if backend == "numpy":
        return np.asarray(array)
    import torch

    return torch.from_numpy(np.ascontiguousarray(array))


def to_numpy(value):
    """Return a numpy copy of a numpy array or a torch tensor (detached from autograd)."""
    if type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def one_like(array):
    """Return a 0-d array of ones with the dtype and backend of `array`, for counting scatters."""
    if type(array).__module__.startswith("torch"):
        return array.new_ones(())
    return np.ones((), dtype=array.dtype)


def arange_like(array, stop):
    """Return the int64 range [0, stop) on the backend of `array`."""
    if type(array).__module__.startswith("torch"):
        import torch

        return torch.arange(stop, device=array.device)
    return np.arange(stop)


def replace_nan(array, value):
    """Return a copy of `array` with every NaN replaced by `value`, on the same backend."""
    if type(array).__module__.startswith("torch"):
        import torch

        return torch.where(torch.isnan(array), value, array)
    return np.where(np.isnan(array), value, array)


def observed_mask(array):
    """Return 1.0 where `array` is a number and 0.0 where it is NaN, in the dtype of `array`."""
    if type(array).__module__.startswith("torch"):
        import torch

        return (~torch.isnan(array)).to(array.dtype)
    return (~np.isnan(array)).astype(array.dtype)


def best_time(function, min_repeats=3, budget_seconds=0.3):
    """Call `function` repeatedly and return (its last result, the fastest call in seconds).

    The first call is left out of the timing because it compiles the patterns
    that are not yet cached. Calls stop after `min_repeats` timed calls once
    `budget_seconds` has passed.
    """
    result = function()
    fastest = float("inf")
    started = time.perf_counter()
    repeats = 0
    while repeats < min_repeats or time.perf_counter() - started < budget_seconds:
        before = time.perf_counter()
        result = function()
        fastest = min(fastest, time.perf_counter() - before)
        repeats += 1
        if repeats >= 100:
            break
    return result, fastest


class Checks:
    """A list of failed comparisons between the eindex_codegen result and the plain one."""

    def __init__(self):
        self.failures = []
        self.count = 0

    def equal(self, name, actual, expected):
        """Record a failure unless `actual` has the shape and values of `expected` (NaN equals NaN)."""
        self.count += 1
        actual = to_numpy(actual)
        expected = np.asarray(expected)
        if actual.shape != expected.shape:
            self.failures.append(f"{name}: shape {actual.shape}, expected {expected.shape}")
            return
        differ = actual != expected
        if np.issubdtype(actual.dtype, np.floating) and np.issubdtype(expected.dtype, np.floating):
            differ &= ~(np.isnan(actual) & np.isnan(expected))
        if differ.any():
            position = tuple(int(axis[0]) for axis in np.nonzero(differ))
            self.failures.append(
                f"{name}: {np.count_nonzero(differ)} of {differ.size} values differ, first at "
                f"{position}: {actual[position]!r}, expected {expected[position]!r}"
            )

    def close(self, name, actual, expected, tolerance):
        """Record a failure unless `actual` matches `expected` to an absolute `tolerance`."""
        self.count += 1
        actual = to_numpy(actual)
        expected = np.asarray(expected)
        if actual.shape != expected.shape:
            self.failures.append(f"{name}: shape {actual.shape}, expected {expected.shape}")
            return
        both_nan = np.isnan(actual) & np.isnan(expected)
        difference = np.where(both_nan, 0.0, np.abs(actual - expected))
        worst = np.nanmax(difference, initial=0.0) if difference.size else 0.0
        if np.isnan(difference).any() or worst > tolerance:
            self.failures.append(
                f"{name}: differs from the plain result by up to {worst:.3e} "
                f"(tolerance {tolerance:.0e}), or NaN in only one of them"
            )

    def true(self, name, condition, message):
        """Record `message` as a failure unless `condition` holds."""
        self.count += 1
        if not condition:
            self.failures.append(f"{name}: {message}")


@dataclasses.dataclass
class Outcome:
    """The result of one example on one backend: its report, its checks and its times."""

    example: str
    backend: str
    summary: str
    report: list
    checks: Checks
    eindex_seconds: float
    plain_seconds: float
    plain_name: str = "numpy"

    @property
    def failures(self):
        return self.checks.failures


def format_seconds(seconds):
    """Format a duration in the unit that keeps three significant digits readable."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def print_outcome(outcome):
    """Print the full report of one backend's run, then its checks and times."""
    print(f"== {outcome.example}, {outcome.backend} backend ==")
    for line in outcome.report:
        print(line)
    if outcome.failures:
        for failure in outcome.failures:
            print(f"CHECK FAILED: {failure}")
    else:
        print(f"checks: all {outcome.checks.count} passed")
    print(
        f"time: eindex_codegen ({outcome.backend}) {format_seconds(outcome.eindex_seconds)}, "
        f"plain {outcome.plain_name} {format_seconds(outcome.plain_seconds)}\n"
    )


def run_backends(run):
    """Run `run(backend)` for every available backend and print each report; return True on a failure."""
    failed = False
    for backend in available_backends():
        outcome = run(backend)
        print_outcome(outcome)
        failed = failed or bool(outcome.failures)
    if "torch" not in available_backends():
        print("torch backend: skipped, because torch or eindex_codegen.torch does not import")
    return failed


def run_script(run):
    """Run `run(backend)` for every available backend, print each report, exit 1 on a failure."""
    if run_backends(run):
        sys.exit(1)
