"""Offline render speed of the full pyo graph, and a crash soak.

Run: ``.venv/bin/python -m attune.benchmarks.bench_synth [--minutes M] [--jobs J]``
     ``.venv/bin/python -m attune.benchmarks.bench_synth --soak [N] [--jobs J] [--seconds S]
     [--skip K]``

Speed: renders ``J`` sessions of ``M`` minutes (default 1 x 10 min) through the full
graph with parameters changing every 0.25 s tick, one child process each, and reports
audio seconds per wall second (x real time) per render and in total, and per second
of the synth children's CPU time (robust to other load on a shared machine).

Soak: ``N`` (default 200) offline renders of ``S`` s (default 60), each with random
parameters, palette and seed, ``J`` at a time (default 2, one per core); reports how
many children crashed (non-zero exit or signal) and the exit codes. ``--skip K`` starts
at the K-th seed of the fixed list, so a soak can run in chunks.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from attune.synthesis.composer import Composer
from attune.synthesis.instruments import PALETTES
from attune.synthesis.params import MusicParams
from attune.synthesis.synth import OfflineRenderer, SynthError

TICK_S = 0.25


def sweep(t: float, a: np.ndarray, b: np.ndarray) -> MusicParams:
    """Parameters at time ``t`` (s): every one swept over its full range (soak and tests)."""
    u = (np.sin(2 * np.pi * t / 60.0 * a + b) + 1.0) / 2.0
    return MusicParams(
        tempo_bpm=40 + 120 * u[0],
        mode=int(round(6 * u[1])),
        tension=u[2],
        brightness=u[3],
        loudness_db=-60 + 54 * u[4],
        density=u[5],
        register_st=-12 + 24 * u[6],
        fade=min(1.0, 2 * u[7]),
    )


def render_one(path: Path, seed: int, duration_s: float) -> tuple[float, float, str | None]:
    """Render with random sweeping parameters; return (audio s, wall s, error or None)."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-1, 1, size=8), rng.uniform(-1, 1, size=8)
    breathing = float(rng.choice([0.0, 0.1]))
    palette = str(rng.choice(sorted(PALETTES)))
    comp = Composer(seed=seed, breathing_hz=breathing)
    r = OfflineRenderer(path, breathing_hz=breathing, pacer=bool(breathing), palette=palette)
    t0 = time.perf_counter()
    r.start()
    try:
        for k in range(1, int(round(duration_s / TICK_S)) + 1):
            t = k * TICK_S
            p = sweep(t, a, b)
            r.send(t, p, comp.advance(p, t))
        st = r.close()
    except SynthError as e:
        return 0.0, time.perf_counter() - t0, str(e).splitlines()[0]
    finally:
        path.unlink(missing_ok=True)
    return st.duration_s, time.perf_counter() - t0, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="length of each speed render")
    ap.add_argument("--jobs", type=int, default=None, help="renders at a time")
    ap.add_argument("--soak", type=int, nargs="?", const=200, default=None, help="soak renders")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each soak render")
    ap.add_argument("--skip", type=int, default=0, help="soak: start at this seed index")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="attune-bench-synth-"))
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    if args.soak is None:
        jobs = args.jobs or 1
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(jobs) as ex:
            res = list(
                ex.map(lambda i: render_one(out / f"s{i}.wav", i, args.minutes * 60.0), range(jobs))
            )
        wall = time.perf_counter() - t0
        for i, (dur, w, err) in enumerate(res):
            msg = f"FAILED: {err}" if err else f"{dur / w:.0f}x real time"
            print(f"render {i}: {dur:.0f} s audio in {w:.1f} s wall: {msg}")
        total = sum(d for d, _, _ in res)
        print(f"all: {total:.0f} s audio in {wall:.1f} s wall = {total / wall:.0f}x real time")
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        print(
            f"synth children CPU time: {cpu:.1f} s = {total / cpu:.0f}x real time per core "
            f"(start-up included; load average now {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores)"
        )
        return
    jobs = args.jobs or 2
    rng = np.random.default_rng(12345)
    seeds = [int(s) for s in rng.integers(0, 2**31, size=args.skip + args.soak)][args.skip :]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(jobs) as ex:
        res = list(ex.map(lambda s: render_one(out / f"k{s}.wav", s, args.seconds), seeds))
    wall = time.perf_counter() - t0
    crashes = [(s, e) for s, (_, _, e) in zip(seeds, res, strict=True) if e]
    print(
        f"soak: {len(seeds)} renders of {args.seconds:g} s in {wall:.0f} s wall ({jobs} at a time)"
    )
    print(f"crashes: {len(crashes)}")
    for s, e in crashes:
        print(f"  seed {s}: {e}")


if __name__ == "__main__":
    main()
