"""Validation of the options that select a generated module (agg, order_axis), and backend lists."""

from eindex_codegen.errors import EindexError
from eindex_codegen.syntax import ARG_OPERATIONS, INDEX_OPERATIONS, normalize_name

AGGREGATIONS = ("sum", "mean", "min", "max")


def check_options(operation, agg=None, order_axis=None):
    """Validate the options of `operation` and return them in canonical form."""
    if operation not in INDEX_OPERATIONS + ARG_OPERATIONS:
        raise EindexError(f"unknown operation {operation!r}; expected one of "
                          f"{', '.join(INDEX_OPERATIONS + ARG_OPERATIONS)}")
    options = {}
    if operation in INDEX_OPERATIONS:
        if agg is None and operation != "gather":
            agg = "sum"
        if agg is not None and agg not in AGGREGATIONS:
            raise EindexError(f"unknown agg {agg!r}; expected one of {', '.join(AGGREGATIONS)}")
        options["agg"] = agg
    elif agg is not None:
        raise EindexError(f"{operation} takes no agg")
    if operation == "argsort":
        order_axis = "order" if order_axis is None else order_axis
        if not isinstance(order_axis, str) or not order_axis.isidentifier():
            raise EindexError(f"order_axis must be an identifier, not {order_axis!r}")
        if order_axis.startswith("_") or order_axis.endswith("_"):
            raise EindexError(f"order_axis {order_axis!r} is reserved: axis names must not start or end with '_'")
        options["order_axis"] = normalize_name(order_axis)
    elif order_axis is not None:
        raise EindexError(f"{operation} takes no order_axis; only argsort does")
    return options


def backend_names(text):
    """Return the names in a comma-separated list of backends such as "numpy,torch", blanks dropped."""
    return [name.strip() for name in text.split(",") if name.strip()]
