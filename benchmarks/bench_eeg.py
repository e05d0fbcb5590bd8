"""Per-tick cost of the incremental-Welch EEG stage against full-window Welch.

Run: ``.venv/bin/python -m attune.benchmarks.bench_eeg [--seconds S]``

For 8 ch at 256 Hz, 32 ch at 512 Hz and 64 ch at 1000 Hz (4 s window, 2 s segments,
0.25 s ticks), feeds seeded random EEG to :class:`attune.engine.eeg.EEGStage` one tick at a time
and times each ``update`` (median, p99, in ms), for segment hops of 1 s (50 % overlap) and
0.25 s (one segment per tick); in the same run, times ``scipy.signal.welch`` and
``mne.time_frequency.psd_array_welch`` on the full 4 s window with the same segments.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.signal

from attune.engine.eeg import EEGStage
from attune.sensors.types import Chunk, StreamInfo

CONFIGS = [(8, 256.0), (32, 512.0), (64, 1000.0)]
NAMES = [f"EEG {i + 1:03d}" for i in range(64)]


def _stage_ticks(n_ch, fs, hop_s, seconds):
    chans = tuple(NAMES[:n_ch])
    info = StreamInfo("bench", "eeg", fs, chans, "uV")
    stage = EEGStage(fs=fs, channels=chans, segment_hop_s=hop_s)
    step = int(round(0.25 * fs))
    x = np.random.default_rng(0).normal(0, 10, (n_ch, int(seconds * fs)))
    ts = np.arange(x.shape[1]) / fs
    out = []
    for i in range(0, x.shape[1] - step + 1, step):
        c = Chunk(info, x[:, i : i + step], ts[i : i + step])
        t0 = time.perf_counter()
        stage.update(c)
        out.append(time.perf_counter() - t0)
    return np.array(out[int(8 / 0.25) :]) * 1e3  # skip the first 8 s (warm-up)


def _full(fn, n_ch, fs, reps):
    x = np.random.default_rng(1).normal(0, 10, (n_ch, int(4 * fs)))
    fn(x)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - t0)
    return np.array(out) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="stream length per config")
    ap.add_argument("--reps", type=int, default=100, help="repetitions of the full Welch")
    args = ap.parse_args()
    from mne.time_frequency import psd_array_welch

    rows = []
    for n_ch, fs in CONFIGS:
        nper = int(2 * fs)
        for hop_s in (1.0, 0.25):
            hop = int(round(hop_s * fs))
            tick = _stage_ticks(n_ch, fs, hop_s, args.seconds)

            def sp(x, nper=nper, hop=hop, fs=fs):
                return scipy.signal.welch(x, fs=fs, nperseg=nper, noverlap=nper - hop)

            def mn(x, nper=nper, hop=hop, fs=fs):
                return psd_array_welch(
                    x, sfreq=fs, n_fft=nper, n_per_seg=nper, n_overlap=nper - hop, verbose=False
                )

            ref_sp = _full(sp, n_ch, fs, args.reps)
            ref_mn = _full(mn, n_ch, fs, args.reps)
            rows.append((n_ch, fs, hop_s, tick, ref_sp, ref_mn))
    print(
        f"{'config':>16} {'seg hop':>7} | {'stage med':>9} {'p99':>7} | {'scipy med':>9} "
        f"{'p99':>7} | {'mne med':>8} {'p99':>7} | {'x scipy':>7} {'x mne':>6}"
    )
    for n_ch, fs, hop_s, tick, ref_sp, ref_mn in rows:
        med = np.median(tick)
        print(
            f"{n_ch:>3} ch {fs:>6.0f} Hz {hop_s:>6.2f}s | {med:>9.3f} "
            f"{np.percentile(tick, 99):>7.3f} | {np.median(ref_sp):>9.3f} "
            f"{np.percentile(ref_sp, 99):>7.3f} | {np.median(ref_mn):>8.3f} "
            f"{np.percentile(ref_mn, 99):>7.3f} | {np.median(ref_sp) / med:>7.1f} "
            f"{np.median(ref_mn) / med:>6.1f}"
        )
    print("times in ms per 0.25 s tick; full-window Welch = what a non-incremental stage pays")


if __name__ == "__main__":
    main()
