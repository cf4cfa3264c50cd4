"""Pattern text to `IndexPattern` / `ArgPattern`, with Lark (LALR).

Syntax errors become `PatternError` with a caret under the offending column
and, for the common slips, a hint that names the fix.
"""

import functools
import re

import lark

from eindex_codegen import resources
from eindex_codegen.errors import PatternError
from eindex_codegen.syntax import ArgPattern, Axis, IndexPattern, normalize_name

_START_RULE = {
    "gather": "index_pattern",
    "scatter": "index_pattern",
    "gather_scatter": "index_pattern",
    "argmax": "arg_pattern",
    "argmin": "arg_pattern",
    "argsort": "arg_pattern",
}

_FORMS = {
    "index_pattern": "ARRAY_AXES, [INDEXED_AXES] INDEX_AXES -> RESULT_AXES",
    "arg_pattern": "INPUT_AXES -> [FOUND_AXES] OTHER_AXES",
}


@functools.lru_cache(maxsize=1)
def _parser():
    return lark.Lark(
        resources.grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        start=list(_FORMS),
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse(operation, text):
    """Parse `text` as the pattern of `operation` and check its names."""
    if not isinstance(text, str):
        raise PatternError(f"a pattern must be a str, not {type(text).__name__}", str(text), [])
    start = _START_RULE[operation]
    try:
        tree = _parser().parse(text, start=start)
    except lark.exceptions.UnexpectedInput as error:
        raise _syntax_error(text, start, error) from None

    parts = [_axes(text, child) for child in tree.children if isinstance(child, lark.Tree)]
    if start == "index_pattern":
        pattern = IndexPattern(text, *parts)
        _check_names(pattern, [("array", pattern.array), ("result", pattern.result), ("index", pattern.index)])
        _check_bracket_names(pattern, pattern.brackets)
        _check_repeats(pattern, [pattern.array, pattern.brackets, pattern.index, pattern.result])
    else:
        pattern = ArgPattern(text, *parts)
        _check_names(pattern, [("input", pattern.input), ("output", pattern.other)])
        # A leading '_' in the brackets is rejected by the role check, whose message explains
        # that arg-operations have no index rows to ignore.
        _check_bracket_names(pattern, pattern.found)
        _check_repeats(pattern, [pattern.input, pattern.found + pattern.other])
    return pattern


def _axes(text, tree):
    return tuple(Axis(normalize_name(str(token)), token.start_pos) for token in tree.children)


def _check_names(pattern, parts):
    for part, axes in parts:
        for axis in axes:
            if axis.name.startswith("_") or axis.name.endswith("_"):
                raise PatternError(
                    f"axis name {axis.name!r} in the {part} part is reserved: "
                    "names starting or ending with '_' may only mark ignored index rows inside brackets",
                    pattern.text,
                    [axis.column],
                )


def _check_bracket_names(pattern, axes):
    for axis in axes:
        if axis.name.endswith("_") and not axis.ignored:
            raise PatternError(
                f"axis name {axis.name!r} is reserved: names ending with '_' are not axes",
                pattern.text,
                [axis.column],
            )


def _check_repeats(pattern, parts):
    for axes in parts:
        seen = {}
        for axis in axes:
            if axis.ignored:
                continue
            if axis.name in seen:
                raise PatternError(
                    f"axis {axis.name!r} appears twice in one part of the pattern",
                    pattern.text,
                    [seen[axis.name], axis.column],
                )
            seen[axis.name] = axis.column


def _syntax_error(text, start, error):
    column = getattr(error, "pos_in_stream", None)
    if column is None:
        column = len(text)
    # Lark reports the end of the text as a `$END` token placed at the last token's column.
    at_end = isinstance(error, lark.exceptions.UnexpectedToken) and error.token.type == "$END"
    if at_end or isinstance(error, lark.exceptions.UnexpectedEOF) or column >= len(text):
        reason = "the pattern ends too early"
        column = len(text)
    elif isinstance(error, lark.exceptions.UnexpectedCharacters):
        reason = f"unexpected character {text[column]!r}"
    else:
        reason = f"unexpected {str(error.token)!r}" if str(error.token) else "unexpected token"
    hint = _hint(text, start, column)
    return PatternError(f"invalid pattern: {reason}; expected {_FORMS[start]}", text, [column], hint)


def _hint(text, start, column):
    """Name the fix for the common slips, or return None."""
    if text.count("[") != text.count("]"):
        return "brackets are unbalanced: every '[' needs one ']'"
    if "<-" in text:
        return "the arrow is written '->', from input to result"
    if text.count("->") > 1:
        return "a pattern has exactly one '->'"
    if "->" not in text:
        return "the pattern needs '->' between its input and its result"
    if text.count("[") > 1:
        return "a pattern has one pair of brackets, not nested"
    if re.search(r"\[\s*\]", text):
        return "the brackets need at least one axis name: [h] or [h, w]"
    if _inside_brackets(text, column) and text[column - 1 : column].isspace() or _space_separated_brackets(text):
        return "separate bracketed axes with commas: [h, w]"
    if start == "index_pattern" and "[" in text and "," not in text.split("[", 1)[0]:
        return "put a comma between the array axes and the bracket: 'b h w c, [h, w] b t -> b t c'"
    return None


def _inside_brackets(text, column):
    opened = text.rfind("[", 0, column)
    return opened != -1 and text.rfind("]", 0, column) < opened


def _space_separated_brackets(text):
    opened, closed = text.find("["), text.find("]")
    if opened == -1 or closed < opened:
        return False
    inside = text[opened + 1 : closed]
    return "[" not in inside and any(len(chunk.split()) > 1 for chunk in inside.split(","))
