"""A long run of random operations: memory stays flat and sampled results match the oracle."""

import gc
import tracemalloc

import numpy as np
import oracle
import pytest

import eindex_codegen as eindex

# (operation, pattern, agg, axes sized by keyword). Axis names are taken from SIZES below.
CASES = [
    ("gather", "b h w c, [h, w] b t -> b t c", None, ()),
    ("gather", "b h c, [h] b t k -> b t c", "mean", ()),
    ("gather", "h c, [h] t k -> t c", "max", ()),
    ("gather", "h w, [h, w] -> ", None, ()),
    ("scatter", "i c, [k] i -> k c", "sum", ("k",)),
    ("scatter", "i c, [k] i -> k c", "mean", ("k",)),
    ("scatter", ", [k, w] i t -> k w", "sum", ("k", "w")),
    ("scatter", "b i, [k] b i r -> b k", "min", ("k",)),
    ("gather_scatter", "h c, [h, k] i -> k c", "mean", ("k",)),
    ("gather_scatter", "b h c, [h, k] b i -> b k c", "max", ("k",)),
    ("argmax", "b h w -> [h, w] b", None, ()),
    ("argmin", "h b -> [h] b", None, ()),
    ("argsort", "t b w -> [w] t b order", None, ()),
]
SIZES = {"b": 2, "h": 3, "w": 4, "c": 2, "t": 3, "k": 3, "i": 5, "r": 2}


def random_sizes(rng):
    return {name: int(rng.integers(1, size + 2)) for name, size in SIZES.items()}


def make_call(case, rng, backend):
    operation, pattern, agg, keyword_axes = case
    sizes = random_sizes(rng)
    if operation.startswith("arg"):
        left = pattern.split("->")[0].split()
        x = rng.integers(0, 4, size=[sizes[name] for name in left]).astype(np.float64)
        return operation, pattern, agg, {}, x, None
    left, _ = pattern.split("->")
    array_part, index_part = left.split(",", 1)
    brackets = [name.strip() for name in index_part.split("]")[0].strip(" [").split(",")]
    index_axes = index_part.split("]")[1].split()
    arr = rng.normal(size=[sizes[name] for name in array_part.split()])
    ind = np.stack([rng.integers(0, sizes[name], size=[sizes[axis] for axis in index_axes])
                    for name in brackets])
    keywords = {name: sizes[name] for name in keyword_axes}
    return operation, pattern, agg, keywords, arr, ind


def run(call, backend):
    operation, pattern, agg, keywords, x, ind = call
    if backend == "torch":
        import torch
        x = torch.from_numpy(x)
        ind = None if ind is None else torch.from_numpy(ind)
    function = getattr(eindex, operation)
    if operation.startswith("arg"):
        result = function(x, pattern)
    elif operation == "gather":
        result = function(x, ind, pattern, agg=agg)
    else:
        result = function(x, ind, pattern, agg=agg, **keywords)
    return np.asarray(result)


def expected(call):
    operation, pattern, agg, keywords, x, ind = call
    if operation.startswith("arg"):
        return getattr(oracle, operation)(x, pattern)
    if operation == "gather":
        return oracle.gather(x, ind, pattern, agg=agg)
    return getattr(oracle, operation)(x, ind, pattern, agg=agg, **keywords)


def available_backends():
    try:
        import eindex_codegen.torch  # noqa: F401
    except ImportError:
        return ["numpy"]
    return ["numpy", "torch"]


@pytest.mark.slow
def test_twenty_thousand_random_operations():
    rng = np.random.default_rng(2026)
    backends = available_backends()
    gc.collect()
    tracemalloc.start()
    checked = 0
    for step in range(20_000):
        case = CASES[step % len(CASES)]
        backend = backends[step % len(backends)]
        call = make_call(case, rng, backend)
        result = run(call, backend)
        if step % 100 == 0:
            np.testing.assert_allclose(result, expected(call), rtol=1e-12, atol=1e-12, equal_nan=True)
            checked += 1
        if step == 2_000:
            gc.collect()
            warm, _ = tracemalloc.get_traced_memory()
    gc.collect()
    final, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert checked == 200
    # Allocations still held after 18,000 more calls: a leak of even 100 bytes a call would show.
    assert final - warm < 1_000_000, f"traced memory grew by {final - warm} bytes"
