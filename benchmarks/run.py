"""Benchmark eindex_codegen against eindex 0.1.0, einx and the best hand-written numpy and torch code.

    python benchmarks/run.py            # the full run of `make bench`
    python benchmarks/run.py --quick --sizes small --output /tmp/bench   # a smoke test

For each case (a job at a size), every variant runs once and its result is
compared with the first hand-written numpy candidate. A variant that raises
or returns other values is reported and not timed. The variants that pass
are then timed in one process, in interleaved rounds (see timing.py). Each
is reported as its median time and as a ratio to the fastest hand-written
candidate of the same backend in the same run. After the cases
come the costs outside the generated code: compiling a new pattern, loading
cached patterns in a fresh process, importing the package, and the peak
memory of a large gather.

The tables are printed and written to <output>/results.md, with the raw
figures in <output>/results.json and a bar chart of the ratios in
<output>/ratios.png. Generated modules go to a private temporary cache
folder, removed at the end, so the run neither reads nor fills the user's
cache. The exit status is 1 when eindex_codegen or a hand-written candidate
raised or returned wrong values, else 0; speed never changes it.
"""

import argparse
import datetime
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cases
import overheads
import report
from timing import Samples, TimingPlan, calibrate, time_interleaved

REPOSITORY = Path(__file__).resolve().parents[1]

FULL_PLAN = TimingPlan(min_sample_s=0.002, case_budget_s=4.0, min_rounds=7, max_rounds=61)
QUICK_PLAN = TimingPlan(min_sample_s=0.0002, case_budget_s=0.05, min_rounds=2, max_rounds=3)

# Hand-written candidates slower than this times the fastest one in calibration are not timed.
PRUNE_FACTOR = 3.0

# A 1-minute load average from this value on, before the run starts, means other processes are busy.
BUSY_LOAD = 0.5

# Environment variables that change how numpy or torch run, recorded with the results.
RECORDED_ENVIRONMENT = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONDONTWRITEBYTECODE",
                        "PYTHONHASHSEED", "NUMPY_MADVISE_HUGEPAGE", "MALLOC_MMAP_THRESHOLD_",
                        "MALLOC_TRIM_THRESHOLD_")

# glibc malloc settings for the timed process, unless --default-malloc. By default glibc moves its
# mmap threshold as blocks are freed, and it returns freed memory to the system. A 2 MiB result
# then comes from memory already mapped or from new pages, depending on what the variant timed
# before it freed. In one interleaved probe of the large torch gather, the same call took 142 us
# or 784 us by order alone, and 1.2 ms with only the trim threshold set. With every block below
# 32 MiB (glibc's largest mmap threshold on 64-bit) taken from the heap, and up to 1 GiB of freed
# heap kept, each variant's time no longer depends on the one before.
FIXED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}


@dataclass
class VariantResult:
    variant: cases.Variant
    status: str  # "timed", "pruned", "n/a", "error" or "wrong values"
    message: str = ""
    samples: Samples | None = None

    @property
    def median(self):
        return self.samples.median if self.samples else None


@dataclass
class CaseResult:
    case: cases.Case
    variants: list
    rounds: int
    seconds: float

    def find(self, backend, library):
        for entry in self.variants:
            if entry.variant.backend == backend and entry.variant.library == library:
                return entry
        return None

    def best_hand(self, backend):
        timed = [entry for entry in self.variants if entry.status == "timed"
                 and entry.variant.backend == backend and entry.variant.library == cases.HAND]
        return min(timed, key=lambda entry: entry.median) if timed else None

    def ratio(self, entry):
        best = self.best_hand(entry.variant.backend)
        if best is None or entry.status != "timed":
            return None
        return entry.median / best.median


def as_numpy(value):
    if type(value).__module__.startswith("torch"):
        return value.numpy(force=True)
    return np.asarray(value)


def compare(actual, expected):
    """Return None when `actual` equals `expected`, else what differs.

    Floats may differ by rounding, because the variants add in different
    orders: the tolerance is 1e-5 relative plus 1e-5 of the largest finite
    magnitude. NaN and infinities must sit in the same places.
    """
    if actual.shape != expected.shape:
        return f"shape {actual.shape}, expected {expected.shape}"
    if actual.dtype != expected.dtype:
        return f"dtype {actual.dtype}, expected {expected.dtype}"
    try:
        if expected.dtype.kind in "fc":
            finite = np.abs(expected[np.isfinite(expected)])
            scale = max(1.0, float(finite.max())) if finite.size else 1.0
            np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale, equal_nan=True)
        else:
            np.testing.assert_array_equal(actual, expected)
    except AssertionError as error:
        return " ".join(str(error).split())[:300]
    return None


def _check_inputs_unchanged(case, inputs, snapshots):
    for array, snapshot in zip(inputs, snapshots):
        if not np.array_equal(array, snapshot, equal_nan=True):
            raise RuntimeError(f"a variant of {case.job}, {case.size} changed its inputs in place; "
                               "the results of the variants after it are not comparable")


def verify(case, variants):
    """Run every variant once and compare it with the first hand-written numpy result."""
    entries, reference = [], None
    for variant in variants:
        if variant.function is None:
            entries.append(VariantResult(variant, "n/a", variant.unavailable))
            continue
        try:
            value = as_numpy(variant.function())
        except Exception as error:  # noqa: BLE001 (a failure of any library is reported, not fatal)
            message = " ".join(f"{type(error).__name__}: {error}".split())[:300]
            entries.append(VariantResult(variant, "error", message))
            continue
        if reference is None:
            if variant.backend != "numpy" or variant.library != cases.HAND:
                raise RuntimeError(f"{case.job}, {case.size}: the first variant that runs must be a "
                                   f"hand-written numpy candidate, not {variant.library}")
            reference = value
        difference = compare(value, reference)
        if difference is None:
            entries.append(VariantResult(variant, "timed"))
        elif (variant.library in (cases.EINDEX, cases.EINX) and value.dtype != reference.dtype
              and compare(value.astype(reference.dtype), reference) is None):
            # The other libraries are timed when only their result dtype differs.
            entries.append(VariantResult(variant, "timed", f"returns {value.dtype}, not {reference.dtype}"))
        else:
            entries.append(VariantResult(variant, "wrong values", difference))
    return entries


def _dominated_candidates(entries, calibration):
    """Mark hand-written candidates far slower than the fastest one as pruned; return their indexes.

    A candidate whose calibration estimate is above PRUNE_FACTOR times the
    fastest hand-written estimate of its backend cannot be the baseline, and
    timing it would only lengthen the run.
    """
    fastest = {}
    for index, (_, single) in calibration.items():
        variant = entries[index].variant
        if variant.library == cases.HAND:
            fastest[variant.backend] = min(single, fastest.get(variant.backend, single))
    pruned = []
    for index, (_, single) in calibration.items():
        entry = entries[index]
        best = fastest.get(entry.variant.backend)
        if entry.variant.library == cases.HAND and single > PRUNE_FACTOR * best:
            entry.status = "pruned"
            entry.message = (f"{single / best:.1f} times the fastest hand-written candidate in "
                             f"calibration ({report.format_seconds(single)}), so not timed")
            pruned.append(index)
    return pruned


def run_case(case, libraries, plan):
    start = time.perf_counter()
    variants, inputs = case.build(libraries)
    snapshots = [array.copy() for array in inputs]
    entries = verify(case, variants)
    _check_inputs_unchanged(case, inputs, snapshots)

    functions = {index: entry.variant.function for index, entry in enumerate(entries)
                 if entry.status == "timed"}
    calibration = {index: calibrate(function, plan) for index, function in functions.items()}
    for index in _dominated_candidates(entries, calibration):
        del functions[index]
    samples, rounds = time_interleaved(functions, calibration, plan)
    for index, entry_samples in samples.items():
        entries[index].samples = entry_samples
    _check_inputs_unchanged(case, inputs, snapshots)
    return CaseResult(case, entries, rounds, time.perf_counter() - start)


def _command_output(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False,
                              cwd=REPOSITORY).stdout.strip()
    except OSError:
        return ""


def cpu_model():
    for line in _command_output(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _load_average():
    """Return the load averages as text; from a 1-minute load of BUSY_LOAD on, results.md notes it."""
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def describe_environment(libraries):
    commit = _command_output(["git", "rev-parse", "--short", "HEAD"]) or "unknown"
    changed = _command_output(["git", "status", "--porcelain", "--", "eindex_codegen", "templates",
                               "grammar"])
    codegen = f"{libraries.codegen.__version__}, commit {commit}"
    if changed:
        codegen += " with uncommitted changes to the compiler"
    torch_version = libraries.version("torch")
    if libraries.torch is not None:
        torch_version += f", {libraries.torch.get_num_threads()} thread"
    environment = {
        "CPU": f"{cpu_model()}, {os.cpu_count()} logical CPUs",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch_version,
        "eindex": libraries.version("eindex"),
        "einx": libraries.version("einx"),
        "eindex_codegen": codegen,
    }
    for name in RECORDED_ENVIRONMENT:
        environment[name] = os.environ.get(name, "not set")
    environment["transparent huge pages (enabled; defrag)"] = "; ".join(
        _read_setting(f"/sys/kernel/mm/transparent_hugepage/{name}") for name in ("enabled", "defrag"))
    return environment


def _read_setting(path):
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"


METHOD = """\
Each case runs every variant once and compares its result with the first hand-written numpy
candidate (floats within 1e-5 relative plus 1e-5 of the largest magnitude, integers exactly,
same shape and dtype; eindex 0.1.0 and einx may differ in dtype only, which their cell
notes). A variant that raises or returns other values is listed under "Not timed", as is a
hand-written candidate whose calibration estimate is more than {prune:g} times the fastest
one's. The rest are timed in one process. Each round calls every variant once, in an order
shuffled anew each round by a seeded generator. A sample is the mean of enough back-to-back
calls to last {min_sample_ms:g} ms, and the figure is the median over the rounds. Rounds per
case: enough to fill {budget:g} s, at least {min_rounds} and at most {max_rounds}. torch runs
with one thread. Every variant takes the same stacked index and splits it into its rows
inside the timed call.
Inputs are float32 from a generator seeded by the case name, indices int64.

A ratio is a variant's median divided by the lowest median among the hand-written candidates
of the same backend in the same case (the "best hand-written" column, which names the
fastest candidate). A ratio is marked noisy where the interquartile range of the samples of
the variant or of its baseline exceeds {noisy:.0%} of their median. The hand-written candidates do not check index values axis by axis;
eindex_codegen does unless `check_bounds=False`. einx 0.4.3 has no min or max scatter, so
those cells read n/a; where einx needs several calls, the variant name lists them. eindex
0.1.0 and einx sort with numpy's default unstable sort, so the argsort inputs have no ties.

MALLOC_MMAP_THRESHOLD_ is 32 MiB and MALLOC_TRIM_THRESHOLD_ 1 GiB unless the caller sets them
or passes --default-malloc. With glibc's defaults, a large result lands either in memory
already mapped or in new pages that must be faulted in, depending on what the variant before
it freed. In one probe that alone moved a large torch gather from 142 us to 784 us.

PYTHONHASHSEED is 0 unless the caller sets it. eindex 0.1.0 chooses how to transpose the
array in set order, which follows the string hash seed, and with some seeds its large
gather copies the whole 32 MiB input on every call (about 10 ms instead of 0.3 ms in one
probe on this machine).
"""


def _header_lines(environment, arguments, elapsed):
    lines = ["# eindex-codegen benchmark", "",
             (f"Written by `python benchmarks/run.py {' '.join(arguments)}` on "
              f"{environment['date']}, in {elapsed:.0f} s."), ""]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in environment.items() if name != "date"]

    start_load = environment["load average at start (1, 5, 15 min)"].split(",")[0]
    if start_load != "unknown" and float(start_load) >= BUSY_LOAD:
        lines += ["", (f"NOTE: the 1-minute load average was {start_load} when the run started, on "
                       f"{os.cpu_count()} logical CPUs, so other processes were competing for them. "
                       "Rows with a large IQR / median in 'Every variant' were disturbed. Rerun on an "
                       "idle machine before relying on them.")]
    return lines


def _targets_lines(results, overhead_targets):
    ratio_checks = report.ratio_targets(results)
    failed = sum(not passed for _, _, _, passed, _ in ratio_checks)
    failed += sum(not target.passed for target in overhead_targets)
    summary = (f"{failed} of {len(ratio_checks) + len(overhead_targets)} targets fail. The ratio "
               "targets are at most 2x for small sizes and 1.1x for large ones with bounds checks on, "
               "and at most 1.5x for small sizes with `check_bounds=False`. Medium sizes have none.")
    return ["## Targets", "", summary, "", report.targets_table(overhead_targets, results), ""]


def build_markdown(results, overhead_targets, environment, plan, arguments, elapsed, chart_note):
    lines = _header_lines(environment, arguments, elapsed)

    method = METHOD.format(min_sample_ms=plan.min_sample_s * 1e3, budget=plan.case_budget_s,
                           prune=PRUNE_FACTOR, min_rounds=plan.min_rounds, max_rounds=plan.max_rounds,
                           noisy=report.NOISY_IQR)
    lines += ["", "## How it is measured", "", method]

    lines += _targets_lines(results, overhead_targets)

    lines += ["## Ratio to the best hand-written code", "", report.summary_table(results), ""]
    lines += [f"No chart: {chart_note}." if chart_note else "![ratios](ratios.png)", ""]

    lines += ["## Every variant", "", report.detail_table(results), ""]
    problem_lines = report.problems(results) or ["Every variant was timed."]
    lines += ["## Not timed", "", *problem_lines, ""]
    return "\n".join(lines)


def results_json(results, overhead_targets, environment):
    return {
        "environment": environment,
        "targets": [vars(target) | {"passed": target.passed} for target in overhead_targets],
        "cases": [{
            "job": result.case.job, "size": result.case.size, "dims": result.case.dims,
            "pattern": result.case.pattern, "rounds": result.rounds, "seconds": result.seconds,
            "variants": [{
                "backend": entry.variant.backend, "library": entry.variant.library,
                "strategy": entry.variant.strategy, "status": entry.status, "message": entry.message,
                "calls_per_sample": entry.samples.number if entry.samples else None,
                "seconds_per_call": entry.samples.seconds_per_call if entry.samples else None,
                "median_s": entry.median, "ratio": result.ratio(entry),
            } for entry in result.variants],
        } for result in results],
    }


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 to 3 rounds of 0.2 ms samples per case and fewer repeats of the "
                             "process measurements: a smoke test, not a measurement")
    parser.add_argument("--sizes", default=",".join(cases.SIZES),
                        help="comma-separated sizes to run, from small, medium, large (default: all)")
    parser.add_argument("--job", action="append", default=[],
                        help="run only jobs whose name contains this text; repeat for several")
    parser.add_argument("--skip-overheads", action="store_true",
                        help="skip the compile, load, import and memory measurements")
    parser.add_argument("--no-numpy-hugepages", action="store_true",
                        help="set NUMPY_MADVISE_HUGEPAGE=0, so numpy does not ask for transparent huge "
                             "pages: large cases become slower but far less noisy")
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's default malloc thresholds instead of setting "
                             "MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_: large cases then "
                             "depend on the order of the variants")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results",
                        help="folder for results.md, results.json and ratios.png "
                             "(default: benchmarks/results)")
    arguments = parser.parse_args(argv)
    sizes = tuple(size.strip() for size in arguments.sizes.split(",") if size.strip())
    unknown = [size for size in sizes if size not in cases.SIZES]
    if unknown or not sizes:
        parser.error(f"invalid --sizes {arguments.sizes!r}: use a comma-separated list of "
                     f"{', '.join(cases.SIZES)}")
    arguments.sizes = sizes
    return arguments


def measure_overheads(libraries, quick):
    runs = 2 if quick else 5
    targets = []
    targets += overheads.measure_new_pattern(runs=1 if quick else 3, repeats=1 if quick else 3)
    targets += overheads.measure_cached_load(runs)
    targets += overheads.measure_import(3 if quick else 11)
    targets += overheads.measure_gather_memory(libraries.codegen, cases.GATHER_SIZES["large"])
    return targets


def _restart_with_fixed_environment(arguments, argv):
    """Restart this script with the environment variables it must set before Python starts."""
    changes = {}
    if "PYTHONHASHSEED" not in os.environ:
        # eindex 0.1.0 picks its transposition in set order, which follows the string hash seed.
        # With some seeds its large gather copies the whole input on every call, so the seed is
        # fixed for this process and its children to make runs comparable.
        changes["PYTHONHASHSEED"] = "0"
    if not arguments.default_malloc:
        # glibc reads these when the process starts; values the caller set are kept.
        changes |= {name: value for name, value in FIXED_MALLOC.items() if name not in os.environ}
    if arguments.no_numpy_hugepages and os.environ.get("NUMPY_MADVISE_HUGEPAGE") != "0":
        # numpy reads this when it is imported.
        changes["NUMPY_MADVISE_HUGEPAGE"] = "0"
    if changes:
        os.environ.update(changes)
        os.execv(sys.executable, [sys.executable, str(Path(__file__).resolve()), *argv])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    arguments = parse_arguments(argv)
    selected = [case for case in cases.all_cases(arguments.sizes)
                if not arguments.job or any(text in case.job for text in arguments.job)]
    if not selected:
        jobs = sorted({case.job for case in cases.all_cases(cases.SIZES)})
        print(f"run.py: no job at sizes {', '.join(arguments.sizes)} contains "
              f"{' or '.join(map(repr, arguments.job))}; the jobs are: {'; '.join(jobs)}", file=sys.stderr)
        return 2
    _restart_with_fixed_environment(arguments, argv)
    plan = QUICK_PLAN if arguments.quick else FULL_PLAN
    started = time.perf_counter()

    cache_dir = tempfile.mkdtemp(prefix="eindex-bench-cache-")
    os.environ["EINDEX_CACHE_DIR"] = cache_dir
    try:
        libraries = cases.Libraries.load()
        environment = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
        environment |= describe_environment(libraries)
        environment["load average at start (1, 5, 15 min)"] = _load_average()
        for name, value in environment.items():
            print(f"{name}: {value}")
        for library, reason in libraries.missing.items():
            print(f"{library}: skipped, {reason}")

        results = []
        for number, case in enumerate(selected, 1):
            result = run_case(case, libraries, plan)
            results.append(result)
            gc.collect()
            print(f"[{number}/{len(selected)}] {case.job}, {case.size}: {result.rounds} rounds, "
                  f"{result.seconds:.1f} s", flush=True)

        overhead_targets = [] if arguments.skip_overheads else measure_overheads(libraries,
                                                                                 arguments.quick)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)

    environment["load average at end (1, 5, 15 min)"] = _load_average()
    arguments.output.mkdir(parents=True, exist_ok=True)
    chart_note = report.write_chart(results, arguments.output / "ratios.png")
    elapsed = time.perf_counter() - started
    markdown = build_markdown(results, overhead_targets, environment, plan, argv, elapsed, chart_note)
    (arguments.output / "results.md").write_text(markdown, encoding="utf-8")
    (arguments.output / "results.json").write_text(
        json.dumps(results_json(results, overhead_targets, environment), indent=1), encoding="utf-8")
    print()
    print(markdown)
    print(f"Wrote {arguments.output / 'results.md'}, results.json"
          + ("" if chart_note else " and ratios.png"))

    broken = [entry for result in results for entry in result.variants
              if entry.status in ("error", "wrong values")
              and entry.variant.library in (cases.HAND, cases.CODEGEN, cases.CODEGEN_UNCHECKED)]
    if broken:
        print(f"{len(broken)} eindex_codegen or hand-written variants failed; see 'Not timed'.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
