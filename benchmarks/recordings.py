"""Synthetic long recordings for the replay throughput benchmark.

``make_recording(hours=1.0)`` renders the simulated listener (no music: it rests) as a
:class:`~attune.sensors.readers.Recording` with a 32-channel EEG stream at 256 Hz and an ECG
stream at 250 Hz, in Attune's units, timestamps ``k / fs`` from 0.

Run: ``.venv/bin/python -m attune.benchmarks.recordings [--hours H]`` prints how long it takes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from attune.sensors.readers import RecordedStream, Recording
from attune.sensors.simulated_listener import SimulatedListener

#: 10-10 electrode names used for the synthetic EEG (the first 32 make a standard cap).
EEG_NAMES = (
    "Fp1", "Fp2", "AF7", "AF3", "AF4", "AF8", "F7", "F3", "Fz", "F4", "F8", "FC5", "FC1",
    "FC2", "FC6", "T7", "C3", "Cz", "C4", "T8", "TP9", "CP5", "CP1", "CP2", "CP6", "TP10",
    "P7", "P3", "Pz", "P4", "P8", "O1", "O2", "Oz", "PO7", "PO8",
)  # fmt: skip


def eeg_channel_names(n: int) -> tuple[str, ...]:
    """Return ``n`` EEG channel labels (10-10 names, then ``E33``, ``E34``, ...)."""
    names = list(EEG_NAMES[:n])
    names += [f"E{i + 1}" for i in range(len(names), n)]
    return tuple(names)


def _render(src, n: int, block_s: float, fs: float, n_ch: int) -> tuple[np.ndarray, np.ndarray]:
    data = np.empty((n_ch, n))
    times = np.empty(n)
    k = 0
    t = 0.0
    t_last = (n - 1) / fs
    while k < n:
        t = min(t + block_s, t_last)
        c = src.pull(t)
        m = min(c.n_samples, n - k)
        data[:, k : k + m] = c.data[:, :m]
        times[k : k + m] = c.timestamps[:m]
        k += m
        if t >= t_last and m == 0:
            break
    return data[:, :k], times[:k]


def make_recording(
    hours: float = 1.0,
    *,
    eeg_channels: int = 32,
    eeg_fs: float = 256.0,
    ecg_fs: float = 250.0,
    seed: int = 0,
) -> Recording:
    """Render a long two-stream recording from the simulated listener.

    Parameters
    ----------
    hours : float
        Length, hours.
    eeg_channels : int
        Number of EEG channels (labels from :func:`eeg_channel_names`).
    eeg_fs, ecg_fs : float
        Sampling rates, Hz.
    seed : int
        Seed of the simulated listener (same seed, same samples).

    Returns
    -------
    Recording
        Streams ``sim-eeg`` (``eeg_channels`` x n, uV) and ``sim-ecg`` (1 x n, mV);
        ``path`` is a made-up name, ``synthetic-seed<seed>-<hours>h``.
    """
    sim = SimulatedListener(
        seed=seed, ecg_fs=ecg_fs, eeg_fs=eeg_fs, eeg_channels=eeg_channel_names(eeg_channels)
    )
    dur = hours * 3600.0
    streams = []
    for src, fs in ((sim.eeg, eeg_fs), (sim.ecg, ecg_fs)):
        n = int(round(dur * fs))
        data, times = _render(src, n, 60.0, fs, src.info.n_channels)
        streams.append(RecordedStream(info=src.info, data=data, timestamps=times))
    return Recording(path=Path(f"synthetic-seed{seed}-{hours:g}h"), streams=tuple(streams))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    args = ap.parse_args()
    t = time.perf_counter()
    rec = make_recording(args.hours)
    wall = time.perf_counter() - t
    for s in rec.streams:
        print(f"{s.info.name}: {s.info.n_channels} ch x {s.n_samples} samples at {s.info.fs:g} Hz")
    print(f"rendered {args.hours:g} h in {wall:.1f} s")


if __name__ == "__main__":
    main()
