"""Find the 5 nearest neighbours of every handwritten digit and classify it by their votes.

Data: scikit-learn's bundled digits (1,797 images of 8x8 pixels). For every
image, `argsort` over the squared distances to all other images gives the
positions in ascending order along an `order` axis, and the first 5 of them
are its nearest neighbours. A `gather` reads their labels, a scatter of a 0-d
one counts the votes per label, and `argmax` picks the winning label
(a tied vote goes to the smaller label). The leave-one-out accuracy is the
fraction of images whose vote matches their own label.

The plain numpy version uses `np.argsort(kind="stable")`, fancy indexing and
`np.add.at`. Squared distances between digits are integers, so ties are
common: both versions order tied distances by image number, because both
sorts are stable.

Run it with `python examples/nearest_neighbours.py`.
"""

import numpy as np
from example_tools import Checks, Outcome, best_time, one_like, run_script, to_backend, to_numpy
from sklearn.datasets import load_digits

import eindex_codegen as eindex

NEIGHBOUR_COUNT = 5
LABEL_COUNT = 10

SORT_PATTERN = "i j -> [j] i order"
LABEL_PATTERN = "j, [j] i neighbour -> i neighbour"
VOTE_PATTERN = ", [label] i neighbour -> i label"
PREDICT_PATTERN = "i label -> [label] i"


def distance_matrix(points_ic):
    """Return the squared distances between all images, with +inf on the diagonal.

    The infinite diagonal keeps an image out of its own neighbours.
    """
    squared_norms_i = (points_ic**2).sum(axis=1)
    distance_ij = squared_norms_i[:, None] + squared_norms_i[None, :] - 2 * points_ic @ points_ic.T
    np.fill_diagonal(distance_ij, np.inf)
    return distance_ij


def eindex_knn(distance_ij, labels_j):
    """Return the neighbours (1, i, neighbour), their vote counts (i, label) and the predictions."""
    order_1io = eindex.argsort(distance_ij, SORT_PATTERN)
    neighbours_1in = order_1io[:, :, :NEIGHBOUR_COUNT]
    neighbour_labels_in = eindex.gather(labels_j, neighbours_1in, LABEL_PATTERN)
    # The 0-d one is written once per neighbour, so the sum counts the votes of each label.
    votes_il = eindex.scatter(
        one_like(labels_j),
        neighbour_labels_in[None],
        VOTE_PATTERN,
        label=LABEL_COUNT,
    )
    predictions_1i = eindex.argmax(votes_il, PREDICT_PATTERN)
    return neighbours_1in, votes_il, predictions_1i[0]


def numpy_knn(distance_ij, labels_j):
    """Return what `eindex_knn` returns, computed with plain numpy."""
    neighbours_in = np.argsort(distance_ij, axis=1, kind="stable")[:, :NEIGHBOUR_COUNT]
    neighbour_labels_in = labels_j[neighbours_in]
    votes_il = np.zeros((len(labels_j), LABEL_COUNT), dtype=np.int64)
    rows_in = np.broadcast_to(np.arange(len(labels_j))[:, None], neighbours_in.shape)
    np.add.at(votes_il, (rows_in, neighbour_labels_in), 1)
    return neighbours_in[None], votes_il, votes_il.argmax(axis=1)


def run(backend="numpy"):
    """Classify every digit by its nearest neighbours on `backend` and check against numpy."""
    digits = load_digits()
    labels_i = digits.target.astype(np.int64)
    distance_ij = distance_matrix(digits.data)
    eindex_distance_ij = to_backend(distance_ij, backend)
    eindex_labels_i = to_backend(labels_i, backend)

    (neighbours, votes, predictions), eindex_seconds = best_time(
        lambda: eindex_knn(eindex_distance_ij, eindex_labels_i), min_repeats=2
    )
    (expected_neighbours, expected_votes, expected_predictions), plain_seconds = best_time(
        lambda: numpy_knn(distance_ij, labels_i), min_repeats=2
    )

    checks = Checks()
    checks.equal("neighbours", neighbours, expected_neighbours)
    checks.equal("votes", votes, expected_votes)
    checks.equal("predictions", predictions, expected_predictions)
    accuracy = float((expected_predictions == labels_i).mean())
    eindex_accuracy = float((to_numpy(predictions) == labels_i).mean())
    checks.true(
        "accuracy",
        eindex_accuracy == accuracy,
        f"{eindex_accuracy:.4f} with eindex_codegen, {accuracy:.4f} with plain argsort",
    )

    first = to_numpy(neighbours)[0, 0]
    report = [
        (
            f"digits: {len(labels_i)} images; each one's {NEIGHBOUR_COUNT} nearest other images "
            f"by squared distance"
        ),
        (
            f"image 0 (digit {labels_i[0]}): neighbours {first.tolist()}, "
            f"digits {labels_i[first].tolist()}"
        ),
        (
            f"leave-one-out {NEIGHBOUR_COUNT}-NN accuracy: {eindex_accuracy:.4f} with eindex_codegen, "
            f"{accuracy:.4f} with plain np.argsort"
        ),
    ]
    summary = (
        f"{NEIGHBOUR_COUNT} nearest of {len(labels_i)} digits, "
        f"leave-one-out {NEIGHBOUR_COUNT}-NN accuracy {eindex_accuracy:.4f}"
    )
    return Outcome(
        "nearest neighbours", backend, summary, report, checks, eindex_seconds, plain_seconds
    )


def main():
    run_script(run)


if __name__ == "__main__":
    main()
