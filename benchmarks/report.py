"""Tables and the chart of the benchmark: markdown for the terminal and results.md, PNG ratios."""

import math

from cases import BACKENDS, CODEGEN, CODEGEN_UNCHECKED, EINDEX, EINX

# Ratio targets against the best hand-written code of the same backend, by size.
RATIO_LIMITS = {
    ("small", CODEGEN): 2.0,
    ("small", CODEGEN_UNCHECKED): 1.5,
    ("large", CODEGEN): 1.1,
}

# A ratio is flagged as noisy when the IQR of its variant's or its baseline's samples is above
# this fraction of their median.
NOISY_IQR = 0.25

# Columns of the summary table after the best hand-written time of each backend.
SUMMARY_COLUMNS = {
    "numpy": (CODEGEN, CODEGEN_UNCHECKED, EINDEX, EINX),
    "torch": (CODEGEN, CODEGEN_UNCHECKED),
}


def format_seconds(seconds):
    if seconds is None or math.isnan(seconds):
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_ratio(ratio):
    return f"{ratio:.2f}x"


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def noise(result, entry):
    """Return the larger relative IQR of `entry` and of its baseline, or None if not above NOISY_IQR."""
    best = result.best_hand(entry.variant.backend)
    spreads = [value.samples.relative_iqr for value in (entry, best) if value and value.samples]
    spreads = [spread for spread in spreads if not math.isnan(spread)]
    if not spreads or max(spreads) <= NOISY_IQR:
        return None
    return max(spreads)


def _cell(result, variant_result):
    """Return the summary cell of one variant: its ratio, or why it has none."""
    if variant_result is None:
        return ""
    if variant_result.status != "timed":
        return variant_result.status
    ratio = result.ratio(variant_result)
    text = format_ratio(ratio) if ratio is not None else format_seconds(variant_result.median)
    notes = [variant_result.message] if variant_result.message else []
    spread = noise(result, variant_result)
    if spread is not None:
        notes.append(f"noisy, IQR {spread:.0%}")
    return f"{text} ({'; '.join(notes)})" if notes else text


def summary_table(results):
    """Return the summary: per case, the best hand-written time per backend and each ratio to it."""
    header = ["job", "size", "sizes", "pattern"]
    for backend in BACKENDS:
        header.append(f"{backend}: best hand-written")
        header += [f"{backend}: {library}" for library in SUMMARY_COLUMNS[backend]]
    rows = []
    for result in results:
        row = [result.case.job, result.case.size, result.case.dims_text, f"`{result.case.pattern}`"]
        for backend in BACKENDS:
            best = result.best_hand(backend)
            row.append(f"{format_seconds(best.median)} ({best.variant.strategy})" if best else "n/a")
            row += [_cell(result, result.find(backend, library)) for library in SUMMARY_COLUMNS[backend]]
        rows.append(row)
    return _markdown_table(header, rows)


def detail_table(results):
    """Return the table with one row per variant of every case, hand-written candidates included."""
    header = ["job", "size", "backend", "variant", "median", "IQR / median", "ratio", "rounds x calls"]
    rows = []
    for result in results:
        for entry in result.variants:
            variant = entry.variant
            # A timed entry's message notes a difference in dtype; other entries show it in its own column.
            notes = [variant.strategy, entry.message if entry.status == "timed" else ""]
            notes = [text for text in notes if text]
            name = variant.library + (f": {'; '.join(notes)}" if notes else "")
            if entry.status == "timed":
                ratio = result.ratio(entry)
                iqr = entry.samples.relative_iqr
                rows.append([result.case.job, result.case.size, variant.backend, name,
                             format_seconds(entry.median), "" if math.isnan(iqr) else f"{iqr:.0%}",
                             format_ratio(ratio) if ratio is not None else "",
                             f"{result.rounds} x {entry.samples.number}"])
            else:
                rows.append([result.case.job, result.case.size, variant.backend, name, entry.status,
                             "", "", entry.message])
    return _markdown_table(header, rows)


def ratio_targets(results):
    """Return (name, ratio, limit, passed, note) for every ratio target the run measured.

    The note is the status of a variant that was not timed, or marks a timed ratio as noisy.
    """
    checks = []
    for result in results:
        for backend in BACKENDS:
            for library in (CODEGEN, CODEGEN_UNCHECKED):
                limit = RATIO_LIMITS.get((result.case.size, library))
                entry = result.find(backend, library)
                if limit is None or entry is None:
                    continue
                name = f"{result.case.job}, {result.case.size}, {backend}, {library}"
                ratio = result.ratio(entry) if entry.status == "timed" else None
                spread = noise(result, entry) if ratio is not None else None
                note = f"; noisy, IQR {spread:.0%}" if spread is not None else ""
                checks.append((name, ratio, limit, ratio is not None and ratio <= limit,
                               entry.status + note if ratio is None else note))
    return checks


def targets_table(overhead_targets, results):
    header = ["target", "measured", "limit", "verdict", "details"]
    rows = []
    for target in overhead_targets:
        if target.unit == "bytes":
            measured, limit = f"{target.measured / 2**20:.2f} MiB", f"{target.limit / 2**20:.2f} MiB"
        else:
            measured, limit = f"{target.measured:.3g} ms", f"{target.limit:g} ms"
        rows.append([target.name, measured, limit, "PASS" if target.passed else "FAIL", target.detail])
    for name, ratio, limit, passed, note in ratio_targets(results):
        measured = format_ratio(ratio) if ratio is not None else note
        rows.append([name, measured, format_ratio(limit), "PASS" if passed else "FAIL",
                     f"{ratio / limit:.2f} of the limit{note}" if ratio is not None else ""])
    return _markdown_table(header, rows)


def problems(results):
    """Return lines naming every variant that was not timed, and why."""
    lines = []
    for result in results:
        for entry in result.variants:
            if entry.status != "timed":
                variant = entry.variant
                name = variant.library + (f" ({variant.strategy})" if variant.strategy else "")
                lines.append(f"- {result.case.job}, {result.case.size}, {variant.backend}, "
                             f"{name}: {entry.status}: {entry.message}")
    return lines


def write_chart(results, path):
    """Write a horizontal bar chart of each library's ratio to the best hand-written code.

    Returns None on success, or why no chart was written.
    """
    try:
        import matplotlib
    except ImportError as error:
        return f"matplotlib is not importable ({error}); install the bench extra for the chart"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{result.case.job}, {result.case.size}" for result in results]
    figure, axes = plt.subplots(1, len(BACKENDS), figsize=(15, 1.0 + 0.32 * len(labels)), sharey=True,
                                squeeze=False)
    for axis, backend in zip(axes[0], BACKENDS):
        libraries = SUMMARY_COLUMNS[backend]
        bar_height = 0.8 / len(libraries)
        for index, library in enumerate(libraries):
            positions, ratios = [], []
            for row, result in enumerate(results):
                entry = result.find(backend, library)
                ratio = result.ratio(entry) if entry is not None and entry.status == "timed" else None
                if ratio is not None:
                    positions.append(row + (index - (len(libraries) - 1) / 2) * bar_height)
                    ratios.append(ratio)
            axis.barh(positions, ratios, height=bar_height, label=library)
        for limit, style in ((1.1, "-"), (1.5, "--"), (2.0, ":")):
            axis.axvline(limit, color="black", linewidth=0.8, linestyle=style)
        axis.axvline(1.0, color="grey", linewidth=0.8)
        axis.set_xscale("log")
        axis.set_title(f"{backend}: time / best hand-written {backend} (lines: 1.1x, 1.5x, 2x)")
        axis.set_xlabel("ratio, log scale")
        axis.legend(loc="lower right", fontsize="small")
        axis.grid(axis="x", which="both", alpha=0.3)
    axes[0][0].set_yticks(range(len(labels)), labels)
    axes[0][0].invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return None

