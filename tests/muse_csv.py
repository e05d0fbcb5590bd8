"""A muse-lsl CSV written from real EEG, for reader and replay tests (shared helper)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"


def muse_lsl_csv(path: Path, *, seconds: float = 60.0, seed: int = 0):
    """Write a muse-lsl CSV from real EEG (BioSPPy, eyes closed, 125 Hz -> 256 Hz).

    Four channels are four stretches of the recording; timestamps follow muse-lsl:
    12-sample packets stamped on arrival (jitter up to ~16 ms), so they step back
    between packets. ``Marker0`` holds stimulus codes on a few rows. Returns the true
    sample times, the EEG (n, 4), the marker rows and their codes.
    """
    from scipy.signal import resample_poly

    x = np.loadtxt(DATA / "biosppy/eeg_ec.txt")
    y = resample_poly(x, 256, 125)
    n = int(seconds * 256)
    eeg = np.stack([y[i * n // 2 : i * n // 2 + n] for i in range(4)], axis=1)
    rng = np.random.default_rng(seed)
    true_t = 1.7e9 + np.arange(n) / 256.0
    packet = np.arange(n) // 12
    delay = np.clip(rng.gamma(2.0, 3e-3, packet.max() + 1), 0, 0.016)  # arrival latency
    t = true_t + delay[packet]
    rows = np.sort(rng.choice(np.arange(100, n - 100), size=6, replace=False))
    codes = rng.integers(1, 5, size=6)
    marker = np.zeros(n)
    marker[rows] = codes
    aux = rng.normal(0, 5, n)
    with open(path, "w") as f:
        f.write("timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker0\n")
        for k in range(n):
            f.write(f"{t[k]:.6f},{eeg[k, 0]:.3f},{eeg[k, 1]:.3f},{eeg[k, 2]:.3f},"
                    f"{eeg[k, 3]:.3f},{aux[k]:.3f},{int(marker[k])}\n")  # fmt: skip
    return true_t, np.round(eeg, 3), rows, codes, t
