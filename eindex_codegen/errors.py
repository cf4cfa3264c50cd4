"""The two exception classes that every failure of eindex_codegen raises."""


class EindexError(ValueError):
    """Invalid input to an eindex operation: a pattern, an option, an array or an index."""


class PatternError(EindexError):
    """Invalid pattern text.

    The message repeats the pattern with a caret under each offending column.
    `pattern` is the text as given, and `columns` the 0-based offsets of the
    carets in it.
    """

    def __init__(self, message, pattern, columns, hint=None):
        self.pattern = pattern
        self.columns = tuple(sorted(set(columns)))
        self.hint = hint
        self.reason = message
        super().__init__(self._format())

    def _format(self):
        # Tabs and newlines print as one space each, so the caret line lines up
        # with the pattern whatever whitespace separates its axes.
        shown = "".join(" " if character.isspace() else character for character in self.pattern)
        carets = [" "] * (max(self.columns, default=0) + 1)
        for column in self.columns:
            carets[column] = "^"
        lines = [self.reason, f"    {shown}", "    " + "".join(carets).rstrip()]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)
