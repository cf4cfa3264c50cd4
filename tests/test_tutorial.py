"""docs/tutorial.md: its python blocks run in order, and its excerpts match the generated code.

A `python` block of the tutorial is executed as code compiled from
docs/tutorial.md with its real line numbers, so a failure points at the
tutorial line. An excerpt of generated code is a `text` block right after a
comment `<!-- generated: OPERATION: PATTERN [agg=...] [order_axis=...] -->`.
Its lines must appear, in order and as consecutive runs split at `...` lines,
in the module that `eindex.source` returns for that line.
"""

import importlib.util
import pathlib
import re

import pytest

import eindex_codegen as eindex

pytest.importorskip("sklearn", reason="the tutorial needs scikit-learn (the `demo` extra)")
pytest.importorskip("matplotlib", reason="the tutorial needs matplotlib (the `demo` extra)")

TUTORIAL_PATH = pathlib.Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"

FENCE = re.compile(r"^```(?P<language>\w*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
EXCERPT = re.compile(
    r"^<!-- generated: (?P<line>.+?) -->\n```text\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL
)
EXCERPT_LINE = re.compile(
    r"(?P<operation>\w+): (?P<pattern>.*?)(?P<options>(?: (?:agg|order_axis)=\w+)*)$"
)


def tutorial_text():
    return TUTORIAL_PATH.read_text(encoding="utf-8")


def python_blocks():
    """Return (first line number, code) of every python block, in order."""
    text = tutorial_text()
    blocks = []
    for match in FENCE.finditer(text):
        if match["language"] == "python":
            first_line = text.count("\n", 0, match.start("body")) + 1
            blocks.append((first_line, match["body"]))
    return blocks


def excerpts():
    """Return (operation, pattern, options, excerpt text) for every generated-code excerpt."""
    found = []
    for match in EXCERPT.finditer(tutorial_text()):
        parsed = EXCERPT_LINE.fullmatch(match["line"])
        assert parsed, f"unreadable excerpt line: {match['line']!r}"
        options = dict(option.split("=") for option in parsed["options"].split())
        found.append((parsed["operation"], parsed["pattern"], options, match["body"]))
    return found


def test_tutorial_has_blocks_and_excerpts():
    assert len(python_blocks()) >= 15
    assert len(excerpts()) >= 7
    # Every generated-code comment must sit right above its text block.
    assert tutorial_text().count("<!-- generated:") == len(excerpts())


def test_tutorial_python_blocks_run():
    torch_installed = importlib.util.find_spec("torch") is not None
    namespace = {"__name__": "tutorial"}
    left_out = 0
    for first_line, code in python_blocks():
        if "import torch" in code and not torch_installed:
            left_out += 1
            continue
        # Leading newlines give the compiled code the line numbers of the tutorial.
        compiled = compile("\n" * (first_line - 1) + code, str(TUTORIAL_PATH), "exec")
        exec(compiled, namespace)  # noqa: S102 - running the tutorial's code is the test
    if left_out:
        pytest.skip(f"torch is not installed, so {left_out} torch block(s) did not run")


@pytest.mark.parametrize(
    "operation, pattern, options, excerpt",
    excerpts(),
    ids=[f"{operation}: {pattern}" for operation, pattern, _, _ in excerpts()],
)
def test_tutorial_excerpt_matches_module(operation, pattern, options, excerpt):
    module_lines = eindex.source(operation, pattern, **options).splitlines()
    chunks = re.split(r"^\.\.\.\n", excerpt, flags=re.MULTILINE)
    position = 0
    for chunk in chunks:
        chunk_lines = chunk.rstrip("\n").splitlines()
        for start in range(position, len(module_lines) - len(chunk_lines) + 1):
            if module_lines[start : start + len(chunk_lines)] == chunk_lines:
                position = start + len(chunk_lines)
                break
        else:
            pytest.fail(
                f"this part of the tutorial's excerpt is not in the generated module "
                f"(after line {position}):\n{chunk}\n--- generated module ---\n"
                + "\n".join(module_lines)
            )
