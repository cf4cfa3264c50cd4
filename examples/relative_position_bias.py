"""Build a 2-d relative position bias, T5 style, from a table indexed by wrapped (dy, dx).

Attention over an i x j grid of positions often adds a bias that depends only
on the offset between the query position (i1, j1) and the key position
(i2, j2). Here the offsets wrap around the grid, dy = (i2 - i1) mod i and
dx = (j2 - j1) mod j, so the table has one entry per (dy, dx) and head:

    bias = gather(table, [dy, dx], "i j head, [i, j] i1 j1 i2 j2 -> i1 j1 i2 j2 head")

The two index rows are passed as a list, dy with shape (i1, 1, i2, 1) and dx
with shape (1, j1, 1, j2), and broadcast against each other.

Data: the grid is the 8x8 pixel grid of scikit-learn's bundled digits, and
there is one head per digit 0-9. The table holds, for every digit, the mean
product of the ink at a pixel and the ink dy rows down and dx columns right
(wrapping around), over all images of that digit. The bias is checked
against explicit Python loops over (i1, j1, i2, j2). With the torch backend,
the table requires a gradient. The loss is the squared error between the bias
and each digit's pixel-pair products. Its gradient in every table entry must
equal twice the summed error over the position pairs with that offset, a sum
that the same loops build.

Run it with `python examples/relative_position_bias.py`.
"""

import itertools

import numpy as np
from example_tools import Checks, Outcome, best_time, run_script, to_backend, to_numpy
from sklearn.datasets import load_digits

import eindex_codegen as eindex

GRID = 8
LABEL_COUNT = 10
TOLERANCE = 1e-10

BIAS_PATTERN = "i j head, [i, j] i1 j1 i2 j2 -> i1 j1 i2 j2 head"


def load_pixels():
    """Return the digits as ink values in [0, 1], shape (image, row, column), and their labels."""
    digits = load_digits()
    return digits.images / 16.0, digits.target


def offset_table(pixels_nyx, labels_n):
    """Return the mean product of ink at (y, x) and at (y + dy, x + dx) wrapped, per digit."""
    table_yxh = np.zeros((GRID, GRID, LABEL_COUNT))
    for label in range(LABEL_COUNT):
        images = pixels_nyx[labels_n == label]
        for dy, dx in itertools.product(range(GRID), range(GRID)):
            moved = np.roll(images, shift=(-dy, -dx), axis=(1, 2))
            table_yxh[dy, dx, label] = (images * moved).mean()
    return table_yxh


def pair_products(pixels_nyx, labels_n):
    """Return the mean product of ink at (i1, j1) and at (i2, j2) per digit: i1 j1 i2 j2 head."""
    products = np.zeros((GRID, GRID, GRID, GRID, LABEL_COUNT))
    for label in range(LABEL_COUNT):
        images = pixels_nyx[labels_n == label]
        products[..., label] = np.einsum("nab,ncd->abcd", images, images) / len(images)
    return products


def wrapped_differences():
    """Return the (GRID, GRID) matrix whose [a, b] entry is (b - a) mod GRID."""
    positions = np.arange(GRID)
    return (positions[None, :] - positions[:, None]) % GRID


def wrapped_offsets(backend):
    """Return the index rows [dy, dx]: dy (i1, 1, i2, 1) and dx (1, j1, 1, j2), on `backend`."""
    difference = wrapped_differences()
    dy_rows = difference[:, None, :, None]
    dx_columns = difference[None, :, None, :]
    return [to_backend(dy_rows, backend), to_backend(dx_columns, backend)]


def eindex_bias(table_yxh, offsets):
    return eindex.gather(table_yxh, offsets, BIAS_PATTERN)


def numpy_bias(table_yxh):
    """Return the bias with numpy fancy indexing, as a vectorised plain version."""
    difference = wrapped_differences()
    return table_yxh[difference[:, None, :, None], difference[None, :, None, :]]


def loop_bias(table_yxh):
    """Return the bias built one (i1, j1, i2, j2) at a time."""
    bias = np.zeros((GRID, GRID, GRID, GRID, table_yxh.shape[-1]))
    for i1, j1, i2, j2 in itertools.product(range(GRID), repeat=4):
        bias[i1, j1, i2, j2] = table_yxh[(i2 - i1) % GRID, (j2 - j1) % GRID]
    return bias


def loop_table_gradient(error):
    """Return d(sum of error**2)/d(table) for error = bias - target, one position pair at a time."""
    gradient = np.zeros((GRID, GRID, error.shape[-1]))
    for i1, j1, i2, j2 in itertools.product(range(GRID), repeat=4):
        gradient[(i2 - i1) % GRID, (j2 - j1) % GRID] += 2 * error[i1, j1, i2, j2]
    return gradient


def check_gradient(checks, table_yxh, offsets, target):
    """Backpropagate a squared error through the torch gather, check the gradient, return the loss."""
    import torch

    table = torch.tensor(table_yxh, requires_grad=True)
    bias = eindex.gather(table, offsets, BIAS_PATTERN)
    loss = ((bias - torch.from_numpy(target)) ** 2).sum()
    loss.backward()
    checks.true("gradient", table.grad is not None, "no gradient reached the table")
    if table.grad is not None:
        expected = loop_table_gradient(loop_bias(table_yxh) - target)
        checks.close("table gradient", table.grad, expected, TOLERANCE)
    return loss.item()


def run(backend="numpy"):
    """Gather the bias on `backend`, check it against loops, and check its gradient on torch."""
    pixels_nyx, labels_n = load_pixels()
    table_yxh = offset_table(pixels_nyx, labels_n)
    backend_table = to_backend(table_yxh, backend)
    offsets = wrapped_offsets(backend)

    bias, eindex_seconds = best_time(lambda: eindex_bias(backend_table, offsets))
    plain_bias, plain_seconds = best_time(lambda: numpy_bias(table_yxh))
    expected = loop_bias(table_yxh)

    checks = Checks()
    checks.equal("bias", bias, expected)
    checks.equal("plain bias", plain_bias, expected)
    shape = tuple(to_numpy(bias).shape)
    report = [
        (
            f"table: {GRID}x{GRID} wrapped offsets (dy, dx) x {LABEL_COUNT} heads, one per digit, "
            f"from {len(labels_n)} images"
        ),
        f"bias i1 j1 i2 j2 head: {shape}, equal to explicit loops over (i1, j1, i2, j2)",
    ]
    if backend == "torch":
        loss = check_gradient(checks, table_yxh, offsets, pair_products(pixels_nyx, labels_n))
        report.append(
            f"gradient: squared error {loss:.3f} against each digit's pixel-pair products; "
            f"d loss / d table matches the loop-built sum"
        )
        gradient_note = "; gradient reaches the table"
    else:
        report.append("gradient: checked on the torch backend only")
        gradient_note = ""
    summary = (
        f"bias {shape} from a {GRID}x{GRID}x{LABEL_COUNT} table, equal to loops{gradient_note}"
    )
    return Outcome(
        "relative position bias", backend, summary, report, checks, eindex_seconds, plain_seconds
    )


def main():
    run_script(run)


if __name__ == "__main__":
    main()
