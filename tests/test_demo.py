"""The k-means example of `make demo`: the script, and its two step functions on small cases."""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the demo needs scikit-learn (the `demo` extra)")

EXAMPLE_PATH = pathlib.Path(__file__).resolve().parents[1] / "examples" / "kmeans_digits.py"


@pytest.fixture(scope="module")
def kmeans():
    # The script imports example_tools from its own folder.
    if str(EXAMPLE_PATH.parent) not in sys.path:
        sys.path.insert(0, str(EXAMPLE_PATH.parent))
    spec = importlib.util.spec_from_file_location("kmeans_digits", EXAMPLE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_demo_script_passes(tmp_path):
    environment = dict(os.environ, EINDEX_CACHE_DIR=str(tmp_path))
    completed = subprocess.run(
        [sys.executable, str(EXAMPLE_PATH)],
        check=False,
        capture_output=True,
        text=True,
        env=environment,
    )
    assert completed.returncode == 0, completed.stderr
    assert "centers match" in completed.stdout
    assert re.search(r"purity against the true digit labels: 0\.\d{4}", completed.stdout)

    path_match = re.search(r"^path: (.+)$", completed.stdout, re.MULTILINE)
    assert path_match, completed.stdout
    module_path = pathlib.Path(path_match.group(1))
    assert module_path.is_file()
    assert module_path.is_relative_to(tmp_path)


def test_steps_agree_with_empty_cluster(kmeans):
    points_ic = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [9.0, 9.0], [8.0, 9.0]])
    # Every center after the first two is far from all points, so its cluster stays empty.
    centers_kc = np.full((kmeans.CLUSTER_COUNT, 2), 1000.0)
    centers_kc[0] = [0.0, 0.0]
    centers_kc[1] = [9.0, 9.0]

    eindex_clusters, eindex_centers = kmeans.eindex_step(points_ic, centers_kc)
    numpy_clusters, numpy_centers = kmeans.numpy_step(points_ic, centers_kc)

    np.testing.assert_array_equal(eindex_clusters, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(numpy_clusters, eindex_clusters)
    np.testing.assert_allclose(eindex_centers[:2], [[1 / 3, 1 / 3], [8.5, 9.0]], atol=1e-12)
    np.testing.assert_array_equal(eindex_centers[2:], centers_kc[2:])
    np.testing.assert_allclose(numpy_centers, eindex_centers, atol=1e-12)


def test_find_mismatch_reports_centers(kmeans):
    clusters_i = np.array([0, 1, 1])
    centers_kc = np.zeros((2, 3))
    shifted_kc = centers_kc + 1e-9

    assert kmeans.find_mismatch(1, (clusters_i, centers_kc), (clusters_i, centers_kc)) is None
    message = kmeans.find_mismatch(4, (clusters_i, centers_kc), (clusters_i, shifted_kc))
    assert message is not None
    assert "iteration 4" in message
    assert "centers differ" in message


def test_find_mismatch_reports_clusters(kmeans):
    centers_kc = np.zeros((2, 3))
    message = kmeans.find_mismatch(
        2, (np.array([0, 1, 1]), centers_kc), (np.array([0, 0, 1]), centers_kc)
    )
    assert message is not None
    assert "1 of 3 images" in message
    assert "image 1" in message
