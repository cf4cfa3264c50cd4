"""The built wheel works outside the source tree, and importing the package stays cheap.

The wheel tests build a wheel from this checkout, install it with pip into a
new virtual environment (its dependencies come from the package index that pip
is configured with), and run it from a folder outside the checkout. That way a
grammar or template file missing from the wheel fails here, not on a user's
machine.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import zipfile

import pytest

REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parents[1]

# Modules that `import eindex_codegen` must leave unloaded until a pattern is compiled.
DEFERRED_MODULES = ("lark", "jinja2", "torch")


def run_checked(command, **kwargs):
    """Run a command and fail the test with its output if it exits with a non-zero status."""
    completed = subprocess.run(command, check=False, capture_output=True, text=True, **kwargs)
    if completed.returncode != 0:
        pytest.fail(
            f"command failed with status {completed.returncode}: {' '.join(map(str, command))}\n"
            f"--- stdout ---\n{completed.stdout}\n--- stderr ---\n{completed.stderr}"
        )
    return completed


def isolated_environment(cache_dir):
    """Return os.environ without PYTHONPATH, so only the installed package is importable."""
    environment = dict(os.environ)
    environment.pop("PYTHONPATH", None)
    environment["EINDEX_CACHE_DIR"] = str(cache_dir)
    return environment


def loaded_modules_after(statement, cache_dir):
    """Run `statement` in a fresh interpreter and return the names in its sys.modules."""
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    completed = run_checked(
        [sys.executable, "-c", script], env=isolated_environment(cache_dir), cwd=REPOSITORY_ROOT
    )
    return set(json.loads(completed.stdout))


def is_loaded(module_name, loaded):
    return any(name == module_name or name.startswith(module_name + ".") for name in loaded)


@pytest.mark.parametrize("module_name", DEFERRED_MODULES)
def test_import_defers_heavy_modules(module_name, tmp_path):
    loaded = loaded_modules_after("import eindex_codegen", tmp_path)
    assert "eindex_codegen" in loaded
    assert not is_loaded(module_name, loaded), f"import eindex_codegen loaded {module_name}"


@pytest.mark.parametrize("module_name", DEFERRED_MODULES)
def test_numpy_module_import_defers_heavy_modules(module_name, tmp_path):
    loaded = loaded_modules_after("import eindex_codegen.numpy", tmp_path)
    assert "eindex_codegen.numpy" in loaded
    assert not is_loaded(module_name, loaded), f"import eindex_codegen.numpy loaded {module_name}"


@pytest.fixture(scope="module")
def wheel_path(tmp_path_factory):
    """Build a wheel from this checkout into a temporary folder and return its path."""
    wheel_dir = tmp_path_factory.mktemp("wheel")
    run_checked(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(wheel_dir), str(REPOSITORY_ROOT)]
    )
    wheels = list(wheel_dir.glob("eindex_codegen-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {wheel_dir}, found {wheels}"
    return wheels[0]


@pytest.fixture(scope="module")
def installed_venv(wheel_path, tmp_path_factory):
    """Create a new virtual environment, install the wheel into it and return its python."""
    venv_dir = tmp_path_factory.mktemp("venv")
    run_checked([sys.executable, "-m", "venv", str(venv_dir)])
    python = venv_dir / "bin" / "python"
    run_checked([str(python), "-m", "pip", "install", str(wheel_path)])
    return python


@pytest.mark.slow
def test_wheel_contains_grammar_and_templates(wheel_path):
    with zipfile.ZipFile(wheel_path) as wheel:
        names = set(wheel.namelist())
    assert "eindex_codegen/grammar/eindex.lark" in names
    template_names = [name for name in names if name.startswith("eindex_codegen/templates/numpy/")]
    assert template_names, "the wheel has no eindex_codegen/templates/numpy/ files"


@pytest.mark.slow
def test_wheel_leaves_out_checkout_files(wheel_path):
    with zipfile.ZipFile(wheel_path) as wheel:
        names = wheel.namelist()
    stray = [name for name in names if name.startswith(("tests/", "examples/", ".venv/"))]
    assert stray == []
    compiled = [name for name in names if name.endswith(".pyc")]
    assert compiled == []


@pytest.mark.slow
def test_installed_wheel_runs_gather(installed_venv, tmp_path):
    # Run from an empty folder, so the checkout cannot shadow the installed package.
    work_dir = tmp_path / "elsewhere"
    work_dir.mkdir()
    script = textwrap.dedent(
        """
        import json
        import pathlib

        import numpy as np

        import eindex_codegen as eindex

        table_ic = np.arange(12).reshape(3, 4)
        rows_1j = np.array([[2, 0, 2, 1]])
        result_jc = eindex.gather(table_ic, rows_1j, "i c, [i] j -> j c")
        print(json.dumps({
            "package_dir": str(pathlib.Path(eindex.__file__).parent),
            "result": result_jc.tolist(),
            "expected": table_ic[[2, 0, 2, 1]].tolist(),
        }))
        """
    )
    completed = run_checked(
        [str(installed_venv), "-c", script],
        cwd=work_dir,
        env=isolated_environment(tmp_path / "cache"),
    )
    report = json.loads(completed.stdout)

    package_dir = pathlib.Path(report["package_dir"])
    venv_dir = installed_venv.parents[1]
    assert package_dir.is_relative_to(venv_dir), f"imported from {package_dir}, not the venv"
    assert report["result"] == report["expected"]


@pytest.mark.slow
def test_installed_wheel_writes_cache_dir(installed_venv, tmp_path):
    cache_dir = tmp_path / "cache"
    script = (
        "import numpy as np, eindex_codegen as eindex\n"
        "eindex.argmax(np.array([[1.0, 3.0], [2.0, 0.0]]), 'i j -> [i] j')\n"
    )
    run_checked([str(installed_venv), "-c", script], cwd=tmp_path, env=isolated_environment(cache_dir))
    generated = list(cache_dir.rglob("*.py"))
    assert generated, f"no generated module under EINDEX_CACHE_DIR={cache_dir}"


@pytest.mark.slow
def test_installed_wheel_has_cli(installed_venv, tmp_path):
    script_path = installed_venv.parent / "eindex-gen"
    assert script_path.is_file()
    completed = run_checked(
        [str(script_path), "--help"], cwd=tmp_path, env=isolated_environment(tmp_path / "cache")
    )
    assert "eindex-gen" in completed.stdout
