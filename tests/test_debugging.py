"""Generated code is real code: pdb stops in it and shows its lines."""

import ast
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import eindex_codegen as eindex


def test_pdb_stops_inside_generated_function(tmp_path):
    pattern = "b h, [h] b -> b"
    script = tmp_path / "lookup.py"
    script.write_text(textwrap.dedent(f"""
        import numpy as np
        import eindex_codegen as eindex
        print(eindex.gather(np.arange(6.0).reshape(2, 3), np.array([[2, 0]]), {pattern!r}))
    """))
    environment = {**os.environ, "EINDEX_CACHE_DIR": str(tmp_path / "cache")}
    module_path = subprocess.run(
        [sys.executable, "-c", f"import eindex_codegen as e; print(e.cached_path('gather', {pattern!r}))"],
        capture_output=True, text=True, env=environment, check=True, timeout=120).stdout.strip()
    lines = pathlib.Path(module_path).read_text().splitlines()
    line = next(number for number, text in enumerate(lines, start=1) if "result = arr[" in text)

    commands = f"break {module_path}:{line}\ncontinue\np row_h.tolist()\nwhere\ncontinue\n"
    completed = subprocess.run([sys.executable, "-m", "pdb", str(script)], input=commands, check=False,
                               capture_output=True, text=True, env=environment, timeout=120)

    assert f"{module_path}({line})gather()" in completed.stdout
    assert "result = arr[np.arange(size_b), row_h]" in completed.stdout
    assert "[2, 0]" in completed.stdout
    assert "[2. 3.]" in completed.stdout


def test_source_matches_cached_file(tmp_path, monkeypatch):
    monkeypatch.setenv("EINDEX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(eindex.api, "module_cache", eindex.cache.ModuleCache())
    path = eindex.cached_path("scatter", "i c, [cluster] i -> cluster c", agg="mean")

    assert path.parent == tmp_path
    assert path.read_text() == eindex.source("scatter", "i c, [cluster] i -> cluster c", agg="mean")


def test_debugging_guide_shows_the_current_plan():
    guide = (pathlib.Path(__file__).parent.parent / "docs" / "debugging.md").read_text(encoding="utf-8")

    assert eindex.explain("gather", "b h w c, [h, w] b t -> b t c") in guide


def test_debugging_guide_line_numbers():
    # The guide shows a traceback line of the bounds check and a breakpoint where offset_in exists.
    guide = (pathlib.Path(__file__).parent.parent / "docs" / "debugging.md").read_text(encoding="utf-8")
    lines = eindex.source("gather", "b h w c, [h, w] b t -> b t c").splitlines()
    traceback_line = int(re.search(r'gather_numpy_\w+\.py", line (\d+), in gather', guide).group(1))
    break_line = int(re.search(r"break \S+gather_numpy_\w+\.py:(\d+)", guide).group(1))

    assert "runtime.check_bounds(rows" in lines[traceback_line - 1]
    assert ".take(offset_in" in lines[break_line - 1]


def test_plan_header_is_a_valid_call():
    header = eindex.explain("scatter", "i c, [k] i -> k c", agg="mean").splitlines()[0]

    call = ast.parse(header, mode="eval").body

    assert [ast.unparse(argument) for argument in call.args] == ["arr", "ind", "'i c, [k] i -> k c'"]
    assert [(keyword.arg, ast.unparse(keyword.value)) for keyword in call.keywords] == [
        ("agg", "'mean'"), (None, "sizes")]
