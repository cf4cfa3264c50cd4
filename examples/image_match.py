"""Find where every patch of a shifted, noisy copy of a photo lies in the original.

Data: the photo of Grace Hopper that matplotlib ships in its sample data
(`grace_hopper.jpg`, 600x512 pixels, RGB). The original is cut into a grid of
16x16-pixel patches, h x w. The copy is a crop of the original that starts 5
patches down and 3 patches right, with Gaussian noise added (standard
deviation 0.1 on a 0-1 scale), cut into its own grid, hq x wq. A patch's
embedding c is its 768 pixel values minus their mean, scaled to unit length,
so the dot product of two embeddings is their cosine similarity.

For every patch of the copy, a two-axis `argmax` finds the (h, w) of the most
similar patch of the original, and `gather` reads the embedding there:

    best = argmax(score, "h w hq wq -> [h, w] hq wq")
    matched = gather(original, best, "h w c, [h, w] hq wq -> hq wq c")

Each patch then votes for its offset (h - hq, w - wq) with a scatter of a 0-d
one, and the `argmax` of the votes recovers the shift, which must equal the
known (5, 3). The plain numpy version uses `argmax` over a reshaped score,
`np.unravel_index`, fancy indexing and `np.add.at`.

Run it with `python examples/image_match.py`.
"""

import matplotlib.cbook
import matplotlib.image
import numpy as np
from example_tools import (
    Checks,
    Outcome,
    arange_like,
    best_time,
    one_like,
    run_script,
    to_backend,
    to_numpy,
)

import eindex_codegen as eindex

PATCH_SIZE = 16
SHIFT = (5, 3)
COPY_GRID = (30, 26)
NOISE = 0.1

MATCH_PATTERN = "h w hq wq -> [h, w] hq wq"
GATHER_PATTERN = "h w c, [h, w] hq wq -> hq wq c"
VOTE_PATTERN = ", [dh, dw] hq wq -> dh dw"
SHIFT_PATTERN = "dh dw -> [dh, dw]"


def load_photo():
    """Return the bundled photo as float32 values in [0, 1], shape (rows, columns, 3)."""
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as file:
        return matplotlib.image.imread(file, format="jpg").astype(np.float32) / 255


def patch_embeddings(image):
    """Cut `image` into 16x16 patches; return unit-length, zero-mean embeddings (h, w, c)."""
    rows = image.shape[0] // PATCH_SIZE
    columns = image.shape[1] // PATCH_SIZE
    cropped = image[: rows * PATCH_SIZE, : columns * PATCH_SIZE]
    patches = cropped.reshape(rows, PATCH_SIZE, columns, PATCH_SIZE, -1).transpose(0, 2, 1, 3, 4)
    embeddings = patches.reshape(rows, columns, -1)
    embeddings = embeddings - embeddings.mean(axis=-1, keepdims=True)
    # The small floor keeps a perfectly flat patch at zero instead of dividing by zero.
    norms = np.maximum(np.linalg.norm(embeddings, axis=-1, keepdims=True), 1e-6)
    return embeddings / norms


def shifted_noisy_copy(image, rng):
    """Return the crop of `image` that starts SHIFT patches in, with Gaussian noise added."""
    top = SHIFT[0] * PATCH_SIZE
    left = SHIFT[1] * PATCH_SIZE
    crop = image[top : top + COPY_GRID[0] * PATCH_SIZE, left : left + COPY_GRID[1] * PATCH_SIZE]
    return crop + rng.normal(0, NOISE, crop.shape).astype(np.float32)


def offset_index(best, copy_grid):
    """Return the offset (h - hq, w - wq) of every match as two index rows, made non-negative.

    The offset h - hq lies in [-(hq size - 1), h size - 1], so adding hq size - 1
    makes it a valid coordinate of an axis of size h size + hq size - 1.
    """
    rows_hq = arange_like(best, copy_grid[0])[:, None]
    columns_wq = arange_like(best, copy_grid[1])[None, :]
    return [best[0] - rows_hq + copy_grid[0] - 1, best[1] - columns_wq + copy_grid[1] - 1]


def eindex_match(original_hwc, copy_qrc, score_hwqr):
    """Return the best (h, w) per copy patch (2, hq, wq), the matched embeddings and the votes."""
    best = eindex.argmax(score_hwqr, MATCH_PATTERN)
    matched_qrc = eindex.gather(original_hwc, best, GATHER_PATTERN)
    copy_grid = copy_qrc.shape[:2]
    offsets = offset_index(best, copy_grid)
    votes = eindex.scatter(
        one_like(best),
        offsets,
        VOTE_PATTERN,
        dh=original_hwc.shape[0] + copy_grid[0] - 1,
        dw=original_hwc.shape[1] + copy_grid[1] - 1,
    )
    winner = eindex.argmax(votes, SHIFT_PATTERN)
    return best, matched_qrc, votes, winner


def numpy_match(original_hwc, copy_qrc, score_hwqr):
    """Return what `eindex_match` returns, computed with plain numpy."""
    rows, columns = original_hwc.shape[:2]
    copy_rows, copy_columns = copy_qrc.shape[:2]
    flat_best = score_hwqr.reshape(rows * columns, copy_rows, copy_columns).argmax(axis=0)
    best = np.stack(np.unravel_index(flat_best, (rows, columns)))
    matched_qrc = original_hwc[best[0], best[1]]
    votes = np.zeros((rows + copy_rows - 1, columns + copy_columns - 1), dtype=np.int64)
    np.add.at(
        votes,
        (
            (best[0] - np.arange(copy_rows)[:, None] + copy_rows - 1).ravel(),
            (best[1] - np.arange(copy_columns)[None, :] + copy_columns - 1).ravel(),
        ),
        1,
    )
    winner = np.array(np.unravel_index(votes.argmax(), votes.shape))
    return best, matched_qrc, votes, winner


def run(backend="numpy"):
    """Match the patches of the noisy copy to the photo on `backend` and check against numpy."""
    image = load_photo()
    rng = np.random.default_rng(0)
    original_hwc = patch_embeddings(image)
    copy_qrc = patch_embeddings(shifted_noisy_copy(image, rng))
    score_hwqr = np.einsum("hwc,qrc->hwqr", original_hwc, copy_qrc)
    copy_grid = copy_qrc.shape[:2]

    backend_original = to_backend(original_hwc, backend)
    backend_copy = to_backend(copy_qrc, backend)
    backend_score = to_backend(score_hwqr, backend)
    (best, matched_qrc, votes, winner), eindex_seconds = best_time(
        lambda: eindex_match(backend_original, backend_copy, backend_score)
    )
    (expected_best, expected_matched, expected_votes, expected_winner), plain_seconds = best_time(
        lambda: numpy_match(original_hwc, copy_qrc, score_hwqr)
    )

    checks = Checks()
    checks.equal("best (h, w)", best, expected_best)
    checks.equal("matched embeddings", matched_qrc, expected_matched)
    checks.equal("offset votes", votes, expected_votes)
    checks.equal("winning offset", winner.reshape(-1), expected_winner)
    # The matched embedding's dot product with the copy patch is the best score itself.
    best_scores = (to_numpy(matched_qrc) * copy_qrc).sum(axis=-1)
    checks.close("score of the match", best_scores, score_hwqr.max(axis=(0, 1)), 1e-5)

    recovered = tuple(
        int(value) - (size - 1) for value, size in zip(to_numpy(winner).reshape(-1), copy_grid)
    )
    checks.true("recovered shift", recovered == SHIFT, f"found {recovered}, expected {SHIFT}")
    agreeing = int(to_numpy(votes).max())
    patch_count = copy_grid[0] * copy_grid[1]
    report = [
        (
            f"photo: grace_hopper.jpg {image.shape[0]}x{image.shape[1]}, cut into "
            f"{original_hwc.shape[0]}x{original_hwc.shape[1]} patches of {PATCH_SIZE}x{PATCH_SIZE}"
        ),
        (
            f"copy: shifted by {SHIFT} patches, noise sd {NOISE}, {copy_grid[0]}x{copy_grid[1]} "
            f"patches; score array h w hq wq = {score_hwqr.shape}"
        ),
        (
            f"recovered shift: {recovered} (known {SHIFT}); {agreeing} of {patch_count} patches "
            f"found their own patch"
        ),
    ]
    summary = (
        f"best match of {patch_count} noisy patches in a {original_hwc.shape[0]}x"
        f"{original_hwc.shape[1]} grid: shift {recovered} recovered, {agreeing / patch_count:.0%} "
        f"of patches agree"
    )
    return Outcome("image match", backend, summary, report, checks, eindex_seconds, plain_seconds)


def main():
    run_script(run)


if __name__ == "__main__":
    main()
