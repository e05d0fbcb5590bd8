"""Per-tick engine cost and render speed of the demo session.

Run: ``.venv/bin/python -m attune.benchmarks.bench_session [--seeds N] [--audio]``

Reports, for the 10-minute demo on the simulated listener (ECG 250 Hz + 4-ch EEG
256 Hz, 0.25 s ticks): the engine's per-tick compute time (median, p99, max, in ms)
from the session record's ``compute_ms`` column, the whole run's speed as x real time,
and with ``--audio`` the offline render speed of the pyo synth.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import numpy as np

from attune.sessions.config import SessionConfig
from attune.sessions.simulated_run import run_simulation
from attune.sessions.store import load_session


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="sessions to run (seeds 0..N-1)")
    ap.add_argument("--audio", action="store_true", help="also render audio")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="attune-bench-"))
    compute, speed, render = [], [], []
    for seed in range(args.seeds):
        cfg = SessionConfig(output_dir=out, seed=seed, render_audio=args.audio)
        s = run_simulation(cfg)
        compute += load_session(s.folder).ticks["compute_ms"].tolist()
        speed.append(s.duration_s / s.engine_wall_s)
        if s.render_speed_x:
            render.append(s.render_speed_x)
    c = np.asarray(compute)
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(f"sessions: {args.seeds} x 600 s, {c.size} ticks")
    print(
        f"per-tick compute: median {np.median(c):.3f} ms, p99 {np.percentile(c, 99):.3f} ms, "
        f"max {c.max():.3f} ms (tick period 250 ms)"
    )
    print(f"whole session: {np.median(speed):.0f}x real time (median)")
    if render:
        print(f"offline audio render: {np.median(render):.0f}x real time (median)")


if __name__ == "__main__":
    main()
