"""Every bad input raises a clear error, and edge cases that look bad but are valid work.

Pattern errors are `PatternError`: each test checks the words of the message,
the columns of the carets (in `err.columns` and in the caret line of the
message) and, for the common slips, the hint. Every other failure is an
`EindexError` whose message names the axis, the expected and the actual
size, or the offending value, and repeats the pattern.

Each test runs once on numpy arrays and once on torch tensors with the same
data (the `backend` fixture), and expects the same words from both,
except that torch spells dtypes as torch.float32 and calls its arrays
tensors. The tests that mix numpy arrays with torch tensors run once.
"""

import numpy as np
import pytest

import eindex_codegen as eindex
import eindex_codegen.numpy as eindex_numpy
from eindex_codegen import EindexError, PatternError

INDEX_FORM = "ARRAY_AXES, [INDEXED_AXES] INDEX_AXES -> RESULT_AXES"
ARG_FORM = "INPUT_AXES -> [FOUND_AXES] OTHER_AXES"

GATHER = "b h w c, [h, w] b t -> b t c"
SCATTER = "b t c, [h, w] b t -> b h w c"


def compile_error(backend, operation, pattern, **options):
    """Return the PatternError that compiling `pattern` for `operation` on `backend` raises."""
    with pytest.raises(PatternError) as caught:
        eindex.source(operation, pattern, backend.name, **options)
    return caught.value


def run_error(function, *args, **kwargs):
    """Return the message of the EindexError that the call raises; it must not be a PatternError."""
    with pytest.raises(EindexError) as caught:
        function(*args, **kwargs)
    assert not isinstance(caught.value, PatternError)
    return str(caught.value)


def caret_columns(error):
    """Return the 0-based columns of the carets printed under the pattern in str(error)."""
    lines = str(error).splitlines()
    # PatternError prints each whitespace character of the pattern as one space.
    printed_pattern = "".join(" " if char.isspace() else char for char in error.pattern)
    pattern_line = lines.index(f"    {printed_pattern}")
    caret_line = lines[pattern_line + 1]
    return tuple(column - 4 for column, character in enumerate(caret_line) if character == "^")


def assert_carets(error, columns):
    assert error.columns == tuple(columns)
    assert caret_columns(error) == tuple(columns)


def assert_words(message, words):
    for word in words:
        assert word in message


def index(*shape):
    return np.zeros(shape, dtype=np.int64)


def test_error_classes_are_value_errors():
    assert issubclass(PatternError, EindexError)
    assert issubclass(EindexError, ValueError)


# --- Malformed patterns -------------------------------------------------------------------------

# (operation, pattern, words in the message, caret columns, words in the hint or None)
SYNTAX_ERRORS = {
    "unclosed bracket": (
        "gather", "b h w c, [h, w b t -> b t c", ["unexpected 'b'"], [15], "unbalanced"),
    "unopened bracket": (
        "gather", "b h w c, h, w] b t -> b t c", ["unexpected 'h'"], [9], "unbalanced"),
    "unclosed bracket at end": (
        "argmax", "b h w -> [h, w b", ["unexpected 'b'"], [15], "unbalanced"),
    "nested brackets": (
        "gather", "b h w c, [h, [w]] b t -> b t c", ["unexpected '['"], [13], "not nested"),
    "nested brackets in arg pattern": (
        "argmax", "b h w -> [[h, w]] b", ["unexpected '['"], [10], "not nested"),
    "missing arrow": (
        "gather", "b h w c, [h, w] b t  b t c", ["ends too early"], [26], "'->'"),
    "missing arrow in arg pattern": (
        "argmin", "b h w [h, w] b", ["unexpected '['"], [6], "'->'"),
    "empty pattern": ("gather", "", ["ends too early"], [0], "'->'"),
    "missing comma before brackets": (
        "gather", "b h w c [h, w] b t -> b t c", ["unexpected '['"], [8],
        "put a comma between the array axes and the bracket"),
    "missing comma inside brackets": (
        "gather", "b h w c, [h w] b t -> b t c", ["unexpected 'w'"], [12],
        "separate bracketed axes with commas: [h, w]"),
    "missing comma inside arg brackets": (
        "argmax", "b h w -> [h w] b", ["unexpected 'w'"], [12],
        "separate bracketed axes with commas: [h, w]"),
    "empty brackets": (
        "gather", "b h w c, [] b t -> b t c", ["unexpected ']'"], [10], "at least one axis"),
    "blank brackets in arg pattern": (
        "argmax", "b h w -> [ ] b", ["unexpected ']'"], [11], "at least one axis"),
    "two arrows": (
        "gather", "b h w c, [h, w] b t -> b t -> c", ["unexpected '->'"], [27], "exactly one '->'"),
    "two arrows in arg pattern": (
        "argsort", "a -> [a] -> order", ["unexpected '->'"], [9], "exactly one '->'"),
    "reversed arrow": (
        "gather", "b h w c, [h, w] b t <- b t c", ["unexpected character '<'"], [20],
        "the arrow is written '->'"),
    "reversed arrow in arg pattern": (
        "argmax", "b h w <- [h, w] b", ["unexpected character '<'"], [6],
        "the arrow is written '->'"),
    "stray exclamation mark": (
        "gather", "b h w c, [h, w] b t -> b t c!", ["unexpected character '!'"], [28], None),
    "stray parenthesis": (
        "gather", "b (h w) c, [h] b t -> b t c", ["unexpected character '('"], [2], None),
    "stray ellipsis": (
        "argmax", "b ... -> [b] ...", ["unexpected character '.'"], [2], None),
    "trailing comma in result": (
        "gather", "b h w c, [h, w] b t -> b t c,", ["unexpected ','"], [28], None),
    "trailing comma in brackets": (
        "gather", "b h w c, [h, w,] b t -> b t c", ["unexpected ']'"], [15], None),
    "comma after arg brackets": (
        "argmax", "b h w -> [h, w], b", ["unexpected ','"], [15], None),
    "name starting with a digit": (
        "gather", "b h w 1c, [h, w] b t -> b t c", ["unexpected character '1'"], [6], None),
    "name with a hyphen": (
        "gather", "b h w c, [h, w] b t -> b t x-y", ["unexpected character '-'"], [28], None),
    "name with a symbol": (
        "gather", "b h w c€, [h, w] b t -> b t c", ["unexpected character '€'"], [7], None),
}


@pytest.mark.parametrize("case", SYNTAX_ERRORS.values(), ids=SYNTAX_ERRORS.keys())
def test_malformed_pattern(backend, case):
    operation, pattern, words, columns, hint = case
    error = compile_error(backend, operation, pattern)

    assert_words(str(error), ["invalid pattern", *words])
    assert_carets(error, columns)
    if hint is None:
        assert error.hint is None
    else:
        assert hint in error.hint
        assert f"hint: {error.hint}" in str(error)


def test_syntax_error_names_the_expected_form(backend):
    assert INDEX_FORM in str(compile_error(backend, "scatter", "b c [h] b -> b h c"))
    assert ARG_FORM in str(compile_error(backend, "argsort", "b h <- [h] b order"))


def test_caret_line_aligns_under_tabs_and_newlines(backend):
    error = compile_error(backend, "gather", "b\th w c,\n[h w] b t -> b t c")

    assert_carets(error, [12])
    assert "    b h w c, [h w] b t -> b t c" in str(error)


def test_non_string_pattern(backend):
    with pytest.raises(PatternError) as caught:
        backend.gather(np.zeros(3), index(1, 2), 5)
    assert "a pattern must be a str, not int" in str(caught.value)


def test_public_functions_raise_pattern_errors(backend):
    with pytest.raises(PatternError) as caught:
        backend.gather(np.zeros((2, 3)), index(1, 4), "h c, [h t -> t c")
    assert caught.value.hint is not None
    with pytest.raises(PatternError):
        backend.call(backend.module.scatter, np.zeros((4, 3)), index(1, 4), "t c, [h] t -> h c c",
                     h=2)
    with pytest.raises(PatternError):
        backend.argsort(np.zeros((4, 3)), "t c -> [t] c")


# (operation, pattern, words in the message, caret columns)
NAME_ERRORS = {
    "repeated array axis": (
        "gather", "b h h c, [h, w] b t -> b t c", ["axis 'h' appears twice"], [2, 4]),
    "repeated bracketed axis": (
        "gather", "b h w c, [h, h] b t -> b t c", ["axis 'h' appears twice"], [10, 13]),
    "repeated index axis": (
        "scatter", "b t c, [h] b t t -> b h c", ["axis 't' appears twice"], [13, 15]),
    "repeated result axis": (
        "gather", "b h w c, [h, w] b t -> b t c c", ["axis 'c' appears twice"], [27, 29]),
    "repeated arg input axis": (
        "argmax", "b h b -> [h] b", ["axis 'b' appears twice"], [0, 4]),
    "arg axis in and after brackets": (
        "argmax", "b h w -> [h, w] b h", ["axis 'h' appears twice"], [10, 18]),
    "leading underscore in array": (
        "gather", "b _h w c, [h, w] b t -> b t c", ["'_h'", "array part is reserved"], [2]),
    "trailing underscore in array": (
        "gather", "b h w c_, [h, w] b t -> b t c_", ["'c_'", "array part is reserved"], [6]),
    "underscore alone in array": (
        "scatter", "_ c, [h] _ -> h c", ["'_'", "array part is reserved"], [0]),
    "leading underscore in index axes": (
        "gather", "h c, [h] _t -> _t c", ["'_t'", "is reserved"], [15]),
    "trailing underscore in result": (
        "scatter", "t c, [h] t -> h c_", ["'c_'", "result part is reserved"], [16]),
    "trailing underscore in brackets": (
        "gather", "h w c, [h, w_] t -> t c", ["'w_'", "is reserved"], [11]),
    "leading underscore in arg input": (
        "argmax", "_b h -> [h] _b", ["'_b'", "input part is reserved"], [0]),
    "trailing underscore in arg output": (
        "argsort", "b h -> [h] b order_", ["'order_'", "output part is reserved"], [13]),
    "trailing underscore in arg brackets": (
        "argmax", "b h w -> [h, w_] b", ["'w_'", "is reserved"], [13]),
    "leading underscore in arg brackets": (
        "argmax", "b h w -> [h, _w] b", ["'_w' ignores an index row", "argmax has no index"], [13]),
    "underscore alone in argsort brackets": (
        "argsort", "b h -> [_, h] b order", ["'_' ignores an index row", "argsort has no index"],
        [8]),
    "brackets of ignored rows only": (
        "gather", "c, [_, _w] t -> t c", ["the brackets name no axis"], [4, 7]),
}


@pytest.mark.parametrize("case", NAME_ERRORS.values(), ids=NAME_ERRORS.keys())
def test_invalid_axis_name(backend, case):
    operation, pattern, words, columns = case
    error = compile_error(backend, operation, pattern)

    assert_words(str(error), words)
    assert_carets(error, columns)


@pytest.mark.parametrize(
    ("operation", "pattern"),
    [
        ("gather", "b h w c, [_, h, _w, w] b t -> b t c"),
        ("gather", "class höhe 名, [höhe] class t -> class t 名"),
        ("scatter", "lambda, [None] lambda -> None"),
        ("argsort", "b h -> [h] b order"),
        ("argmax", "\tb\nh  ->[h]b "),
    ],
)
def test_unusual_names_are_valid(backend, operation, pattern):
    options = {"agg": "sum"} if operation == "scatter" else {}
    assert eindex.source(operation, pattern, backend.name, **options)


# --- Roles and options --------------------------------------------------------------------------

# (operation, pattern, axis, where it appears, caret columns, words of an extra hint or None)
MISPLACED_AXES = {
    "gather writes to a bracketed axis": (
        "gather", "b h w c, [h, w] b t -> b t c h", "h", "array and brackets and result",
        [2, 10, 29], "use scatter or gather_scatter"),
    "gather result axis from nowhere": (
        "gather", "b h w c, [h, w] b t -> b t c z", "z", "result", [29], None),
    "gather bracketed axis missing from the array": (
        "gather", "b w c, [h, w] b t -> b t c", "h", "brackets", [8], None),
    "gather bracketed axis also in the index": (
        "gather", "h w c, [h, w] w t -> t c", "w", "array and brackets and index", [2, 11, 14],
        None),
    "scatter reads a bracketed axis": (
        "scatter", SCATTER.replace("b t c", "b h t c"), "h", "array and brackets and result",
        [2, 10, 25], "use gather_scatter"),
    "scatter result axis from nowhere": (
        "scatter", "b t c, [h, w] b t -> b h w c z", "z", "result", [29], None),
    "scatter bracketed axis missing from the result": (
        "scatter", "b t c, [h, w] b t -> b h c", "w", "brackets", [11], None),
    "gather_scatter bracketed axis used nowhere": (
        "gather_scatter", "b h c, [h, w] b t -> b c", "w", "brackets", [11], None),
    "gather_scatter result axis from nowhere": (
        "gather_scatter", "b h c, [h, w] b t -> b w c z", "z", "result", [27], None),
    "gather_scatter bracketed axis also in the index": (
        "gather_scatter", "b h c, [h, w] b h -> b w c", "h", "array and brackets and index",
        [2, 8, 16], None),
}


@pytest.mark.parametrize("case", MISPLACED_AXES.values(), ids=MISPLACED_AXES.keys())
def test_misplaced_axis(backend, case):
    operation, pattern, axis, where, columns, hint = case
    error = compile_error(backend, operation, pattern, agg="sum")

    assert_words(str(error), [f"in {operation}, axis {axis!r}", f"appears in the {where}",
                              "Allowed placements"])
    assert_carets(error, columns)
    if hint is not None:
        assert hint in str(error)


# (operation, pattern, options, words in the message, caret columns)
MISPLACED_ARG_AXES = {
    "argmax result axis not in the input": (
        "argmax", "b h w -> [h, w] b z", {},
        ["axis 'z' is in the result but not in the input of argmax"], [18]),
    "argmax input axis missing from the result": (
        "argmax", "b h w -> [h] b", {},
        ["axis 'w' of the input is missing from the result of argmax"], [4]),
    "argmin result axis not in the input": (
        "argmin", "h w -> [h] w x", {},
        ["axis 'x' is in the result but not in the input of argmin"], [13]),
    "argmin input axis missing from the result": (
        "argmin", "b h w -> [w] h", {},
        ["axis 'b' of the input is missing from the result of argmin"], [0]),
    "argsort without the order axis": (
        "argsort", "b h w -> [h, w] b", {}, ["needs the order axis 'order' on the result side"],
        [17]),
    "argsort order axis in the brackets": (
        "argsort", "b h -> [h, order] b", {},
        ["needs the order axis 'order'", "outside the brackets"], [11]),
    "argsort order axis in the input": (
        "argsort", "b h w order -> [h, w] b order", {},
        ["order axis 'order' must not be an input axis"], [6, 24]),
    "argsort default order axis with order_axis set": (
        "argsort", "b h w -> [h, w] b order", {"order_axis": "rank"},
        ["needs the order axis 'rank'"], [23]),
    "argsort result axis not in the input": (
        "argsort", "b h -> [h] b order z", {},
        ["axis 'z' is in the result but not in the input of argsort"], [19]),
    "argsort input axis missing from the result": (
        "argsort", "b h w -> [h] b order", {},
        ["axis 'w' of the input is missing from the result of argsort"], [4]),
}


@pytest.mark.parametrize("case", MISPLACED_ARG_AXES.values(), ids=MISPLACED_ARG_AXES.keys())
def test_misplaced_arg_axis(backend, case):
    operation, pattern, options, words, columns = case
    error = compile_error(backend, operation, pattern, **options)

    assert_words(str(error), words)
    assert_carets(error, columns)


@pytest.mark.parametrize(
    ("pattern", "axis", "columns"),
    [
        ("b h w c, [h, w] b t -> b c", "t", [18]),
        ("b h w s c, [h, w] b t s -> b t c", "s", [6, 22]),
        ("b h w c, [h, w] b t x -> b t c", "x", [20]),
    ],
)
def test_reduced_axis_without_agg(backend, pattern, axis, columns):
    error = compile_error(backend, "gather", pattern)

    assert_words(str(error), [f"axis {axis!r} is not in the result", "pass agg=",
                              "sum, mean, min, max"])
    assert_carets(error, columns)


@pytest.mark.parametrize("operation", ["gather", "scatter", "gather_scatter"])
def test_unknown_agg(backend, operation):
    pattern = {"gather": GATHER, "scatter": SCATTER,
               "gather_scatter": "b h c, [h, w] b t -> b w c"}[operation]
    with pytest.raises(EindexError) as caught:
        eindex.source(operation, pattern, backend.name, agg="median")

    assert not isinstance(caught.value, PatternError)
    assert_words(str(caught.value), ["unknown agg 'median'", "sum, mean, min, max"])


def test_unknown_agg_at_call(backend):
    message = run_error(backend.call, backend.module.scatter, np.zeros((2, 6, 5)), index(2, 2, 6),
                        SCATTER, agg="add", h=3, w=4)
    assert "unknown agg 'add'" in message


def test_agg_for_arg_operation(backend):
    with pytest.raises(EindexError) as caught:
        eindex.source("argmax", "b h -> [h] b", backend.name, agg="sum")
    assert "argmax takes no agg" in str(caught.value)


@pytest.mark.parametrize(
    ("order_axis", "words"),
    [
        ("1st", ["order_axis must be an identifier", "'1st'"]),
        (3, ["order_axis must be an identifier", "3"]),
        ("_rank", ["order_axis '_rank' is reserved"]),
        ("rank_", ["order_axis 'rank_' is reserved"]),
    ],
)
def test_invalid_order_axis(backend, order_axis, words):
    message = run_error(backend.argsort, np.zeros((2, 3)), "b h -> [h] b order",
                        order_axis=order_axis)
    assert_words(message, words)


# --- Array and index shapes ---------------------------------------------------------------------


def test_stacked_index_with_too_many_rows(backend):
    message = run_error(backend.gather, np.zeros((2, 3, 4, 5)), index(3, 2, 6), GATHER)
    assert_words(message, ["3 rows", "[h, w] need 2", GATHER])


def test_stacked_index_with_too_few_rows(backend):
    message = run_error(backend.scatter, np.zeros((2, 6, 5)), index(1, 2, 6), SCATTER, h=3, w=4)
    assert_words(message, ["1 rows", "[h, w] need 2", SCATTER])


@pytest.mark.parametrize("container", [list, tuple])
def test_index_sequence_with_wrong_length(backend, container):
    rows = container([index(2, 6)] * 3)
    message = run_error(backend.gather, np.zeros((2, 3, 4, 5)), rows, GATHER)

    noun = "tensors" if backend.name == "torch" else "arrays"
    assert_words(message, [f"{container.__name__} of 3 {noun}", "[h, w] need 2"])


def test_array_with_wrong_ndim(backend):
    message = run_error(backend.gather, np.zeros((2, 3, 4)), index(2, 2, 6), GATHER)
    assert_words(message, ["the array has 3 dimensions (2, 3, 4)", "names 4: b h w c"])


def test_scalar_array_for_named_axes(backend):
    message = run_error(backend.argmax, np.float64(1.0), "a -> [a]")
    assert_words(message, ["the input has 0 dimensions ()", "names 1: a"])


def test_array_axes_for_scalar_pattern(backend):
    message = run_error(backend.scatter, np.ones(3), index(2, 4), ", [w, p] t -> w p", w=2, p=2)
    assert_words(message, ["the array has 1 dimensions (3,)", "a 0-d array"])


def test_arg_input_with_wrong_ndim(backend):
    message = run_error(backend.argsort, np.zeros((2, 3)), "b h w -> [h, w] b order")
    assert_words(message, ["the input has 2 dimensions (2, 3)", "names 3: b h w"])


def test_stacked_index_with_wrong_ndim(backend):
    message = run_error(backend.gather, np.zeros((2, 3, 4, 5)), index(2, 2, 6, 1), GATHER)
    assert_words(message, ["the index has 4 dimensions (2, 2, 6, 1)", "needs 3: (h, w) b t"])


def test_index_row_with_wrong_ndim(backend):
    rows = [index(2, 6), index(2)]
    message = run_error(backend.gather, np.zeros((2, 3, 4, 5)), rows, GATHER)
    assert_words(message, ["index row 'w'", "(2,)", "b t"])


def test_batch_size_disagrees_between_array_and_index(backend):
    message = run_error(backend.gather, np.zeros((2, 3, 4, 5)), index(2, 3, 6), GATHER)
    assert_words(message, ["axis 'b'", "size 2 in the array but 3 in the index"])


def test_batch_size_disagrees_in_scatter(backend):
    message = run_error(backend.scatter, np.zeros((2, 6, 5)), index(2, 2, 7), SCATTER, h=3, w=4)
    assert_words(message, ["axis 't'", "size 6 in the array but 7 in the index"])


def test_batch_size_disagrees_in_gather_scatter(backend):
    message = run_error(backend.gather_scatter, np.zeros((4, 3, 5)), index(2, 2, 9),
                        "b vin c, [vin, vout] b edge -> b vout c", vout=3)
    assert_words(message, ["axis 'b'", "size 4 in the array but 2 in the index"])


def test_index_axis_of_size_one_stretches(backend):
    result = backend.gather(np.arange(120.0).reshape(2, 3, 4, 5), index(2, 1, 6), GATHER)
    assert result.shape == (2, 6, 5)


def test_index_rows_that_do_not_broadcast(backend):
    rows = [index(2, 6), index(2, 5)]
    message = run_error(backend.gather, np.zeros((2, 3, 4, 5)), rows, GATHER)
    assert_words(message, ["do not broadcast", "h: (2, 6)", "w: (2, 5)"])


def test_index_rows_that_broadcast(backend):
    rows = [index(2, 1), index(1, 6)]
    result = backend.gather(np.zeros((2, 3, 4, 5)), rows, GATHER)
    assert result.shape == (2, 6, 5)


# --- Index values out of range ------------------------------------------------------------------

# Each case puts one coordinate just outside its axis, where the flat offset
# (row-major over the array or the result) lands on a valid neighbouring
# element: only a check per axis, before flattening, can catch it.
# (operation, pattern, array shape, keyword sizes, index shape, position in the index, value,
#  axis, axis size)
OUT_OF_RANGE = {
    "gather row past the end": (
        "gather", "b h w, [h, w] b t -> b t", (2, 3, 4), {}, (2, 2, 5), (0, 0, 1), 3, "h", 3),
    "gather column past the end": (
        "gather", "b h w, [h, w] b t -> b t", (2, 3, 4), {}, (2, 2, 5), (1, 0, 2), 4, "w", 4),
    "gather negative row": (
        "gather", "b h w, [h, w] b t -> b t", (2, 3, 4), {}, (2, 2, 5), (0, 1, 0), -1, "h", 3),
    "gather negative column": (
        "gather", "h w, [h, w] t -> t", (3, 4), {}, (2, 5), (1, 3), -2, "w", 4),
    "scatter row past the end": (
        "scatter", "b t, [h, w] b t -> b h w", (2, 5), {"h": 3, "w": 4}, (2, 2, 5), (0, 0, 1), 3,
        "h", 3),
    "scatter negative column": (
        "scatter", "b t, [h, w] b t -> b h w", (2, 5), {"h": 3, "w": 4}, (2, 2, 5), (1, 1, 4), -1,
        "w", 4),
    "gather_scatter read side past the end": (
        "gather_scatter", "b h w, [h, w, v] b t -> b v", (2, 3, 4), {"v": 6}, (3, 2, 5),
        (0, 0, 1), 3, "h", 3),
    "gather_scatter write side past the end": (
        "gather_scatter", "b h, [h, v, u] b t -> b v u", (2, 3), {"v": 3, "u": 4}, (3, 2, 5),
        (1, 0, 1), 3, "v", 3),
    "gather_scatter negative on both sides": (
        "gather_scatter", "b h c, [h] b t -> b h c", (2, 3, 4), {}, (1, 2, 5), (0, 1, 0), -1,
        "h", 3),
}


def out_of_range_call(backend, case, check_bounds=True):
    """Return a zero-argument call of the case's operation on `backend` with its bad index."""
    operation, pattern, array_shape, sizes, index_shape, position, value, _, _ = case
    arr = np.arange(np.prod(array_shape), dtype=np.float64).reshape(array_shape)
    ind = index(*index_shape)
    ind[position] = value
    function = getattr(backend, operation)
    return lambda: function(arr, ind, pattern, check_bounds=check_bounds, **sizes)


@pytest.mark.parametrize("case", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_index_value_out_of_range(backend, case):
    _, pattern, _, _, _, _, value, axis, size = case
    message = run_error(out_of_range_call(backend, case))

    assert_words(message, [f"index value {value} is out of range", f"axis {axis!r} of size {size}",
                           pattern])


@pytest.mark.parametrize("case", OUT_OF_RANGE.values(), ids=OUT_OF_RANGE.keys())
def test_check_bounds_false_skips_the_check(backend, case, monkeypatch):
    def not_expected(*args):
        raise AssertionError("check_bounds=False ran the bounds check")

    monkeypatch.setattr(backend.runtime, "check_bounds", not_expected)
    # Out-of-range coordinates are undefined behaviour here: numpy and torch may return values or
    # raise their own IndexError, but the bounds check itself must not run.
    try:
        out_of_range_call(backend, case, check_bounds=False)()
    except IndexError as error:
        assert not isinstance(error, eindex.EindexError)


def test_out_of_range_in_index_list(backend):
    rows = [np.array([[0, 1]]), np.array([[2, 4]])]
    message = run_error(backend.gather, np.zeros((1, 3, 4)), rows, "b h w, [h, w] b t -> b t")
    assert_words(message, ["index value 4 is out of range", "axis 'w' of size 4"])


def test_out_of_range_keyword_axis(backend):
    message = run_error(backend.scatter, np.ones(4), np.array([[0, 1, 5, 2]]), "t, [k] t -> k", k=5)
    assert_words(message, ["index value 5 is out of range", "axis 'k' of size 5"])


# torch reads a CPU row of up to 32 values into Python, and finds the ends of a longer row with
# aminmax. Both ways must find one bad value in the last position, in rows of 0 to 3 dimensions.
@pytest.mark.parametrize("row_shape", [(), (5,), (32,), (33,), (1000,), (3, 4), (8, 8), (2, 2, 3)],
                         ids=str)
@pytest.mark.parametrize("value", [-1, 4])
def test_out_of_range_last_value_of_row(backend, row_shape, value):
    ind = np.ones((2, *row_shape), dtype=np.int64)
    ind[(1,) + tuple(size - 1 for size in row_shape)] = value
    axes = " ".join("abc"[:len(row_shape)])
    message = run_error(backend.gather, np.zeros((3, 4)), ind, f"h w, [h, w] {axes} -> {axes}")
    assert_words(message, [f"index value {value} is out of range", "axis 'w' of size 4"])


@pytest.mark.parametrize("form", ["stacked", "list"])
def test_ignored_index_row_is_not_checked(backend, form):
    ind = np.array([[99, -7], [1, 2]])
    ind = ind if form == "stacked" else list(ind)
    result = backend.gather(np.arange(4.0), ind, "w, [_, w] t -> t")
    np.testing.assert_array_equal(result, [1.0, 2.0])


@pytest.mark.parametrize("form", ["stacked", "list"])
def test_out_of_range_after_ignored_row(backend, form):
    ind = np.array([[99, -7], [1, 4]])
    ind = ind if form == "stacked" else list(ind)
    message = run_error(backend.gather, np.arange(4.0), ind, "w, [_, w] t -> t")
    assert_words(message, ["index value 4 is out of range", "axis 'w' of size 4"])


@pytest.mark.parametrize("form", ["stacked", "list"])
@pytest.mark.parametrize("value", [2**63, 2**64 - 1])
def test_uint64_index_above_int64_range(backend, value, form):
    ind = np.array([[0], [value]], dtype=np.uint64)
    ind = ind if form == "stacked" else list(ind)
    message = run_error(backend.gather, np.zeros((3, 4)), ind, "h w, [h, w] t -> t")
    assert_words(message, [f"index value {value} is out of range", "axis 'w' of size 4"])


@pytest.mark.parametrize("value", [2**63, 2**64 - 1])
def test_big_endian_uint64_index_above_int64_range(value):
    ind = np.array([[0], [value]], dtype=">u8")
    message = run_error(eindex.gather, np.zeros((3, 4)), ind, "h w, [h, w] t -> t")
    assert_words(message, [f"index value {value} is out of range", "axis 'w' of size 4"])


def test_ignored_uint64_row_above_int64_range(backend):
    ind = np.array([[2**63, 2**64 - 1], [1, 3]], dtype=np.uint64)
    result = backend.gather(np.arange(4.0), ind, "w, [_, w] t -> t")
    np.testing.assert_array_equal(result, [1.0, 3.0])


# --- Dtypes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.bool_, np.complex128])
@pytest.mark.parametrize("operation", ["gather", "scatter", "gather_scatter"])
def test_non_integer_index_dtype(backend, operation, dtype):
    pattern, arr, sizes = {
        "gather": (GATHER, np.zeros((2, 3, 4, 5)), {}),
        "scatter": (SCATTER, np.zeros((2, 6, 5)), {"h": 3, "w": 4}),
        "gather_scatter": ("b h c, [h, w] b t -> b w c", np.zeros((2, 3, 5)), {"w": 4}),
    }[operation]
    ind = index(2, 2, 6).astype(dtype)
    message = run_error(getattr(backend, operation), arr, ind, pattern, **sizes)

    assert_words(message, [f"the index has dtype {backend.dtype_name(dtype)}", "integer dtype"])


def test_non_integer_index_row_dtype(backend):
    rows = [index(2, 6), np.zeros((2, 6), dtype=np.float32)]
    message = run_error(backend.gather, np.zeros((2, 3, 4, 5)), rows, GATHER)
    assert_words(message, [f"index row 'w' has dtype {backend.dtype_name(np.float32)}",
                           "integer dtype"])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint32, np.int64, np.uint64])
def test_every_integer_index_dtype_is_accepted(backend, dtype):
    ind = np.array([[2, 0], [1, 3]], dtype=dtype)
    result = backend.gather(np.arange(12.0).reshape(3, 4), ind, "h w, [h, w] t -> t")
    np.testing.assert_array_equal(result, [9.0, 3.0])


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint16, np.bool_])
@pytest.mark.parametrize("operation", ["gather", "scatter", "gather_scatter"])
def test_mean_on_non_floating_array(backend, operation, dtype):
    pattern, arr, sizes = {
        "gather": ("b h w c, [h, w] b t -> b c", np.zeros((2, 3, 4, 5), dtype=dtype), {}),
        "scatter": (SCATTER, np.zeros((2, 6, 5), dtype=dtype), {"h": 3, "w": 4}),
        "gather_scatter": ("b h c, [h, w] b t -> b w c", np.zeros((2, 3, 5), dtype=dtype),
                           {"w": 4}),
    }[operation]
    message = run_error(getattr(backend, operation), arr, index(2, 2, 6), pattern, agg="mean",
                        **sizes)

    assert_words(message, ["agg='mean' needs a floating-point array",
                           f"dtype {backend.dtype_name(dtype)}"])


# --- numpy and torch together -------------------------------------------------------------------


def test_torch_array_with_numpy_index():
    torch = pytest.importorskip("torch")
    message = run_error(eindex_numpy.gather, torch.zeros(2, 3, 4, 5), index(2, 2, 6), GATHER)
    assert_words(message, ["the array is a torch tensor", "numpy"])


def test_numpy_array_with_torch_index_in_numpy_module():
    torch = pytest.importorskip("torch")
    ind = torch.zeros((2, 2, 6), dtype=torch.int64)
    message = run_error(eindex_numpy.gather, np.zeros((2, 3, 4, 5)), ind, GATHER)
    assert_words(message, ["torch tensor", "numpy"])


def test_numpy_array_with_torch_index():
    torch = pytest.importorskip("torch")
    ind = torch.zeros((2, 2, 6), dtype=torch.int64)
    message = run_error(eindex.gather, np.zeros((2, 3, 4, 5)), ind, GATHER)
    assert_words(message, ["torch", "numpy"])


def test_index_list_mixing_numpy_and_torch():
    torch = pytest.importorskip("torch")
    rows = [index(2, 6), torch.zeros((2, 6), dtype=torch.int64)]
    message = run_error(eindex.gather, np.zeros((2, 3, 4, 5)), rows, GATHER)
    assert_words(message, ["torch", "numpy"])


# --- Keyword sizes ------------------------------------------------------------------------------


def scatter_with(backend, **sizes):
    return backend.scatter(np.zeros((2, 6, 5)), index(2, 2, 6), SCATTER, **sizes)


def test_missing_keyword_size(backend):
    message = run_error(scatter_with, backend, h=3)
    assert_words(message, ["no input shows the size of 'w'", "pass it as a keyword", SCATTER])


def test_missing_keyword_sizes_named_together(backend):
    message = run_error(scatter_with, backend)
    assert "'h', 'w'" in message


@pytest.mark.parametrize("name", ["agg", "check_bounds"])
@pytest.mark.parametrize("operation, pattern, rows", [
    ("scatter", "h w, [NAME] h -> NAME w", 1),
    ("gather_scatter", "h w, [h, NAME] t -> NAME w", 2),
])
def test_keyword_axis_named_like_option(operation, pattern, rows, name):
    # agg= and check_bounds= are options of the call, so they can never size such an axis.
    pattern = pattern.replace("NAME", name)

    with pytest.raises(PatternError) as caught:
        getattr(eindex, operation)(np.zeros((3, 2)), index(rows, 3), pattern)

    assert_words(str(caught.value), [f"axis {name!r} takes its size from a keyword",
                                     f"{name}= is an option of {operation}", "rename the axis"])
    assert_carets(caught.value, [pattern.index(f"-> {name}") + 3])


def test_unknown_keyword(backend):
    message = run_error(scatter_with, backend, h=3, w=4, q=2)
    assert_words(message, ["keyword q=2 names no axis", "b, c, h, t, w"])


def test_keyword_disagrees_with_array_shape(backend):
    message = run_error(scatter_with, backend, h=3, w=4, c=4)
    assert_words(message, ["axis 'c' has size 5 in the inputs", "the keyword gives 4"])


def test_keyword_disagrees_with_index_shape(backend):
    message = run_error(backend.scatter, np.zeros((2, 4)), index(1, 2, 6),
                        "b t, [h] b s -> b h s t", h=3, s=7)
    assert_words(message, ["axis 's' has size 6 in the inputs", "the keyword gives 7"])


def test_keyword_that_matches_the_inputs(backend):
    assert scatter_with(backend, h=3, w=4, c=5, b=2).shape == (2, 3, 4, 5)


@pytest.mark.parametrize("value", [-3, 3.0, True, np.bool_(True), None, "3", np.float32(3)])
def test_invalid_keyword_size(backend, value):
    message = run_error(scatter_with, backend, h=value, w=4)
    assert_words(message, ["size of axis 'h' must be an integer >= 0", f"got {value!r}"])


@pytest.mark.parametrize("value", [np.int8(3), np.int32(3), np.int64(3), np.uint8(3), np.uint64(3)])
def test_numpy_integer_keyword_size(backend, value):
    assert scatter_with(backend, h=value, w=np.int64(4)).shape == (2, 3, 4, 5)


# --- Zero-size axes -----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["argmax", "argmin"])
def test_arg_reduction_over_zero_size_axis(backend, operation):
    message = run_error(getattr(backend, operation), np.zeros((2, 0, 3)), "b h w -> [h, w] b")
    assert_words(message, [f"{operation} over an empty [h, w]", "h=0, w=3", "no position"])


def test_argsort_over_zero_size_axis(backend):
    result = backend.argsort(np.zeros((2, 0, 3)), "b h w -> [h, w] b order")
    assert result.shape == (2, 2, 0)
    assert result.dtype == np.int64


def test_argmax_with_zero_size_kept_axis(backend):
    result = backend.argmax(np.zeros((0, 3)), "b h -> [h] b")
    assert result.shape == (1, 0)


def test_gather_with_empty_index(backend):
    result = backend.gather(np.ones((2, 3, 4, 5)), index(2, 2, 0), GATHER)
    assert result.shape == (2, 0, 5)


def test_gather_from_zero_size_array_with_empty_index(backend):
    result = backend.gather(np.ones((0, 3)), index(1, 0), "i c, [i] t -> t c")
    assert result.shape == (0, 3)


IDENTITY = {
    "sum": lambda dtype: 0,
    "min": lambda dtype: np.inf if dtype.kind == "f" else np.iinfo(dtype).max,
    "max": lambda dtype: -np.inf if dtype.kind == "f" else np.iinfo(dtype).min,
    "mean": lambda dtype: np.nan,
}


def identity_cases():
    for agg in IDENTITY:
        for dtype in (np.float32, np.float64, np.int32, np.uint8, np.int64):
            if agg == "mean" and np.dtype(dtype).kind != "f":
                continue
            yield agg, np.dtype(dtype)


@pytest.mark.parametrize(("agg", "dtype"), list(identity_cases()))
def test_aggregation_over_nothing_is_the_identity(backend, agg, dtype):
    expected = IDENTITY[agg](dtype)
    results = {
        "gather": backend.gather(np.ones((4, 3), dtype=dtype), index(1, 5, 0),
                                 "i c, [i] t r -> t c", agg=agg),
        "scatter": backend.scatter(np.ones((0, 3), dtype=dtype), index(1, 0), "i c, [k] i -> k c",
                                   agg=agg, k=2),
        "gather_scatter": backend.gather_scatter(np.ones((4, 3), dtype=dtype), index(2, 0),
                                                 "i c, [i, k] e -> k c", agg=agg, k=2),
    }
    for operation, result in results.items():
        assert result.dtype == dtype, operation
        np.testing.assert_array_equal(result, np.full(result.shape, expected, dtype=dtype),
                                      err_msg=operation)


def test_scatter_leaves_unwritten_places_at_the_identity(backend):
    result = backend.scatter(np.array([5, 7], dtype=np.int16), np.array([[0, 0]]), "i, [k] i -> k",
                             agg="min", k=3)
    np.testing.assert_array_equal(result, [5, np.iinfo(np.int16).max, np.iinfo(np.int16).max])


def test_scatter_into_zero_size_keyword_axis(backend):
    result = backend.scatter(np.ones((2, 0)), index(1, 2, 0), "b t, [h] b t -> b h", h=0)
    assert result.shape == (2, 0)
