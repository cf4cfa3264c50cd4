"""Plans to Python source, through the Jinja templates of each backend.

The templates only lay code out: every name, stride and axis position comes
from the plan. Each rendered module is compiled once here, so a template
mistake fails at generation time, not at the user's first call.
"""

import functools
import json
import textwrap

import jinja2

from eindex_codegen import resources
from eindex_codegen.errors import EindexError

BACKENDS = ("numpy", "torch")


def python_literal(value):
    """Spell a str, number, None or a tuple/list of them as Python source, strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (tuple, list)):
        items = ", ".join(python_literal(item) for item in value)
        if isinstance(value, list):
            return f"[{items}]"
        return f"({items},)" if len(value) == 1 else f"({items})"
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    raise TypeError(f"no Python literal for {value!r}")


def unpack_target(names):
    """Spell the left side that unpacks a sequence into `names`: `(a,)` for one, `a, b` for more."""
    return f"({names[0]},)" if len(names) == 1 else ", ".join(names)


def comment_lines(text, indent):
    """Spell `text` as `#` comment lines of at most 100 characters, indented by `indent` spaces."""
    prefix = " " * indent + "# "
    return "\n".join(textwrap.wrap(text, width=100, initial_indent=prefix, subsequent_indent=prefix))


def tuple_expression(expressions):
    """Spell a tuple display of Python expressions: `(a,)` for one, `(a, b)` for more."""
    return f"({expressions[0]},)" if len(expressions) == 1 else f"({', '.join(expressions)})"


@functools.lru_cache(maxsize=1)
def _environment():
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resources.templates_dir()),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters["python"] = python_literal
    environment.filters["unpack"] = unpack_target
    environment.filters["tuple_expression"] = tuple_expression
    environment.filters["comment"] = comment_lines
    environment.filters["quote_pattern"] = lambda text: f"'{text}'"
    return environment


def _signature(plan):
    if plan.operation in ("argmax", "argmin", "argsort"):
        return "x, /"
    if plan.operation == "gather":
        return "arr, ind, /, *, check_bounds=True"
    return "arr, ind, /, *, check_bounds=True, **sizes"


def render(plan, backend):
    """Return the body of the generated module for `plan` (the cache adds the header lines)."""
    if backend not in BACKENDS:
        raise EindexError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    template = _environment().get_template(f"{backend}/module.py.j2")
    width = max((len(name) for name, _ in plan.axis_roles), default=0)
    source = template.render(plan=plan, signature=_signature(plan), width=width)
    compile(source, f"<eindex_codegen {plan.operation} {plan.pattern!r}>", "exec")
    return source
