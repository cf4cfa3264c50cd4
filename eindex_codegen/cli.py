"""eindex-gen: pregenerate modules into an importable package, check it, or show code and plans."""

import argparse
import hashlib
import json
import pathlib
import re
import sys

from eindex_codegen import resources
from eindex_codegen.cache import CACHED_MODULE_NAME, GENERATED_HEADER, build_module_text, module_key
from eindex_codegen.errors import EindexError, PatternError
from eindex_codegen.options import backend_names, check_options
from eindex_codegen.packages import regenerate_command
from eindex_codegen.syntax import OPERATIONS, normalize_text
from eindex_codegen.version import __version__

EXAMPLE = """\
patterns file, one operation per line:

    # k-means step
    argmin: cluster i -> [cluster] i
    scatter: i c, [cluster] i -> cluster c agg=mean
    argsort: t b w -> [w] t b rank order_axis=rank

examples:

    eindex-gen patterns.txt -o generated          write the package
    eindex-gen patterns.txt -o generated --check  exit 1 if it is missing modules or stale
    eindex-gen --show "gather: b h w c, [h, w] b t -> b t c"
    eindex-gen --explain "scatter: i c, [cluster] i -> cluster c agg=mean"
    eindex-gen --graph "argmax: b h w -> [h, w] b" | dot -Tpng > plan.png

Register the package at run time with eindex_codegen.use_generated("generated")
or EINDEX_GENERATED=generated.
"""

_LINE = re.compile(r"\s*(?P<operation>\w+)\s*:(?P<rest>.*)")
_OPTION = re.compile(r"\s+(?P<name>\w+)=(?P<value>\S+)\s*$")


class LineError(Exception):
    """A bad line of a patterns file: its 1-based column and the message."""

    def __init__(self, column, message):
        super().__init__(message)
        self.column = column
        self.message = message


def parse_line(line):
    """Split `op: pattern [agg=...] [order_axis=...]` into (operation, pattern, options, pattern column)."""
    match = _LINE.match(line)
    if match is None:
        raise LineError(1, "expected 'operation: pattern', for example 'gather: b h, [h] b -> b'")
    operation = match["operation"]
    if operation not in OPERATIONS:
        raise LineError(match.start("operation") + 1,
                        f"unknown operation {operation!r}; expected one of {', '.join(OPERATIONS)}")
    rest, options, columns = match["rest"], {}, {}
    while (option := _OPTION.search(rest)) is not None:
        column = match.start("rest") + option.start("name") + 1
        if option["name"] not in ("agg", "order_axis"):
            raise LineError(column, f"unknown option {option['name']!r}; expected agg= or order_axis=")
        options[option["name"]] = option["value"]
        columns[option["name"]] = column
        rest = rest[: option.start()]
    for name, value in options.items():
        try:
            check_options(operation, **{name: value})
        except EindexError as error:
            raise LineError(columns[name], str(error)) from None
    options = check_options(operation, **options)
    return operation, rest, options, match.start("rest")


def compile_line(line, backend):
    """Return (key, module text) for one line, or raise LineError."""
    operation, pattern, options, offset = parse_line(line)
    try:
        text = build_module_text(operation, pattern, options, backend)
    except PatternError as error:
        column = offset + (error.columns[0] if error.columns else 0) + 1
        raise LineError(column, error.reason + (f" (hint: {error.hint})" if error.hint else "")) from None
    return module_key(operation, pattern, options, backend), text, (operation, pattern, options)


def package_files(patterns_path, backends):
    """Return ({file name: text} of the package, [error lines]) for a patterns file."""
    files, index, errors = {}, [], []
    lines = pathlib.Path(patterns_path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        for backend in backends:
            try:
                key, text, (operation, pattern, options) = compile_line(line, backend)
            except LineError as error:
                errors.append(f"{patterns_path}:{number}:{error.column}: {error.message}")
                break
            name = module_name(operation, pattern, options, backend)
            files[f"{name}.py"] = text
            described = "".join(f" {option}={value}" for option, value in options.items() if value)
            index.append((key, name, f"{operation}: {normalize_text(pattern)}{described} ({backend})"))
    files["__init__.py"] = _index_text(patterns_path, index, backends)
    return files, errors


def module_name(operation, pattern, options, backend):
    """Name a module of a package by what it computes, not by the compiler's fingerprint.

    A new compiler version then changes the files' contents but not their names, so a diff of a
    regenerated package shows what changed in each module.
    """
    fields = [operation, normalize_text(pattern), sorted(options.items()), backend]
    digest = hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()
    return f"{operation}_{backend}_{digest[:12]}"


def _index_text(patterns_path, index, backends):
    entries = "".join(f"    # {described}\n    {key!r}: {name!r},\n" for key, name, described in index)
    return (f'"""Modules pregenerated by eindex-gen {__version__} from {patterns_path}.\n\n'
            f"Regenerate with `{regenerate_command(patterns_path, '<this folder>', backends)}`; use with\n"
            '`eindex_codegen.use_generated(<this package>)` or EINDEX_GENERATED=<package>.\n"""\n\n'
            f"COMPILER_VERSION = {__version__!r}\n"
            f"COMPILER_FINGERPRINT = {resources.compiler_fingerprint()!r}\n"
            f"PATTERNS_FILE = {str(patterns_path)!r}\n"
            f"BACKENDS = {tuple(backends)!r}\n\n"
            f"# cache key -> module of this package\nMODULES = {{\n{entries}}}\n")


def _written_by_eindex_gen(path):
    """Return whether the module at `path` starts with the header that every generated module has."""
    with open(path, encoding="utf-8", errors="replace") as stream:
        return stream.readline().startswith(GENERATED_HEADER)


def differences(directory, files):
    """Return lines naming the files of `directory` that are missing, stale or left over."""
    directory = pathlib.Path(directory)
    found = {path.name for path in directory.glob("*.py")} if directory.is_dir() else set()
    report = [f"missing: {directory / name}" for name in sorted(set(files) - found)]
    report += [f"stale: {directory / name}" for name in sorted(set(files) & found)
               if (directory / name).read_text(encoding="utf-8") != files[name]]
    # Other Python files in the folder are the user's: neither reported nor removed.
    report += [f"left over from other patterns: {directory / name}" for name in sorted(found - set(files))
               if _written_by_eindex_gen(directory / name)]
    return report


def write_package(directory, files):
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in {path.name for path in directory.glob("*.py")} - set(files):
        if _written_by_eindex_gen(directory / stale):
            (directory / stale).unlink()
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def clear_cache(directory):
    """Delete the generated modules in the cache folder, then the folder if nothing else is in it.

    Only files named as the cache names its modules, and half-written ones,
    are deleted, because the folder may be one the user chose
    (EINDEX_CACHE_DIR) and hold other files. Returns a line that reports
    what was deleted.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return f"no cache folder at {directory}"
    removed = 0
    for path in directory.iterdir():
        if CACHED_MODULE_NAME.fullmatch(path.name) and path.is_file():
            path.unlink()
            removed += 1
    try:
        directory.rmdir()
    except OSError:
        return f"removed {removed} cached modules from {directory}; other files were kept"
    return f"removed {removed} cached modules and the folder {directory}"


def _single(spec):
    try:
        operation, pattern, options, _ = parse_line(spec)
    except LineError as error:
        raise SystemExit(f"eindex-gen: {spec!r}:{error.column}: {error.message}") from None
    return operation, pattern, options


def _argument_parser():
    parser = argparse.ArgumentParser(
        prog="eindex-gen", description=__doc__, epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("patterns", nargs="?", help="patterns file: one 'operation: pattern [agg=...]' per line")
    parser.add_argument("-o", "--output", help="folder of the package to write (or check)")
    parser.add_argument("--backend", default="numpy",
                        help="comma-separated backends to generate for: numpy, torch (default: numpy)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the differences if the package is missing or stale")
    parser.add_argument("--show", metavar="LINE", help="print the generated module of one 'operation: pattern'")
    parser.add_argument("--explain", metavar="LINE", help="print the plan of one 'operation: pattern'")
    parser.add_argument("--graph", metavar="LINE", help="print the plan of one 'operation: pattern' as Graphviz DOT")
    parser.add_argument("--clear-cache", action="store_true",
                        help="delete the generated modules in the disk cache, and the folder once empty")
    parser.add_argument("--version", action="version", version=f"eindex-codegen {__version__}")
    return parser


def main(argv=None):
    arguments = _argument_parser().parse_args(argv)
    backends = backend_names(arguments.backend)
    if not backends:
        print(f"eindex-gen: --backend {arguments.backend!r} names no backend; use numpy, torch or "
              "numpy,torch", file=sys.stderr)
        return 2
    try:
        return _run(arguments, backends)
    except EindexError as error:
        print(f"eindex-gen: {error}", file=sys.stderr)
        return 2


def _run(arguments, backends):
    from eindex_codegen.api import module_cache
    from eindex_codegen.plan import build_plan, plan_to_dot

    if arguments.clear_cache:
        print(clear_cache(module_cache.directory))
        return 0
    if arguments.show:
        operation, pattern, options = _single(arguments.show)
        print(build_module_text(operation, pattern, options, backends[0]), end="")
        return 0
    if arguments.explain or arguments.graph:
        operation, pattern, options = _single(arguments.explain or arguments.graph)
        plan = build_plan(operation, pattern, **options)
        print(plan.describe() if arguments.explain else plan_to_dot(plan), end="\n" if arguments.explain else "")
        return 0
    if not arguments.patterns or not arguments.output:
        _argument_parser().print_usage(sys.stderr)
        print("eindex-gen: give a patterns file and -o DIR, or one of --show/--explain/--graph", file=sys.stderr)
        return 2

    files, errors = package_files(arguments.patterns, backends)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 2
    if arguments.check:
        report = differences(arguments.output, files)
        if report:
            print("\n".join(report))
            print(f"regenerate with: {regenerate_command(arguments.patterns, arguments.output, backends)}")
            return 1
        return 0
    write_package(arguments.output, files)
    print(f"wrote {len(files) - 1} modules to {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
