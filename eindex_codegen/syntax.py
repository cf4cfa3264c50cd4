"""Parsed patterns as small dataclasses, and the canonical spelling of a pattern.

Nothing here imports lark, so a process whose modules are all cached can
compute cache keys without loading the parser.
"""

import dataclasses
import re
import unicodedata

INDEX_OPERATIONS = ("gather", "scatter", "gather_scatter")
ARG_OPERATIONS = ("argmax", "argmin", "argsort")
OPERATIONS = INDEX_OPERATIONS + ARG_OPERATIONS

_TOKEN = re.compile(r"->|[\[\],]|[^\s\[\],\-]+|-")
_WORD = re.compile(r"\w+")


@dataclasses.dataclass(frozen=True)
class Axis:
    """One axis name as written, with its 0-based column in the pattern text."""

    name: str
    column: int

    @property
    def ignored(self):
        """True for a bracketed name that starts with `_`: an index row to skip."""
        return self.name.startswith("_")


@dataclasses.dataclass(frozen=True)
class IndexPattern:
    """`ARRAY_AXES, [INDEXED_AXES] INDEX_AXES -> RESULT_AXES`."""

    text: str
    array: tuple
    brackets: tuple
    index: tuple
    result: tuple


@dataclasses.dataclass(frozen=True)
class ArgPattern:
    """`INPUT_AXES -> [FOUND_AXES] OTHER_AXES`."""

    text: str
    input: tuple
    found: tuple
    other: tuple


def normalize_name(name):
    """Return the name as Python itself would read it (NFKC), so `ﬁ` and `fi` are one axis."""
    return unicodedata.normalize("NFKC", name)


def normalize_text(text):
    """Return the canonical spelling of a pattern: one space between tokens, none inside brackets.

    Two patterns that differ only in whitespace, or in Unicode forms that Python
    treats as the same identifier, get the same spelling. Only name tokens are
    normalised, so a look-alike comma (U+FF0C) stays invalid.
    """
    tokens = [normalize_name(token) if _WORD.fullmatch(token) else token for token in _TOKEN.findall(text)]
    spelled = " ".join(tokens)
    for joined, spaced in ((" ,", ","), ("[ ", "["), (" ]", "]")):
        spelled = spelled.replace(joined, spaced)
    return spelled
