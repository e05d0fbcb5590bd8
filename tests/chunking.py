"""Feed a streaming detector in chunks: the tool behind every 'chunked == whole' test."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def feed(det, x: np.ndarray, sizes: Iterator[int]) -> np.ndarray:
    """Run ``det.update`` over ``x`` (sampled at ``det.fs``) in chunks of ``sizes``.

    Returns the concatenated beat times; the whole signal is always consumed.
    """
    ts = np.arange(x.size) / det.fs
    out, i = [], 0
    for n in sizes:
        if i >= x.size:
            break
        out.append(det.update(x[i : i + n], ts[i : i + n]))
        i += n
    return np.concatenate(out)


def fixed(n: int) -> Iterator[int]:
    """Chunks of ``n`` samples, forever."""
    while True:
        yield n


def random_sizes(seed: int, hi: int) -> Iterator[int]:
    """Seeded random chunk sizes in ``[1, hi)``, forever."""
    rng = np.random.default_rng(seed)
    while True:
        yield int(rng.integers(1, hi))
