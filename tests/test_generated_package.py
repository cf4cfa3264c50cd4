"""generated/ holds the modules of every pattern under examples/, and they are current."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_generated_package_is_current():
    completed = subprocess.run(
        [sys.executable, "-m", "eindex_codegen.cli", "examples/patterns.txt", "-o", "generated",
         "--backend", "numpy,torch", "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)

    assert completed.returncode == 0, f"generated/ is stale; run `make generated`:\n{completed.stdout}"
