"""Benchmark: streaming detection + HRV per 0.25 s tick vs recomputing neurokit2.

One ECG channel at 1000 Hz (neurokit2's ``ecg_1000hz.csv``, tiled to 240 s). Per tick
the streaming path feeds 250 new samples to :class:`attune.engine.hrv.HRVStage` (R-peak
detection, artifact screening, time- and frequency-domain HRV). In the same run and
interleaved with it, the reference recomputes ``nk.ecg_peaks`` (on ``nk.ecg_clean``) +
``nk.hrv_time`` on the full last 60 s every ``--ref-every`` ticks (default 4, i.e. once
per second of signal; it is the same computation at every tick, so sampling it every
4th tick only saves benchmark time). Steady state only: ticks after the first 60 s.

Both wall-clock (``time.perf_counter``) and CPU time of this process
(``time.process_time``) are reported: on a shared machine wall-clock includes time
spent waiting for a core, CPU time does not.

Run: ``.venv/bin/python -m attune.benchmarks.bench_hrv [--ref-every N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def _row(name: str, wall: np.ndarray, cpu: np.ndarray) -> str:
    return (
        f"{name:44s} {np.median(wall):9.3f} {np.percentile(wall, 99):9.3f} "
        f"{np.median(cpu):9.3f} {np.percentile(cpu, 99):9.3f} {wall.size:6d}"
    )


def run(ref_every: int = 4) -> dict[str, np.ndarray]:
    """Run one pass; return per-tick times in ms (wall and CPU, stream and reference).

    Parameters
    ----------
    ref_every : int, default 4
        Measure the neurokit2 reference every this many 0.25 s ticks.

    Returns
    -------
    dict
        ``stream_wall``, ``stream_cpu``, ``ref_wall``, ``ref_cpu``: arrays in ms.
    """
    import neurokit2 as nk
    import pandas as pd

    from attune.engine.hrv import HRVStage
    from attune.sensors.types import Chunk, StreamInfo

    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "neurokit2" / "ecg_1000hz.csv"
    x = pd.read_csv(path).iloc[:, 0].to_numpy(float)
    fs, tick = 1000.0, 250
    x = np.tile(x, 5)[: int(240 * fs)]
    ts = np.arange(x.size) / fs
    info = StreamInfo("ecg", "ecg", fs, ("ECG",), "mV")
    stage = HRVStage(fs=fs)
    warm = int(60 * fs)
    sw, sc, rw, rc = [], [], [], []
    for k, i in enumerate(range(0, x.size, tick)):
        c = Chunk(info, x[None, i : i + tick], ts[i : i + tick])
        w0, c0 = time.perf_counter(), time.process_time()
        stage.update(c)
        w1, c1 = time.perf_counter(), time.process_time()
        if i >= warm:
            sw.append(w1 - w0)
            sc.append(c1 - c0)
            if k % ref_every == 0:
                win = x[i + tick - warm : i + tick]
                w0, c0 = time.perf_counter(), time.process_time()
                cleaned = nk.ecg_clean(win, sampling_rate=1000)
                _, peaks = nk.ecg_peaks(cleaned, sampling_rate=1000)
                nk.hrv_time(peaks["ECG_R_Peaks"], sampling_rate=1000)
                w1, c1 = time.perf_counter(), time.process_time()
                rw.append(w1 - w0)
                rc.append(c1 - c0)
    ms = {"stream_wall": sw, "stream_cpu": sc, "ref_wall": rw, "ref_cpu": rc}
    return {k: np.asarray(v) * 1e3 for k, v in ms.items()}


def main() -> None:
    """Print per-tick times (median and p99, ms; wall and CPU) and the speed-ups."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref-every", type=int, default=4, help="reference every N ticks")
    ap.add_argument("--repeat", type=int, default=1, help="independent passes")
    args = ap.parse_args()
    for r in range(args.repeat):
        m = run(ref_every=args.ref_every)
        print(f"pass {r + 1}: 0.25 s ticks, 1000 Hz ECG, steady state (60 s windows full)")
        print(
            f"{'path':44s} {'wall med':>9s} {'wall p99':>9s} {'cpu med':>9s} {'cpu p99':>9s} "
            f"{'ticks':>6s}"
        )
        print(_row("streaming HRVStage (250 samples/tick)", m["stream_wall"], m["stream_cpu"]))
        print(
            _row(
                f"neurokit2 ecg_peaks+hrv_time, 60 s (1/{args.ref_every})",
                m["ref_wall"],
                m["ref_cpu"],
            )
        )
        for kind in ("wall", "cpu"):
            s, ref = m[f"stream_{kind}"], m[f"ref_{kind}"]
            print(
                f"speed-up ({kind}): median {np.median(ref) / np.median(s):.0f}x, "
                f"p99 {np.percentile(ref, 99) / np.percentile(s, 99):.0f}x (goal >= 30x)"
            )


if __name__ == "__main__":
    main()
