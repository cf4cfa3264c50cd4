"""Cluster scikit-learn's handwritten digits with k-means written in eindex patterns.

The data set ships with scikit-learn (1,797 images of 8x8 pixels, values 0 to
16), so nothing is downloaded. Two implementations of k-means run side by
side, each from its own centers: one with eindex_codegen (`argmin` to assign
images, `scatter` with `agg="mean"` to average them), one with plain numpy
(`np.argmin`, `np.add.at`, `np.bincount`). After every iteration they must
assign every image to the same cluster and agree on the centers to 1e-12, or
the script exits with status 1.

Start: the first 10 images, which happen to be one of each digit 0 to 9.
An empty cluster keeps its previous center in both implementations.

After the last iteration, a scatter of a 0-d array of ones counts the images
of every (cluster, true digit) pair: the confusion matrix, checked against
`np.add.at`. The eindex_codegen side runs on numpy, and on torch tensors when
torch is installed. The plain side is numpy in both runs.

Run it with `python examples/kmeans_digits.py` in an environment with
eindex-codegen and scikit-learn installed. `make demo` runs it in full, then
all six examples through `examples/run_all.py`.
"""

import sys
import time

import numpy as np
from example_tools import (
    Checks,
    Outcome,
    best_time,
    one_like,
    run_backends,
    to_backend,
    to_numpy,
)
from sklearn.datasets import load_digits

import eindex_codegen as eindex

CLUSTER_COUNT = 10
LABEL_COUNT = 10
ITERATIONS = 20
CENTER_TOLERANCE = 1e-12

ASSIGN_PATTERN = "cluster i -> [cluster] i"
UPDATE_PATTERN = "i c, [cluster] i -> cluster c"
COUNT_PATTERN = ", [cluster] i -> cluster"
CONFUSION_PATTERN = ", [cluster, label] i -> cluster label"


def squared_distances(points_ic, centers_kc):
    """Return the squared Euclidean distance of every image to every center, shape (cluster, i)."""
    difference_kic = centers_kc[:, None, :] - points_ic[None, :, :]
    return (difference_kic**2).sum(axis=-1)


def eindex_step(points_ic, centers_kc):
    """Run one k-means step with eindex_codegen and return the clusters and the new centers."""
    distance_ki = squared_distances(points_ic, centers_kc)
    # Shape (1, i): one index row, for the one bracketed axis.
    clusters_1i = eindex.argmin(distance_ki, ASSIGN_PATTERN)
    means_kc = eindex.scatter(
        points_ic, clusters_1i, UPDATE_PATTERN, agg="mean", cluster=CLUSTER_COUNT
    )
    # The mean over an empty cluster is NaN, so those rows keep the old center.
    # The 0-d one is written once per image, so the sum counts the images of each cluster.
    counts_k = eindex.scatter(
        one_like(points_ic), clusters_1i, COUNT_PATTERN, cluster=CLUSTER_COUNT
    )
    empty_k = counts_k == 0
    new_centers_kc = means_kc
    new_centers_kc[empty_k] = centers_kc[empty_k]
    return clusters_1i[0], new_centers_kc


def numpy_step(points_ic, centers_kc):
    """Run one k-means step with plain numpy and return the clusters and the new centers."""
    distance_ki = squared_distances(points_ic, centers_kc)
    clusters_i = np.argmin(distance_ki, axis=0)
    sums_kc = np.zeros_like(centers_kc)
    np.add.at(sums_kc, clusters_i, points_ic)
    counts_k = np.bincount(clusters_i, minlength=len(centers_kc))
    new_centers_kc = centers_kc.copy()
    filled_k = counts_k > 0
    new_centers_kc[filled_k] = sums_kc[filled_k] / counts_k[filled_k, None]
    return clusters_i, new_centers_kc


def find_mismatch(iteration, eindex_result, numpy_result):
    """Return a message describing how the two steps disagree, or None when they agree."""
    eindex_clusters, eindex_centers = eindex_result
    numpy_clusters, numpy_centers = numpy_result

    differing_images = np.flatnonzero(eindex_clusters != numpy_clusters)
    if differing_images.size:
        first = differing_images[0]
        return (
            f"iteration {iteration}: eindex and numpy assign {differing_images.size} of "
            f"{len(eindex_clusters)} images to different clusters (first: image {first}, "
            f"cluster {eindex_clusters[first]} from eindex, {numpy_clusters[first]} from numpy)"
        )

    center_difference = np.abs(eindex_centers - numpy_centers).max()
    if not center_difference <= CENTER_TOLERANCE:
        return (
            f"iteration {iteration}: eindex and numpy centers differ by up to "
            f"{center_difference:.3e}, more than the tolerance {CENTER_TOLERANCE:.0e}"
        )
    return None


def purity(clusters_i, labels_i):
    """Return the fraction of images whose digit is the most common digit of their cluster."""
    label_count = labels_i.max() + 1
    pair_counts = np.bincount(
        clusters_i * label_count + labels_i, minlength=CLUSTER_COUNT * label_count
    )
    majority_counts = pair_counts.reshape(CLUSTER_COUNT, label_count).max(axis=1)
    return majority_counts.sum() / len(labels_i)


def eindex_confusion(clusters_i, labels_i):
    """Count the images of every (cluster, digit) pair with a scatter of a 0-d one."""
    return eindex.scatter(
        one_like(clusters_i),
        [clusters_i, labels_i],
        CONFUSION_PATTERN,
        cluster=CLUSTER_COUNT,
        label=LABEL_COUNT,
    )


def numpy_confusion(clusters_i, labels_i):
    """Count the images of every (cluster, digit) pair with `np.add.at`."""
    confusion_kl = np.zeros((CLUSTER_COUNT, LABEL_COUNT), dtype=np.int64)
    np.add.at(confusion_kl, (clusters_i, labels_i), 1)
    return confusion_kl


def format_confusion(confusion_kl):
    """Return the lines of a confusion matrix table, one row per cluster."""
    lines = ["confusion matrix (rows: clusters, columns: true digits 0-9):"]
    lines.append("         " + "".join(f"{label:5d}" for label in range(LABEL_COUNT)))
    for cluster, row in enumerate(confusion_kl):
        lines.append(f"  {cluster:5d}  " + "".join(f"{int(count):5d}" for count in row))
    return lines


def run(backend="numpy"):
    """Run k-means with eindex_codegen on `backend` beside plain numpy and check every iteration."""
    digits = load_digits()
    points_ic = digits.data
    labels_i = digits.target
    eindex_points_ic = to_backend(points_ic, backend)
    checks = Checks()
    report = [
        f"digits: {points_ic.shape[0]} images of {points_ic.shape[1]} pixels",
        f"k-means: k={CLUSTER_COUNT}, {ITERATIONS} iterations, start at the first 10 images\n",
    ]

    eindex_centers = to_backend(points_ic[:CLUSTER_COUNT].copy(), backend)
    numpy_centers = points_ic[:CLUSTER_COUNT].copy()
    previous_clusters = None
    # The first call of each pattern compiles it or loads it from the disk cache, so it is
    # made here, outside the timed loop.
    eindex_step(eindex_points_ic, eindex_centers)
    # The times reported are those of the fastest iteration of each version.
    eindex_seconds = plain_seconds = float("inf")

    for iteration in range(1, ITERATIONS + 1):
        started = time.perf_counter()
        eindex_clusters, eindex_centers = eindex_step(eindex_points_ic, eindex_centers)
        eindex_seconds = min(eindex_seconds, time.perf_counter() - started)
        started = time.perf_counter()
        numpy_result = numpy_step(points_ic, numpy_centers)
        plain_seconds = min(plain_seconds, time.perf_counter() - started)

        eindex_result = (to_numpy(eindex_clusters), to_numpy(eindex_centers))
        mismatch = find_mismatch(iteration, eindex_result, numpy_result)
        checks.true("clusters and centers", mismatch is None, mismatch)
        if mismatch is not None:
            break

        clusters_i = eindex_result[0]
        numpy_centers = numpy_result[1]
        center_difference = np.abs(eindex_result[1] - numpy_centers).max()
        if previous_clusters is None:
            progress = "first assignment"
        else:
            moved = np.count_nonzero(clusters_i != previous_clusters)
            progress = f"{moved:4d} images changed cluster"
        previous_clusters = clusters_i
        report.append(
            f"iteration {iteration:2d}: {progress:<30}"
            f"max |eindex - numpy| over centers = {center_difference:.1e}"
        )

    if checks.failures:
        return Outcome(
            "k-means",
            backend,
            "k-means stopped at a mismatch",
            report,
            checks,
            eindex_seconds,
            plain_seconds,
        )

    eindex_clusters_i = to_backend(previous_clusters, backend)
    eindex_labels_i = to_backend(labels_i, backend)
    confusion_kl, seconds = best_time(lambda: eindex_confusion(eindex_clusters_i, eindex_labels_i))
    eindex_seconds += seconds
    expected_confusion_kl, seconds = best_time(lambda: numpy_confusion(previous_clusters, labels_i))
    plain_seconds += seconds
    checks.equal("confusion matrix", confusion_kl, expected_confusion_kl)

    cluster_purity = purity(previous_clusters, labels_i)
    confusion_purity = to_numpy(confusion_kl).max(axis=1).sum() / len(labels_i)
    checks.true(
        "purity",
        confusion_purity == cluster_purity,
        f"{confusion_purity} from the confusion matrix, {cluster_purity} from np.bincount",
    )

    report.append(
        f"\ncenters match: eindex and numpy agree to {CENTER_TOLERANCE:.0e} in all iterations"
    )
    sizes = np.bincount(previous_clusters, minlength=CLUSTER_COUNT)
    report.append(f"cluster sizes: {sizes.tolist()}")
    report.append(f"purity against the true digit labels: {cluster_purity:.4f}")
    report.extend(format_confusion(to_numpy(confusion_kl)))
    summary = (
        f"{ITERATIONS} iterations on {len(points_ic)} digits, purity {cluster_purity:.4f}, "
        f"{CLUSTER_COUNT}x{LABEL_COUNT} confusion matrix"
    )
    return Outcome("k-means", backend, summary, report, checks, eindex_seconds, plain_seconds)


def print_generated_scatter_module():
    path = eindex.cached_path("scatter", UPDATE_PATTERN, agg="mean")
    source = eindex.source("scatter", UPDATE_PATTERN, agg="mean")
    print(f"\nGenerated module for scatter '{UPDATE_PATTERN}', agg='mean':")
    print(f"path: {path}\n")
    print(source)


def main():
    failed = run_backends(run)
    print_generated_scatter_module()
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
