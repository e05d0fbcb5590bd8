"""Replay throughput: the whole engine over a generated recording, as x real time.

Run: ``.venv/bin/python -m attune.benchmarks.bench_replay [--hours 1] [--eeg-channels 32]``

Generates a recording (simulated listener: EEG at 256 Hz on N channels plus ECG at
250 Hz), then replays it in-process on the virtual clock (no audio) exactly as
``attune replay`` does, and reports session seconds per wall second, with the wall and
CPU time and the per-tick compute time from the record.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from attune.benchmarks.recordings import make_recording
from attune.sessions.config import SessionConfig
from attune.sessions.replay_run import replay_recording
from attune.sessions.store import load_session


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--eeg-channels", type=int, default=32)
    ap.add_argument("--eeg-fs", type=float, default=256.0)
    ap.add_argument("--ecg-fs", type=float, default=250.0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rec = make_recording(
        hours=args.hours, eeg_channels=args.eeg_channels, eeg_fs=args.eeg_fs, ecg_fs=args.ecg_fs
    )
    gen_s = time.perf_counter() - t0
    cfg = SessionConfig(
        output_dir=Path(tempfile.mkdtemp(prefix="attune-bench-")), render_audio=False
    )
    cpu0 = time.process_time()
    s = replay_recording(rec, cfg)
    cpu = time.process_time() - cpu0
    compute = load_session(s.folder).ticks["compute_ms"]
    print(
        f"recording: {args.hours:g} h, EEG {args.eeg_channels} ch @ {args.eeg_fs:g} Hz + "
        f"ECG @ {args.ecg_fs:g} Hz (generated in {gen_s:.1f} s)"
    )
    print(
        f"replay: {s.duration_s:.0f} s of signal in {s.wall_s:.1f} s wall "
        f"({s.speed_x:.0f}x real time; {s.duration_s / cpu:.0f}x per CPU second), "
        f"{s.n_ticks} ticks, {s.n_beats} beats"
    )
    print(
        f"engine tick compute: median {np.median(compute):.3f} ms, "
        f"p99 {np.percentile(compute, 99):.3f} ms"
    )


if __name__ == "__main__":
    main()
