"""Average features over a nearest-neighbour graph and propagate labels along its edges.

Data: scikit-learn's bundled digits (1,797 images of 8x8 pixels). Every image
is a node, and an edge runs to it from each of its 5 nearest other images, so
the edge index has two rows, `[vin, vout]`, and one column per edge.

One `gather_scatter` with `agg="mean"` reads the features of every edge's
source node and averages them at its target node:

    gather_scatter(x, edges, "vin c, [vin, vout] edge -> vout c", agg="mean", vout=n)

With it, the example smooths the pixel features once. Then it propagates
labels from a random 10% of the nodes. Each round replaces every node's label
scores by the mean of its neighbours' scores, and resets the known nodes to
their one-hot labels. The second run splits the digits into 4 graphs of 449 images,
stacks them along a batch axis `b`, and propagates on all 4 at once with the
pattern "b vin c, [vin, vout] b edge -> b vout c".

The plain version multiplies by the row-normalised adjacency matrix as a
scipy.sparse CSR matrix (a block-diagonal one for the batch). Both sum the
same values in different orders, so scores are compared to 1e-12, and
predicted labels are compared wherever the best two scores of a node differ
by more than that.

Run it with `python examples/graph_smoothing.py`.
"""

import numpy as np
import scipy.sparse
from example_tools import Checks, Outcome, best_time, run_script, to_backend, to_numpy
from nearest_neighbours import distance_matrix
from sklearn.datasets import load_digits

import eindex_codegen as eindex

NEIGHBOUR_COUNT = 5
LABEL_COUNT = 10
SEED_FRACTION = 0.1
ROUNDS = 10
GRAPH_COUNT = 4
TOLERANCE = 1e-12

SMOOTH_PATTERN = "vin c, [vin, vout] edge -> vout c"
BATCHED_SMOOTH_PATTERN = "b vin c, [vin, vout] b edge -> b vout c"
PREDICT_PATTERN = "v label -> [label] v"
BATCHED_PREDICT_PATTERN = "b v label -> [label] b v"


def nearest_neighbour_edges(points_ic):
    """Return the edge index (2, edge): rows vin (a neighbour) and vout (the image it is near)."""
    neighbours_in = np.argsort(distance_matrix(points_ic), axis=1, kind="stable")
    neighbours_in = neighbours_in[:, :NEIGHBOUR_COUNT]
    targets_in = np.broadcast_to(np.arange(len(points_ic))[:, None], neighbours_in.shape)
    return np.stack([neighbours_in.reshape(-1), targets_in.reshape(-1)])


def seed_scores(labels_v, rng):
    """Pick 10% of the nodes as known and return (known mask, one-hot scores of those nodes)."""
    node_count = len(labels_v)
    known_v = np.zeros(node_count, dtype=bool)
    known_v[rng.choice(node_count, size=round(SEED_FRACTION * node_count), replace=False)] = True
    scores_vl = np.zeros((node_count, LABEL_COUNT))
    scores_vl[known_v, labels_v[known_v]] = 1.0
    return known_v, scores_vl


def eindex_propagate(seed_scores_vl, known_v, edges):
    """Propagate label scores for ROUNDS rounds and return the scores and the predicted labels."""
    node_count = seed_scores_vl.shape[-2]
    scores_vl = seed_scores_vl
    for _ in range(ROUNDS):
        scores_vl = eindex.gather_scatter(
            scores_vl, edges, SMOOTH_PATTERN, agg="mean", vout=node_count
        )
        scores_vl[known_v] = seed_scores_vl[known_v]
    return scores_vl, eindex.argmax(scores_vl, PREDICT_PATTERN)[0]


def eindex_propagate_batch(seed_scores_bvl, known_bv, edges_2be):
    """Propagate label scores on a batch of graphs at once and return scores and predictions."""
    node_count = seed_scores_bvl.shape[-2]
    scores_bvl = seed_scores_bvl
    for _ in range(ROUNDS):
        scores_bvl = eindex.gather_scatter(
            scores_bvl, edges_2be, BATCHED_SMOOTH_PATTERN, agg="mean", vout=node_count
        )
        scores_bvl[known_bv] = seed_scores_bvl[known_bv]
    return scores_bvl, eindex.argmax(scores_bvl, BATCHED_PREDICT_PATTERN)[0]


def mean_matrix(edges, node_count):
    """Return the CSR matrix whose product with x averages x over each node's in-edges."""
    vin_e, vout_e = edges
    adjacency = scipy.sparse.csr_matrix(
        (np.ones(len(vin_e)), (vout_e, vin_e)), shape=(node_count, node_count)
    )
    in_degree_v = np.asarray(adjacency.sum(axis=1)).ravel()
    return scipy.sparse.diags(1.0 / in_degree_v) @ adjacency


def scipy_propagate(seed_scores_vl, known_v, matrix):
    """Propagate label scores with a sparse matrix product and return scores and predictions."""
    scores_vl = seed_scores_vl
    for _ in range(ROUNDS):
        scores_vl = matrix @ scores_vl
        scores_vl[known_v] = seed_scores_vl[known_v]
    return scores_vl, scores_vl.argmax(axis=1)


def check_predictions(checks, name, predictions, expected_scores_vl, expected_predictions):
    """Compare predicted labels where the reference's top score is clear, and count the others.

    A top score is clear when it beats the second by more than TOLERANCE, or
    when the node is unreached, with all scores exactly 0 in both versions.
    """
    top_two = np.sort(expected_scores_vl, axis=-1)[..., -2:]
    unreached = top_two[..., 1] == 0
    clear = (top_two[..., 1] - top_two[..., 0] > TOLERANCE) | unreached
    checks.equal(name, to_numpy(predictions)[clear], expected_predictions[clear])
    return int((~clear).sum())


def accuracy(predictions, labels, known):
    """Return the fraction of the nodes outside `known` whose prediction is their label."""
    unknown = ~known
    return float((to_numpy(predictions)[unknown] == labels[unknown]).mean())


def run(backend="numpy"):
    """Smooth and propagate on one graph and on a batch of 4 on `backend`, checked with scipy."""
    digits = load_digits()
    points_vc = digits.data
    labels_v = digits.target
    node_count = len(points_vc)
    rng = np.random.default_rng(0)
    checks = Checks()

    # One graph of all the digits.
    edges = nearest_neighbour_edges(points_vc)
    matrix = mean_matrix(edges, node_count)
    backend_edges = to_backend(edges, backend)
    smoothed_vc = eindex.gather_scatter(
        to_backend(points_vc, backend), backend_edges, SMOOTH_PATTERN, agg="mean", vout=node_count
    )
    checks.close("smoothed features", smoothed_vc, matrix @ points_vc, TOLERANCE)

    known_v, seed_vl = seed_scores(labels_v, rng)
    backend_seed_vl = to_backend(seed_vl, backend)
    backend_known_v = to_backend(known_v, backend)
    (scores_vl, predictions_v), single_seconds = best_time(
        lambda: eindex_propagate(backend_seed_vl, backend_known_v, backend_edges)
    )
    (expected_scores_vl, expected_predictions_v), single_plain_seconds = best_time(
        lambda: scipy_propagate(seed_vl, known_v, mean_matrix(edges, node_count))
    )
    checks.close("propagated scores", scores_vl, expected_scores_vl, TOLERANCE)
    near_ties = check_predictions(
        checks, "predicted labels", predictions_v, expected_scores_vl, expected_predictions_v
    )

    # A batch of graphs: the first 1,796 digits split into 4 graphs of 449, each with its own edges.
    graph_size = node_count // GRAPH_COUNT
    points_bvc = points_vc[: GRAPH_COUNT * graph_size].reshape(GRAPH_COUNT, graph_size, -1)
    labels_bv = labels_v[: GRAPH_COUNT * graph_size].reshape(GRAPH_COUNT, graph_size)
    edges_2be = np.stack([nearest_neighbour_edges(points) for points in points_bvc], axis=1)
    seeds = [seed_scores(labels, rng) for labels in labels_bv]
    known_bv = np.stack([known for known, _ in seeds])
    seed_bvl = np.stack([scores for _, scores in seeds])
    backend_edges_2be = to_backend(edges_2be, backend)
    backend_seed_bvl = to_backend(seed_bvl, backend)
    backend_known_bv = to_backend(known_bv, backend)
    (scores_bvl, predictions_bv), batch_seconds = best_time(
        lambda: eindex_propagate_batch(backend_seed_bvl, backend_known_bv, backend_edges_2be)
    )

    def scipy_propagate_batch():
        # Node v of graph b is row b * graph_size + v of the block-diagonal matrix.
        blocks = [mean_matrix(edges_2be[:, graph], graph_size) for graph in range(GRAPH_COUNT)]
        scores, predictions = scipy_propagate(
            seed_bvl.reshape(-1, LABEL_COUNT),
            known_bv.reshape(-1),
            scipy.sparse.block_diag(blocks, format="csr"),
        )
        return scores.reshape(seed_bvl.shape), predictions.reshape(known_bv.shape)

    (expected_scores_bvl, expected_predictions_bv), batch_plain_seconds = best_time(
        scipy_propagate_batch
    )
    checks.close("batched scores", scores_bvl, expected_scores_bvl, TOLERANCE)
    near_ties += check_predictions(
        checks,
        "batched predicted labels",
        predictions_bv,
        expected_scores_bvl,
        expected_predictions_bv,
    )

    same_digit = float((labels_v[edges[0]] == labels_v[edges[1]]).mean())
    unreached = int((to_numpy(scores_vl).max(axis=1) == 0).sum())
    single_accuracy = accuracy(predictions_v, labels_v, known_v)
    batch_accuracies = [
        accuracy(to_numpy(predictions_bv)[graph], labels_bv[graph], known_bv[graph])
        for graph in range(GRAPH_COUNT)
    ]
    report = [
        (
            f"graph: {node_count} digits, {edges.shape[1]} edges from each image's "
            f"{NEIGHBOUR_COUNT} nearest neighbours; {same_digit:.1%} join images of the same digit"
        ),
        "smoothing: every node's 64 pixel values replaced by the mean over its in-edges",
        (
            f"label propagation: {known_v.sum()} known nodes (10%), {ROUNDS} rounds, "
            f"{unreached} nodes unreached (predicted 0); accuracy on the other nodes "
            f"{single_accuracy:.4f}"
        ),
        f"batch of {GRAPH_COUNT} graphs of {graph_size} nodes: accuracy "
        + ", ".join(f"{value:.4f}" for value in batch_accuracies),
        (
            f"predicted labels compared with scipy on all nodes but {near_ties} whose best two "
            f"scores lie within {TOLERANCE:.0e}"
        ),
    ]
    summary = (
        f"{edges.shape[1]}-edge 5-NN graph: label propagation from 10% of nodes, "
        f"accuracy {single_accuracy:.4f}; batch of {GRAPH_COUNT} graphs, "
        f"mean accuracy {np.mean(batch_accuracies):.4f}"
    )
    return Outcome(
        "graph smoothing",
        backend,
        summary,
        report,
        checks,
        single_seconds + batch_seconds,
        single_plain_seconds + batch_plain_seconds,
        plain_name="scipy.sparse",
    )


def main():
    run_script(run)


if __name__ == "__main__":
    main()
