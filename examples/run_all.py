"""Run every example on every available backend and print one line per example.

Each line gives what the example computed, whether every check against the
plain implementation passed on every backend, and the time of the
eindex_codegen version beside the plain one. The plain version is numpy
(scipy.sparse for the graph example) on both backends, so the torch column
compares eindex_codegen on torch tensors with the same plain numpy code.
Times are the fastest of several calls after a first call that compiles the
patterns. For k-means, the time is that of the fastest of its 20 iterations
plus that of the confusion matrix.

NOTE: torch runs its CPU operations on an OpenMP thread pool. On a machine
whose cores are busy with other processes, those threads wait for each other,
and the torch times grow many times over (seen on a 2-core machine: 11 ms
became 380 ms for the graph example). `OMP_NUM_THREADS=1` avoids that.

The script exits with status 1 when any check fails or any example raises.
Run it with `python examples/run_all.py`; the examples need scikit-learn and
matplotlib, and the torch column needs torch.
"""

import importlib
import sys
import time
import traceback

from example_tools import available_backends, format_seconds

EXAMPLES = [
    ("1", "kmeans_digits"),
    ("2", "nearest_neighbours"),
    ("3", "graph_smoothing"),
    ("4", "image_match"),
    ("5", "relative_position_bias"),
    ("6", "stock_records"),
]


def run_example(module_name, backends):
    """Run one example on `backends` and return ({backend: outcome}, [failure lines])."""
    outcomes, failures = {}, []
    # Any exception, from the example or the library, is reported as that example's failure so
    # that the other examples still run.
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001
        return outcomes, [f"import failed:\n{traceback.format_exc()}"]
    for backend in backends:
        try:
            outcome = module.run(backend)
        except Exception:  # noqa: BLE001
            failures.append(f"{backend}: raised\n{traceback.format_exc()}")
            continue
        outcomes[backend] = outcome
        failures.extend(f"{backend}: {failure}" for failure in outcome.failures)
    return outcomes, failures


def format_line(number, module_name, outcomes, failures):
    """Return the report line of one example."""
    # The torch run, when there is one, reports everything the numpy run does and more.
    last = list(outcomes.values())[-1] if outcomes else None
    title = last.example if last else module_name
    summary = last.summary if last else "did not run"
    result = "FAILED" if failures else "ok"
    times = [
        f"{backend}: eindex {format_seconds(outcome.eindex_seconds)} vs "
        f"{outcome.plain_name} {format_seconds(outcome.plain_seconds)}"
        for backend, outcome in outcomes.items()
    ]
    return f"{number} {title}: {summary} | {result} | {'; '.join(times)}"


def main():
    started = time.perf_counter()
    backends = available_backends()
    print(f"backends: {', '.join(backends)}")
    if "torch" not in backends:
        print("torch backend: skipped, because torch or eindex_codegen.torch does not import")

    all_failures = []
    for number, module_name in EXAMPLES:
        outcomes, failures = run_example(module_name, backends)
        print(format_line(number, module_name, outcomes, failures), flush=True)
        all_failures.extend(f"{number} {module_name}: {failure}" for failure in failures)

    elapsed = time.perf_counter() - started
    if all_failures:
        print(f"\n{len(all_failures)} failed checks or errors:")
        for failure in all_failures:
            print(f"  {failure}")
        print(f"total {elapsed:.1f} s")
        sys.exit(1)
    print(f"all checks passed; total {elapsed:.1f} s")


if __name__ == "__main__":
    main()
