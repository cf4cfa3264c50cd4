"""Costs beyond the generated code: compiling, loading from the disk cache, importing, memory.

The compile, load and import figures come from child processes started with
the same Python and the benchmark's private cache folder in EINDEX_CACHE_DIR,
so that each starts from a known state. Each child prints one JSON object.
"""

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
from dataclasses import dataclass

import numpy as np

import handwritten

# Small inputs and one call per pattern, shared by the child scripts. `TAG` is
# replaced by a string that makes the axis names, and so the patterns, new.
_PATTERN_CALLS = textwrap.dedent("""
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.standard_normal((2, 4, 4, 8), dtype=np.float32)
    video = rng.standard_normal((2, 3, 4, 4, 8), dtype=np.float32)
    best = rng.integers(0, 4, (2, 2, 3))
    best3 = rng.integers(0, 3, (3, 2, 3))
    points = rng.standard_normal((16, 8), dtype=np.float32)
    clusters = rng.integers(0, 4, (1, 16))
    grid_values = rng.standard_normal((2, 16, 4), dtype=np.float32)
    grid_index = rng.integers(0, 4, (2, 2, 16))
    edges = rng.integers(0, 16, (2, 48))
    score = rng.standard_normal((2, 4, 4, 3), dtype=np.float32)
    prob = rng.standard_normal((3, 2, 16), dtype=np.float32)

    def pattern_calls(module, TAG):
        b, t, n, k, e = "b" + TAG, "t" + TAG, "n" + TAG, "k" + TAG, "e" + TAG
        return [
            lambda: module.gather(images, best, f"{b} h w c, [h, w] {b} {t} -> {b} {t} c"),
            lambda: module.gather(images, best, f"{b} h w c, [h, w] {b} {t} -> {b} c", agg="mean"),
            lambda: module.gather(video, best3, f"{b} f h w c, [f, h, w] {b} {t} -> {b} {t} c"),
            *[lambda agg=agg: module.scatter(points, clusters, f"{n} c, [{k}] {n} -> {k} c",
                                             agg=agg, **{k: 4})
              for agg in ("sum", "mean", "min", "max")],
            lambda: module.scatter(grid_values, grid_index, f"{b} {n} c, [y, x] {b} {n} -> {b} y x c",
                                   y=4, x=4),
            *[lambda agg=agg: module.gather_scatter(points, edges, f"vin c, [vin, vout] {e} -> vout c",
                                                    agg=agg, vout=16)
              for agg in ("sum", "mean")],
            lambda: module.argmax(score, f"{b} h w {t} -> [h, w] {b} {t}"),
            lambda: module.argsort(prob, f"{t} {b} w -> [w] {t} {b} order"),
        ]
""")

_CACHED_LOAD_SCRIPT = textwrap.dedent("""
    import json, sys, time

    start = time.perf_counter()
    import numpy
    numpy_imported = time.perf_counter()
    import eindex_codegen
    codegen_imported = time.perf_counter()
""") + _PATTERN_CALLS + textwrap.dedent("""
    calls = pattern_calls(eindex_codegen, "")
    first, second = [], []
    for call in calls:
        call_start = time.perf_counter()
        call()
        first.append(time.perf_counter() - call_start)
    for call in calls:
        call_start = time.perf_counter()
        call()
        second.append(time.perf_counter() - call_start)
    print(json.dumps({
        "import_numpy_s": numpy_imported - start,
        "import_codegen_s": codegen_imported - numpy_imported,
        "first_call_s": first,
        "second_call_s": second,
        "lark_imported": "lark" in sys.modules,
        "jinja2_imported": "jinja2" in sys.modules,
    }))
""")

_NEW_PATTERN_SCRIPT = textwrap.dedent("""
    import json, sys, time, uuid

    import eindex_codegen
""") + _PATTERN_CALLS + textwrap.dedent("""
    def timed(call):
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    # Letters only, so that the tag keeps the axis names valid identifiers.
    run_tag = "".join(chr(ord("a") + int(digit, 16) % 26) for digit in uuid.uuid4().hex[:8])
    cold = timed(pattern_calls(eindex_codegen, run_tag + "cold")[0])
    warm = [timed(call) for repeat in range(int(sys.argv[1]))
            for call in pattern_calls(eindex_codegen, f"{run_tag}x{repeat}")]
    torch_cold, torch_warm = None, []
    try:
        import torch
        import eindex_codegen.torch as codegen_torch
    except ImportError:
        pass
    else:
        torch.set_num_threads(1)
        images_t, best_t = torch.from_numpy(images), torch.from_numpy(best)
        points_t, clusters_t = torch.from_numpy(points), torch.from_numpy(clusters)

        def torch_calls(tag):
            b, t, n, k = (axis + run_tag + tag for axis in "btnk")
            return [
                lambda: codegen_torch.gather(images_t, best_t, f"{b} h w c, [h, w] {b} {t} -> {b} {t} c"),
                lambda: codegen_torch.scatter(points_t, clusters_t, f"{n} c, [{k}] {n} -> {k} c",
                                              **{k: 4}),
            ]

        # The first torch pattern also loads the torch runtime helpers.
        torch_cold = timed(torch_calls("torchcold")[0])
        torch_warm = [timed(call) for repeat in range(int(sys.argv[1]))
                      for call in torch_calls(f"torchx{repeat}")]
    print(json.dumps({"cold_s": cold, "warm_s": warm, "torch_cold_s": torch_cold,
                      "torch_warm_s": torch_warm}))
""")

_IMPORT_SCRIPT = textwrap.dedent("""
    import time

    import numpy
    start = time.perf_counter()
    import eindex_codegen
    print(time.perf_counter() - start)
""")


@dataclass
class Target:
    """One measured figure against its limit."""

    name: str
    measured: float
    limit: float
    unit: str  # "ms" or "bytes"
    detail: str = ""
    passed_override: bool | None = None  # set where the verdict needs more than measured <= limit

    @property
    def passed(self):
        if self.passed_override is not None:
            return self.passed_override
        return self.measured <= self.limit


def _run_child(script, cache_dir, *arguments, environment_changes=None):
    environment = dict(os.environ, EINDEX_CACHE_DIR=str(cache_dir))
    for name, value in (environment_changes or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    completed = subprocess.run([sys.executable, "-c", script, *map(str, arguments)],
                               capture_output=True, text=True, env=environment, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark child process failed with exit status {completed.returncode}:\n"
                           f"{completed.stderr}")
    return completed.stdout.strip().splitlines()[-1]


def measure_new_pattern(runs, repeats):
    """Time from call to result for patterns that no cache holds, in a running process."""
    cold, warm, torch_cold, torch_warm = [], [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="eindex-bench-new-") as cache_dir:
            report = json.loads(_run_child(_NEW_PATTERN_SCRIPT, cache_dir, repeats))
        cold.append(report["cold_s"])
        warm.extend(report["warm_s"])
        if report["torch_cold_s"] is not None:
            torch_cold.append(report["torch_cold_s"])
        torch_warm.extend(report["torch_warm_s"])
    targets = [Target(
        "new pattern in a running process, numpy (median call-to-result)",
        statistics.median(warm) * 1e3, 5.0, "ms",
        f"{len(warm)} new patterns over all six operations; slowest {max(warm) * 1e3:.2f} ms; "
        f"the first pattern of a process, which also loads lark, jinja2 and the grammar, "
        f"takes {statistics.median(cold) * 1e3:.1f} ms (median of {len(cold)} processes)",
    )]
    if torch_warm:
        targets.append(Target(
            "new pattern in a running process, torch (median call-to-result)",
            statistics.median(torch_warm) * 1e3, 5.0, "ms",
            f"{len(torch_warm)} new gather and scatter patterns; slowest {max(torch_warm) * 1e3:.2f} ms; "
            f"the first torch pattern of a process takes {statistics.median(torch_cold) * 1e3:.1f} ms",
        ))
    return targets


def measure_cached_load(runs):
    """Per-pattern cost of the first call in a fresh process whose patterns are in the disk cache."""
    with tempfile.TemporaryDirectory(prefix="eindex-bench-cached-") as cache_dir:
        _run_child(_CACHED_LOAD_SCRIPT, cache_dir)  # compiles every pattern into the cache
        reports = [json.loads(_run_child(_CACHED_LOAD_SCRIPT, cache_dir)) for _ in range(runs)]
    per_pattern = [statistics.mean(report["first_call_s"]) for report in reports]
    overhead = [statistics.mean(first - second for first, second in
                                zip(report["first_call_s"], report["second_call_s"]))
                for report in reports]
    loaded_compiler = [name for name in ("lark", "jinja2")
                       if any(report[f"{name}_imported"] for report in reports)]
    patterns = len(reports[0]["first_call_s"])
    detail = (f"mean first call over {patterns} numpy patterns, median of {runs} processes; "
              f"of which loading beyond a repeated call: {statistics.median(overhead) * 1e3:.3f} ms. "
              + (f"FAILED: {' and '.join(loaded_compiler)} imported in the child"
                 if loaded_compiler else "lark and jinja2 were not imported"))
    return [Target("first call per pattern in a fresh process, patterns in the disk cache",
                   statistics.median(per_pattern) * 1e3, 1.0, "ms", detail,
                   passed_override=(not loaded_compiler
                                    and statistics.median(per_pattern) * 1e3 <= 1.0))]


def measure_import(runs):
    """Median time of `import eindex_codegen` in a fresh process that has already imported numpy.

    An installed package has its bytecode (.pyc) cached, so the target is
    judged with bytecode in a temporary PYTHONPYCACHEPREFIX, written by a
    first child. Where this machine sets PYTHONDONTWRITEBYTECODE, a source
    checkout has no .pyc and every import compiles the source: that figure
    is reported as well, in the environment exactly as given.
    """
    targets = []
    with tempfile.TemporaryDirectory(prefix="eindex-bench-import-") as scratch:
        cached_bytecode = {"PYTHONPYCACHEPREFIX": os.path.join(scratch, "pycache"),
                           "PYTHONDONTWRITEBYTECODE": None}
        for name, changes in (("with cached bytecode", cached_bytecode),
                              ("in the environment as given", None)):
            # Warms the file system cache and, where writing bytecode is allowed, writes the .pyc files.
            _run_child(_IMPORT_SCRIPT, scratch, environment_changes=changes)
            times = [float(_run_child(_IMPORT_SCRIPT, scratch, environment_changes=changes))
                     for _ in range(runs)]
            detail = (f"median of {runs} processes; range {min(times) * 1e3:.1f} to "
                      f"{max(times) * 1e3:.1f} ms")
            if changes is None:
                detail += f"; PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', 'not set')}"
            targets.append(Target(f"import eindex_codegen beyond import numpy, {name}",
                                  statistics.median(times) * 1e3, 30.0, "ms", detail))
    return targets


def _traced_peak(function):
    """Call `function` under tracemalloc; return (peak bytes allocated during the call, result)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = function()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return peak, result


def measure_gather_memory(codegen, dims):
    """Measure the peak memory of the large gather beyond its inputs with tracemalloc.

    numpy reports its array data allocations to tracemalloc, so the peak
    includes the output and every temporary array. torch allocations are not
    reported, so only the numpy backend is measured.
    """
    rng = np.random.default_rng(0)
    arr = rng.standard_normal((dims["b"], dims["h"], dims["w"], dims["c"]), dtype=np.float32)
    ind = np.stack([rng.integers(0, dims[axis], (dims["b"], dims["t"])) for axis in ("h", "w")])
    pattern = "b h w c, [h, w] b t -> b t c"
    codegen.gather(arr, ind, pattern)  # compiles outside the traced call

    peak, result = _traced_peak(lambda: codegen.gather(arr, ind, pattern))
    limit = result.nbytes + ind.size * np.dtype(np.int64).itemsize
    hand = handwritten.numpy_gather_candidates(arr, ind)
    hand_peaks = {name: _traced_peak(hand[name])[0]
                  for name in ("fancy indexing", "take on a flat row index")}
    hand_text = ", ".join(f"{name} {value / 2**20:.2f} MiB" for name, value in hand_peaks.items())
    detail = (f"b={dims['b']} h={dims['h']} w={dims['w']} c={dims['c']} t={dims['t']}, numpy, "
              f"check_bounds=True; limit = output {result.nbytes / 2**20:.2f} MiB + int64 copy of the "
              f"index {ind.size * 8 / 2**20:.2f} MiB; hand-written for comparison: {hand_text}")
    return [Target("peak memory of a large gather beyond its inputs", peak, limit, "bytes", detail)]
