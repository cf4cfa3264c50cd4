"""The planner: a checked pattern becomes an explicit graph of index arithmetic.

A `Plan` is a list of `Step`s in execution order. Each step names its
outputs and inputs (the variables of the generated code), the layout of
its output in pattern notation, a one-line comment, and the parameters a
template needs to lay it out. Every decision is made here; the templates
in `templates/<backend>/` only spell the steps in a backend's calls.

Variable names are built from axis names with a fixed prefix (`size_h`,
`row_h`), never an axis name bare, so any identifier is a safe axis name.
"""

import dataclasses

from eindex_codegen import roles as roles_module
from eindex_codegen.errors import PatternError
from eindex_codegen.options import check_options
from eindex_codegen.parse import parse
from eindex_codegen.syntax import INDEX_OPERATIONS, normalize_text


@dataclasses.dataclass(frozen=True)
class Step:
    """One node of the graph."""

    kind: str
    outputs: tuple
    inputs: tuple
    layout: str
    comment: str
    params: dict = dataclasses.field(default_factory=dict, compare=False)

    def describe(self):
        target = ", ".join(self.outputs) if self.outputs else "-"
        return f"{target} = {self.kind}({', '.join(self.inputs)})", self.layout


@dataclasses.dataclass(frozen=True)
class Plan:
    """The graph of one (operation, pattern, options)."""

    operation: str
    pattern: str
    options: dict
    arguments: tuple
    axis_roles: tuple
    steps: tuple

    def describe(self):
        """Return the graph as text: one line per step, with its output layout in axis names."""
        # Written as a valid call: the arrays, the pattern, the options, then **sizes.
        arrays = [name for name in self.arguments if not name.startswith("**")]
        keywords = [name for name in self.arguments if name.startswith("**")]
        options = [f"{name}={value!r}" for name, value in self.options.items()]
        lines = [f"{self.operation}({', '.join(arrays + [repr(self.pattern)] + options + keywords)})"]
        rows = [step.describe() for step in self.steps]
        width = max(len(code) for code, _ in rows)
        lines += [f"  {code.ljust(width)}  : {layout}" if layout else f"  {code}" for code, layout in rows]
        return "\n".join(lines)


def build_plan(operation, text, **options):
    """Parse, check and plan `text` for `operation`."""
    options = check_options(operation, **options)
    pattern = parse(operation, text)
    if operation in INDEX_OPERATIONS:
        return _IndexPlanner(operation, pattern, options["agg"]).plan()
    return _ArgPlanner(operation, pattern, options.get("order_axis")).plan()


# Keywords of scatter and gather_scatter that are options, so they cannot size an axis.
_OPTION_KEYWORDS = ("agg", "check_bounds")

# Below this many index positions, a gather indexes the array in place rather than through flat
# offsets (see _IndexPlanner._read for the timings behind it).
SMALL_READ = 256

# Below this many values, a numpy scatter of whole rows applies np.add.at (or np.minimum.at,
# np.maximum.at) to the rows of a 2-d result. From here on it builds one flat offset per element
# and applies it to the flat result. Timed with numpy 2.4 on 2 x86 cores, offsets included:
# 16 rows of 8 into 4 took 2.7 against 3.8 us, 32 rows of 8 took 4.0 against 4.2 us, and 64 rows
# of 8 took 6.5 against 4.8 us. The two were within 10% of each other at 256 values, and the flat
# index won from 512 values at every row width timed (1 to 32).
# At 200,000 rows of 32 into 64 (make bench), np.add.at took 18 ms on a flat 1-d index against
# 57 ms on a 2-d array, 25 ms for np.bincount with weights and 30 ms for argsort with np.add.reduceat.
SMALL_SCATTER = 256

# Scatter sums of whole rows with torch on the CPU: index_put with accumulate=True against
# index_add, timed with torch 2.13, one thread, on 2 x86 cores (float32 rows of 4 to 128). From
# 2**17 rows into a result of at most 2**20 elements, index_put won: 4.2 against 9.3 ms for
# 200,000 rows of 32 into 64, 31 against 39 ms for 1,000,000 rows of 32 into 30,000. Otherwise
# index_add mostly won: 0.57 against 1.2 ms for 60,000 rows of 32 into 64, and 42 against 139 ms
# for 1,000,000 rows of 32 into 100,000. The rule misses by up to 14% at 100,000 rows of 128,
# where index_put won.
# NOTE: CUDA was not timed, so it always takes index_add.
PUT_MIN_ROWS = 2**17
PUT_MAX_RESULT = 2**20


def size_var(axis):
    return f"size_{axis}"


def row_var(axis):
    return f"row_{axis}"


def _spaced(axes):
    return " ".join(axes)


def _placement(dims, frame, keep_leading=False):
    """Return (transpose, subscript) that lay an operand with `dims` out in the `frame` order.

    `transpose` is None when `dims` already follow the frame order. The
    subscript puts None at the frame positions the operand lacks. Leading
    Nones are dropped, because broadcasting aligns from the right, unless
    `keep_leading` asks for one dimension per frame axis.
    """
    ordered = [axis for axis in frame if axis in dims]
    transpose = None if ordered == list(dims) else tuple(dims.index(axis) for axis in ordered)
    subscript = [":" if axis in dims else "None" for axis in frame]
    while subscript and subscript[0] == "None" and not keep_leading:
        subscript.pop(0)
    if all(item == ":" for item in subscript):
        subscript = []
    return transpose, tuple(subscript)


def _term_inputs(terms):
    names = []
    for term in terms:
        names += [term["var"], *term["stride"]]
    return list(dict.fromkeys(names))


def _prune_sizes(steps):
    """Drop the sizes that no later step reads, so the generated code has no dead assignments.

    An unread size unpacked from a shape becomes `_`; an unread size defined
    from the index shape is not defined at all. Steps are visited last to
    first, so a size dropped here can leave `index_shape` unread in turn.
    """
    read = set()
    pruned = []
    for step in reversed(steps):
        if step.kind == "array_sizes":
            outputs = tuple(name if name in read else "_" for name in step.outputs)
            step = dataclasses.replace(step, outputs=() if set(outputs) <= {"_"} else outputs)
        elif step.kind == "index_rows" and "index_shape" not in read:
            step = dataclasses.replace(step, outputs=step.outputs[:-1] + ("_",))
        elif step.kind == "index_sizes":
            defines = tuple(item for item in step.params["defines"] if item[2] in read)
            if not defines and not step.params["checks"]:
                continue
            step = dataclasses.replace(step, outputs=tuple(item[2] for item in defines),
                                       params={**step.params, "defines": defines})
        read.update(step.inputs)
        pruned.append(step)
    return tuple(reversed(pruned))


class _IndexPlanner:
    """Plans gather, scatter and gather_scatter from one set of steps."""

    def __init__(self, operation, pattern, agg):
        self.operation = operation
        self.pattern = pattern
        self.agg = agg
        self.roles = roles_module.index_roles(operation, pattern, agg)
        self.array = [axis.name for axis in pattern.array]
        self.index = [axis.name for axis in pattern.index]
        self.result = [axis.name for axis in pattern.result]
        self.brackets = [axis.name for axis in pattern.brackets]
        self.indexed = [name for name in self.brackets if not name.startswith("_")]
        self.suffix = self._row_suffix()
        if any(name in self.indexed for name in self.array):
            # Read through the index: free result axes, then reduced ones, then the rows read whole,
            # so a gather's result needs no transpose and its reductions run over adjacent axes.
            self.frame = [name for name in self.roles.free if name not in self.suffix] + self.suffix
        else:
            # Scatter: the array's own order with the replica axes before the whole rows, so the
            # values of a contiguous array are laid out without a copy.
            replicas = [name for name in self.roles.free if name not in self.array]
            self.frame = [name for name in self.array if name not in self.suffix] + replicas + self.suffix
        self.steps = []

    def _row_suffix(self):
        """Return the trailing array axes that are read and written as whole rows.

        They end both the array and the result in the same order and are
        neither indexed nor in the index, so one offset per row addresses
        them all: the offsets then take the index's size, not the result's.
        """
        suffix = []
        for array_axis, result_axis in zip(reversed(self.array), reversed(self.result)):
            if array_axis != result_axis or array_axis in self.indexed or array_axis in self.index:
                break
            suffix.insert(0, array_axis)
        return suffix

    def plan(self):
        self._sizes()
        if self.agg == "mean":
            self._add("check_float", (), ("arr",), "", "agg='mean' needs a floating-point array.")
        self._bounds_check()
        self._read()
        self._write()
        options = {"agg": self.agg} if self.operation != "gather" or self.agg else {}
        arguments = ("arr", "ind") + (("**sizes",) if self.operation != "gather" else ())
        axis_roles = tuple((name, self._describe_role(name)) for name in self.roles.role)
        return Plan(self.operation, normalize_text(self.pattern.text), options, arguments, axis_roles,
                    _prune_sizes(self.steps))

    def _add(self, kind, outputs, inputs, layout, comment, **params):
        self.steps.append(Step(kind, tuple(outputs), tuple(inputs), layout, comment, params))

    def _describe_role(self, name):
        source = self.roles.size_source[name]
        size = {"array": "size from the array", "index": "size from the index",
                "keyword": f"size from the keyword {name}="}[source]
        return f"{self.roles.role[name]}; {size}"

    def _sizes(self):
        array_sizes = [size_var(name) for name in self.array]
        shape_text = _spaced(self.array) if self.array else "none (0-d)"
        self._add("array_sizes", array_sizes, ("arr",), "", f"Axes of the array: {shape_text}.",
                  argument="arr", part="array", axes=tuple(self.array))

        rows = [row_var(name) if not name.startswith("_") else "_" for name in self.brackets]
        bracket_text = ", ".join(self.brackets)
        self._add("index_rows", ["rows"] + rows + ["index_shape"], ("ind",),
                  f"[{bracket_text}] {_spaced(self.index)}".rstrip(),
                  f"Index rows [{bracket_text}] as int64, broadcast to one shape: {_spaced(self.index) or '0-d'}.",
                  names=tuple(self.brackets), index_axes=tuple(self.index),
                  unpacked=tuple((position, row) for position, row in enumerate(rows) if row != "_"))

        checks = [(dim, name, size_var(name)) for dim, name in enumerate(self.index)
                  if self.roles.size_source[name] == "array"]
        defines = [(dim, name, size_var(name)) for dim, name in enumerate(self.index)
                   if self.roles.size_source[name] == "index"]
        if checks or defines:
            comment = "Sizes of the index axes"
            if checks:
                comment += f"; {_spaced(name for _, name, _ in checks)} must match the array or be 1"
            self._add("index_sizes", [var for _, _, var in defines],
                      ["index_shape"] + [var for _, _, var in checks], "", comment + ".",
                      checks=tuple(checks), defines=tuple(defines))

        if self.operation != "gather":
            known = tuple((name, size_var(name)) for name in self.roles.role
                          if self.roles.size_source[name] != "keyword")
            needed = tuple((name, size_var(name)) for name in self.roles.role
                           if self.roles.size_source[name] == "keyword")
            self._check_keyword_names([name for name, _ in needed])
            comment = "Keyword sizes: any given must match the inputs"
            if needed:
                comment += f"; {_spaced(name for name, _ in needed)} must be given"
            self._add("keyword_sizes", [var for _, var in needed], ["sizes"] + [var for _, var in known], "",
                      comment + ".",
                      known=known, needed=needed)

    def _check_keyword_names(self, names):
        """Reject a keyword-sized axis named like an option of the call, which takes that keyword."""
        for name in names:
            if name in _OPTION_KEYWORDS:
                column = next(axis.column for axis in self.pattern.result if axis.name == name)
                raise PatternError(
                    f"axis {name!r} takes its size from a keyword, but {name}= is an option of "
                    f"{self.operation}: rename the axis", self.pattern.text, [column])

    def _bounds_check(self):
        # One call checks every row, so that a stacked index is reduced once (see check_bounds).
        sizes = tuple("None" if name.startswith("_") else size_var(name) for name in self.brackets)
        self._add("bounds_check", (), ["rows"] + [size for size in sizes if size != "None"], "",
                  "Every coordinate must lie inside its own axis, checked before flattening.",
                  sizes=sizes, names=tuple(self.brackets))

    def _offset_terms(self, axes, frame):
        terms = []
        for position, name in enumerate(axes):
            stride = tuple(size_var(later) for later in axes[position + 1:])
            if name in self.indexed:
                transpose, subscript = _placement(self.index, frame)
                terms.append({"source": "row", "var": row_var(name), "transpose": transpose,
                              "subscript": subscript, "stride": stride})
            else:
                _, subscript = _placement([name], frame)
                terms.append({"source": "arange", "var": size_var(name), "transpose": None,
                              "subscript": subscript, "stride": stride})
        return tuple(terms)

    def _sizes_of(self, axes):
        return [size_var(name) for name in axes]

    def _final_output(self):
        """Name the read values `result` when no step follows: nothing is reduced or written."""
        written = any(name in self.indexed for name in self.result)
        return "values" if written or self.roles.reduced else "result"

    def _read(self):
        frame_text = _spaced(self.frame) or "0-d"
        if any(name in self.indexed for name in self.array):
            rows = [name for name in self.array if name not in self.suffix]
            row_frame = [name for name in self.frame if name not in self.suffix]
            terms = self._offset_terms(rows, row_frame)
            whole = f", each row {_spaced(self.suffix)} read whole" if self.suffix else ""
            # Two reads, chosen at run time. Timed on 2 x86 cores with numpy 2.4 (b h w c gather):
            # fancy indexing took 3.4 us against 4.4 us for np.take at 6 rows, 11 against 8.5 us at
            # 256 rows, and 1.7 ms against 0.36 ms at 8192 rows of 64. Indexing in place also avoids
            # copying a transposed or broadcast view, which reshape would do.
            inputs = ["arr"] + _term_inputs(terms) + self._sizes_of(rows + self.suffix)
            output = self._final_output()
            # Index rows without axes are 0-d, and numpy and torch index with them as with integers,
            # which returns a view of the array. A result read that way is copied.
            copy = not self.index and output == "result"
            copied = " 0-d rows index like integers and return a view, so the values are copied." if copy else ""
            self._add("read", [output], list(dict.fromkeys(inputs)), frame_text,
                      f"Read the array at the indexed positions: {frame_text}{whole}. Few rows, or a "
                      f"view that is not contiguous, are indexed in place; from {SMALL_READ} rows on, a "
                      f"contiguous array is read faster through flat row offsets.{copied}",
                      terms=terms, rows=tuple(self._sizes_of(rows)), suffix=tuple(self._sizes_of(self.suffix)),
                      first_row=row_var(self.indexed[0]), small=SMALL_READ, copy_result=copy)
        else:
            # Leading axes of size 1 are kept, so the values have one dimension per frame axis.
            transpose, subscript = _placement(self.array, self.frame, keep_leading=True)
            comment = (f"The values are the array, already laid out as {frame_text}."
                       if transpose is None and not subscript else
                       f"The array laid out as {frame_text}, new axes of size 1 where it has none.")
            self._add("expand", ["values"], ("arr",), frame_text, comment,
                      transpose=transpose, subscript=subscript, argument="arr")

    def _write(self):
        result_text = _spaced(self.result) or "0-d"
        if any(name in self.indexed for name in self.result):
            rows = [name for name in self.result if name not in self.suffix]
            row_frame = [name for name in self.frame if name not in self.suffix]
            terms = self._offset_terms(rows, row_frame)
            row_text = _spaced(row_frame) or "0-d"
            whole = f", one per row of {_spaced(self.suffix)}" if self.suffix else ""
            self._add("flat_offset", ["offset_out"], _term_inputs(terms), row_text,
                      f"Flat offsets into the result{whole}, laid out as {row_text}.", terms=terms)
            self._add("scatter_reduce", ["result"], ["values", "offset_out"] + self._sizes_of(self.result),
                      result_text,
                      f"Scatter-{self.agg} every value to its offset, then shape the result as {result_text}.",
                      agg=self.agg, sizes=tuple(self._sizes_of(self.result)), rows=tuple(self._sizes_of(rows)),
                      suffix=tuple(self._sizes_of(self.suffix)), positions=len(row_frame), small=SMALL_SCATTER,
                      put_min_rows=PUT_MIN_ROWS, put_max_result=PUT_MAX_RESULT)
        elif self.roles.reduced:
            counts = self._sizes_of(self.roles.reduced) if self.agg == "mean" else []
            self._add("reduce", ["result"], ["values"] + counts, result_text,
                      f"{self.agg.capitalize()} over {_spaced(self.roles.reduced)}: {result_text}.",
                      agg=self.agg, axes=tuple(self.frame.index(name) for name in self.roles.reduced),
                      counts=tuple(size_var(name) for name in self.roles.reduced))
        if not self.result:
            # numpy's take and reductions return a scalar, not an array, for a 0-d result.
            self._add("zero_d", ["result"], ["result"], "0-d", "A 0-d result is returned as a 0-d array.")


class _ArgPlanner:
    """Plans argmax, argmin and argsort: flatten the found axes, reduce or sort, unravel."""

    def __init__(self, operation, pattern, order_axis):
        self.operation = operation
        self.pattern = pattern
        self.order = roles_module.arg_roles(operation, pattern, order_axis)
        self.input = [axis.name for axis in pattern.input]
        self.found = [axis.name for axis in pattern.found]
        self.other = [axis.name for axis in pattern.other]
        self.kept = [name for name in self.other if name != self.order]
        self.steps = []

    def _add(self, kind, outputs, inputs, layout, comment, **params):
        self.steps.append(Step(kind, tuple(outputs), tuple(inputs), layout, comment, params))

    def plan(self):
        found_text = ", ".join(self.found)
        self._add("array_sizes", [size_var(name) for name in self.input], ("x",), "",
                  f"Axes of the input: {_spaced(self.input)}.", argument="x", part="input",
                  axes=tuple(self.input))
        found_sizes = tuple(size_var(name) for name in self.found)
        if self.operation != "argsort":
            self._add("found_check", (), found_sizes, "",
                      f"An empty [{found_text}] has no {self.operation[3:]} position.",
                      sizes=found_sizes, names=tuple(self.found), operation=self.operation)

        flat_layout = f"{_spaced(self.kept)} ({_spaced(self.found)})".strip()
        order = self.kept + self.found
        transpose = None if order == self.input else tuple(self.input.index(name) for name in order)
        # One found axis, already last, is laid out as it must be: the input is used as it is.
        reshape = transpose is not None or len(self.found) > 1
        sizes = [size_var(name) for name in self.kept] + list(found_sizes) if reshape else []
        self._add("flatten", ["x_flat"], ["x"] + sizes, flat_layout,
                  f"The input as {flat_layout}: positions over [{found_text}] in row-major order.",
                  transpose=transpose, sizes=tuple(size_var(name) for name in self.kept), found=found_sizes,
                  reshape=reshape)

        if self.operation == "argsort":
            position_layout = _spaced(self.kept + [self.order])
            self._add("arg_reduce", ["flat_position"], ("x_flat",), position_layout,
                      f"Stable ascending sort along ({_spaced(self.found)}), NaN last: {position_layout}.",
                      function="argsort")
        else:
            position_layout = _spaced(self.kept)
            self._add("arg_reduce", ["flat_position"], ("x_flat",), position_layout,
                      f"First position of the {self.operation[3:]} along ({_spaced(self.found)}), "
                      f"NaN first: {position_layout or '0-d'}.", function=self.operation)

        stacked = f"[{found_text}] {position_layout}".rstrip()
        # One found axis needs no unravelling, so its size is not read.
        unravel_sizes = found_sizes if len(found_sizes) > 1 else ()
        self._add("unravel", ["result"], ("flat_position",) + unravel_sizes, stacked,
                  f"Unravel into one row per bracketed axis: {stacked}.", sizes=found_sizes)
        if self.order is not None and self.other[-1] != self.order:
            final = f"[{found_text}] {_spaced(self.other)}"
            # The first axis of the result is the row axis, and the order axis is last until it is moved.
            current = [None] + self.kept + [self.order]
            permutation = tuple(current.index(name) for name in [None] + self.other)
            self._add("move_axis", ["result"], ("result",), final, f"Move {self.order} into place: {final}.",
                      permutation=permutation)

        options = {"order_axis": self.order} if self.order is not None else {}
        axis_roles = [(name, "searched over: its position is returned") for name in self.found]
        axis_roles += [(name, "kept: one result per value") for name in self.kept]
        if self.order is not None:
            axis_roles.append((self.order, "order: positions sorted by ascending value"))
        return Plan(self.operation, normalize_text(self.pattern.text), options, ("x",), tuple(axis_roles),
                    _prune_sizes(self.steps))


def plan_to_dot(plan):
    """Return the plan as a Graphviz DOT digraph: one node per step, an edge per variable passed on."""
    lines = [f"digraph {_dot_string(plan.operation)} {{",
             f"  label={_dot_string(f'{plan.operation} {plan.pattern!r}')};",
             "  node [shape=box, fontname=monospace];"]
    producer = {}
    for number, step in enumerate(plan.steps):
        code, layout = step.describe()
        label = f"{code}\\n{layout}" if layout else code
        lines.append(f"  step{number} [label={_dot_string(label)}];")
        for name in dict.fromkeys(step.inputs):
            if name in producer:
                lines.append(f"  step{producer[name]} -> step{number} [label={_dot_string(name)}];")
        for name in step.outputs:
            producer[name] = number
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\\\\n", "\\n") + '"'
