"""Benchmark: streaming detection + HRV per 0.25 s tick vs recomputing neurokit2.

One ECG channel at 1000 Hz (neurokit2's ``ecg_1000hz.csv``, tiled to 180 s). Per tick:
the streaming path feeds 250 new samples to :class:`engine.hrv.HRVStage`; the reference
recomputes ``nk.ecg_peaks`` (on ``ecg_clean``) + ``nk.hrv_time`` on the last 60 s.

Run: ``.venv/bin/python -m benchmarks.bench_hrv``
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def main() -> None:
    """Print a table of per-tick times (median and p99, ms) and the speed-up."""
    import neurokit2 as nk
    import pandas as pd

    from engine.hrv import HRVStage
    from sensors.types import Chunk, StreamInfo

    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "neurokit2" / "ecg_1000hz.csv"
    x = pd.read_csv(path).iloc[:, 0].to_numpy(float)
    fs, tick = 1000.0, 250
    x = np.tile(x, 4)[: int(180 * fs)]
    ts = np.arange(x.size) / fs
    info = StreamInfo("ecg", "ecg", fs, ("ECG",), "mV")
    stage = HRVStage(fs=fs)
    stream, ref = [], []
    for i in range(0, x.size, tick):
        c = Chunk(info, x[None, i : i + tick], ts[i : i + tick])
        t0 = time.perf_counter()
        stage.update(c)
        stream.append(time.perf_counter() - t0)
        if i >= 60 * fs and (i // tick) % 8 == 0:  # reference every 2 s (it is slow)
            w = x[i + tick - int(60 * fs) : i + tick]
            t0 = time.perf_counter()
            _, info_p = nk.ecg_peaks(nk.ecg_clean(w, sampling_rate=1000), sampling_rate=1000)
            nk.hrv_time(info_p["ECG_R_Peaks"], sampling_rate=1000)
            ref.append(time.perf_counter() - t0)
    s = np.array(stream[int(60 * fs / tick) :]) * 1e3  # steady state (full windows)
    r = np.array(ref) * 1e3
    print(f"{'path':44s} {'median ms':>10s} {'p99 ms':>10s} {'ticks':>6s}")
    print(
        f"{'streaming HRVStage (250 samples/tick)':44s} {np.median(s):10.3f} "
        f"{np.percentile(s, 99):10.3f} {s.size:6d}"
    )
    print(
        f"{'neurokit2 ecg_peaks+hrv_time on 60 s window':44s} {np.median(r):10.3f} "
        f"{np.percentile(r, 99):10.3f} {r.size:6d}"
    )
    print(
        f"speed-up: median {np.median(r) / np.median(s):.0f}x, "
        f"p99 {np.percentile(r, 99) / np.percentile(s, 99):.0f}x (goal >= 30x)"
    )


if __name__ == "__main__":
    main()
