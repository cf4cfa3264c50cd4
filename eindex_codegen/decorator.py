"""`@eindex_codegen.compile`: compile the literal patterns of a function when it is defined.

The decorator reads the function's source, finds every call of an eindex
operation whose pattern (and `agg`, `order_axis`) is a literal, resolves the
called name through the function's globals and closure (so any import alias
works), and compiles each for the requested backends. The function itself
is returned unchanged: its calls then find their modules in the in-memory
table and do no parsing, planning, rendering or disk access.

Calls whose pattern is not a literal are left to compile at run time.
Functions without retrievable source (typed at a REPL, built by `exec`) are
returned without precompiling, with a debug log line.
"""

import ast
import builtins
import functools
import importlib.util
import inspect
import logging
import textwrap

from eindex_codegen import api
from eindex_codegen.errors import EindexError, PatternError
from eindex_codegen.options import backend_names

logger = logging.getLogger("eindex_codegen")

# Argument position of the pattern, and of agg where it may be passed positionally.
_PATTERN_POSITION = {"gather": 2, "scatter": 2, "gather_scatter": 2, "argmax": 1, "argmin": 1, "argsort": 1}
_AGG_POSITION = {"gather": 3, "scatter": 3, "gather_scatter": 3}


def compile(function=None, *, backends=None):
    """Decorate a function to compile its literal eindex patterns now; use bare or with backends=[...].

    `backends` is a list of backend names, or one string of comma-separated
    names as eindex-gen's --backend takes ("numpy" or "numpy,torch").
    """
    if function is None:
        return functools.partial(compile, backends=backends)
    if isinstance(backends, str):
        backends = backend_names(backends)
    for backend in backends or default_backends():
        for call in literal_calls(function):
            _compile_call(function, call, backend)
    return function


def default_backends():
    """Return numpy, plus torch where torch is importable."""
    return ["numpy", "torch"] if importlib.util.find_spec("torch") is not None else ["numpy"]


def _operation_functions():
    from eindex_codegen import numpy as numpy_module

    table = {getattr(api, name): name for name in _PATTERN_POSITION}
    table.update({getattr(numpy_module, name): name for name in _PATTERN_POSITION})
    try:
        torch_module = importlib.import_module("eindex_codegen.torch")
    except ImportError:
        return table  # torch is not installed
    table.update({getattr(torch_module, name): name for name in _PATTERN_POSITION})
    return table


def literal_calls(function):
    """Yield (operation, pattern node, options, call node) for each literal-pattern eindex call."""
    try:
        lines, first_line = inspect.getsourcelines(function)
    except (OSError, TypeError):
        logger.debug("no source for %r: its patterns compile at run time", function)
        return
    tree = ast.parse(textwrap.dedent("".join(lines)))
    ast.increment_lineno(tree, first_line - 1)
    namespace = _namespace(function)
    operations = _operation_functions()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        operation = operations.get(_resolve(node.func, namespace))
        if operation is None:
            continue
        found = _literal_arguments(node, operation)
        if found is not None:
            yield (operation, *found, node)


def _namespace(function):
    function = inspect.unwrap(function)
    namespace = dict(vars(builtins))
    namespace.update(function.__globals__)
    closure = function.__closure__ or ()
    for name, cell in zip(function.__code__.co_freevars, closure):
        try:
            namespace[name] = cell.cell_contents
        except ValueError:
            continue  # the cell is not filled yet: a name assigned after the function is defined
    return namespace


def _resolve(node, namespace):
    """Return the object an expression of names and attributes refers to, or None."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, namespace)
        return getattr(base, node.attr, None) if base is not None else None
    return None


def _literal(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _literal_arguments(call, operation):
    position = _PATTERN_POSITION[operation]
    if len(call.args) <= position or _literal(call.args[position]) is None:
        return None
    options = {}
    agg_position = _AGG_POSITION.get(operation)
    if agg_position is not None and len(call.args) > agg_position:
        options["agg"] = call.args[agg_position]
    for keyword in call.keywords:
        if keyword.arg in ("agg", "order_axis"):
            options[keyword.arg] = keyword.value
    if any(not isinstance(value, ast.Constant) for value in options.values()):
        return None
    return call.args[position], {name: value.value for name, value in options.items()}


def _compile_call(function, call, backend):
    operation, pattern_node, options, _ = call
    pattern = pattern_node.value
    try:
        api.compiled(operation, pattern, backend, **options)
    except PatternError as error:
        filename = inspect.getsourcefile(function)
        where = (f"in {function.__qualname__} at {filename}:{pattern_node.lineno}, "
                 f"column {error.columns[0] + 1 if error.columns else 1} of the pattern")
        raise PatternError(f"{error.reason} ({where})", error.pattern, error.columns, error.hint) from None
    except EindexError as error:
        # An invalid option (agg, order_axis) or backend, located by the line of its call.
        filename = inspect.getsourcefile(function)
        raise EindexError(f"{error} (in {function.__qualname__} at {filename}:{pattern_node.lineno})") from None
