"""The role of every axis of a pattern, by operation, and where each size comes from.

Each operation allows a fixed set of placements (which of array, brackets,
index and result an axis appears in). Anything else is a `PatternError`
that names the axis and lists the placements that operation allows.
"""

import dataclasses

from eindex_codegen.errors import PatternError
from eindex_codegen.options import AGGREGATIONS

ARRAY, BRACKETS, INDEX, RESULT = "array", "brackets", "index", "result"

# Placement (as a frozenset of parts) -> role, per operation.
_ROLES = {
    "gather": {
        (ARRAY, BRACKETS): "indexed: its coordinate comes from the index",
        (ARRAY, INDEX, RESULT): "batch: aligned across array, index and result",
        (INDEX, RESULT): "new: a result axis taken from the index",
        (ARRAY, RESULT): "carried through from the array",
        (ARRAY, INDEX): "reduced over with agg",
        (INDEX,): "reduced over with agg: several lookups per output",
    },
    "scatter": {
        (BRACKETS, RESULT): "indexed in the output",
        (ARRAY, INDEX, RESULT): "batch: aligned across array, index and result",
        (INDEX, RESULT): "an output axis taken from the index",
        (ARRAY, RESULT): "carried through from the array",
        (ARRAY, INDEX): "aggregated over",
        (INDEX,): "replicas: each value is written to several places",
    },
    "gather_scatter": {
        (ARRAY, BRACKETS): "indexed in the array: read from",
        (BRACKETS, RESULT): "indexed in the output: written to",
        (ARRAY, BRACKETS, RESULT): "indexed in both: read from and written to",
        (ARRAY, INDEX, RESULT): "batch: aligned across array, index and result",
        (INDEX, RESULT): "an output axis taken from the index",
        (ARRAY, RESULT): "carried through from the array",
        (ARRAY, INDEX): "aggregated over",
        (INDEX,): "aggregated over",
    },
}



@dataclasses.dataclass(frozen=True)
class IndexRoles:
    """Roles and size sources of an indexing pattern.

    `free` lists the axes that are not bracketed, in the order of the
    working layout: the free result axes first (in result order), then the
    axes that are reduced or aggregated over. `size_source[axis]` is
    "array", "index" or "keyword".
    """

    operation: str
    role: dict
    free: tuple
    reduced: tuple
    size_source: dict


def index_roles(operation, pattern, agg):
    """Check every axis of an `IndexPattern` for `operation` and return its roles."""
    parts = {
        ARRAY: [axis.name for axis in pattern.array],
        BRACKETS: [axis.name for axis in pattern.brackets if not axis.ignored],
        INDEX: [axis.name for axis in pattern.index],
        RESULT: [axis.name for axis in pattern.result],
    }
    columns = _columns_by_name(pattern)
    allowed = _ROLES[operation]
    role = {}
    for name in columns:
        placement = tuple(part for part in (ARRAY, BRACKETS, INDEX, RESULT) if name in parts[part])
        if placement not in allowed:
            raise PatternError(_misplaced_message(operation, name, placement), pattern.text, columns[name])
        role[name] = allowed[placement]

    if not parts[BRACKETS]:
        raise PatternError("the brackets name no axis: at least one bracketed axis must not start with '_'",
                           pattern.text, [axis.column for axis in pattern.brackets])

    free_result = [name for name in parts[RESULT] if name not in parts[BRACKETS]]
    reduced = [name for name in parts[ARRAY] + parts[INDEX]
               if name not in parts[RESULT] and name not in parts[BRACKETS]]
    reduced = list(dict.fromkeys(reduced))
    if operation == "gather" and reduced and agg is None:
        raise PatternError(
            f"axis {reduced[0]!r} is not in the result, so gather reduces over it: pass agg= "
            f"(one of {', '.join(AGGREGATIONS)}) or add it to the result",
            pattern.text, columns[reduced[0]])

    size_source = {}
    for name in columns:
        if name in parts[ARRAY]:
            size_source[name] = ARRAY
        elif name in parts[INDEX]:
            size_source[name] = INDEX
        else:
            size_source[name] = "keyword"
    return IndexRoles(operation, role, tuple(free_result + reduced), tuple(reduced), size_source)


def arg_roles(operation, pattern, order_axis):
    """Check an `ArgPattern` for `operation`; return the order axis name (argsort) or None."""
    columns = _columns_by_name(pattern)
    inputs = {axis.name for axis in pattern.input}
    outputs = {axis.name for axis in pattern.found + pattern.other}
    for axis in pattern.found:
        if axis.ignored:
            raise PatternError(f"{axis.name!r} ignores an index row, but {operation} has no index: "
                               "name an input axis in the brackets", pattern.text, [axis.column])

    order = None
    if operation == "argsort":
        order = order_axis
        if order in inputs:
            raise PatternError(f"the order axis {order!r} must not be an input axis; "
                               "pass order_axis= to name it differently", pattern.text, columns[order])
        if order not in {axis.name for axis in pattern.other}:
            at = columns.get(order, [len(pattern.text)])
            raise PatternError(f"argsort needs the order axis {order!r} on the result side, outside the "
                               "brackets (pass order_axis= to use another name)", pattern.text, at)

    for name in sorted(outputs - inputs - {order}):
        raise PatternError(f"axis {name!r} is in the result but not in the input of {operation}",
                           pattern.text, columns[name])
    for name in sorted(inputs - outputs):
        raise PatternError(f"axis {name!r} of the input is missing from the result of {operation}: "
                           "put it in the brackets to search over it, or after them to keep it",
                           pattern.text, columns[name])
    return order


def _columns_by_name(pattern):
    columns = {}
    for field in dataclasses.fields(pattern)[1:]:
        for axis in getattr(pattern, field.name):
            if not axis.ignored:
                columns.setdefault(axis.name, []).append(axis.column)
    return columns


def _misplaced_message(operation, name, placement):
    where = " and ".join(placement) if placement else "nowhere"
    allowed = "; ".join(f"{' + '.join(key)} ({role.split(':')[0]})" for key, role in _ROLES[operation].items())
    hint = ""
    if operation == "gather" and BRACKETS in placement and RESULT in placement:
        hint = " To write to bracketed positions, use scatter or gather_scatter."
    if operation == "scatter" and BRACKETS in placement and ARRAY in placement:
        hint = " To read from bracketed positions as well, use gather_scatter."
    return f"in {operation}, axis {name!r} appears in the {where}, which no role allows. " \
           f"Allowed placements: {allowed}.{hint}"
