"""Peak memory of replaying long EDF recordings (streamed in blocks, never loaded whole).

Run: ``python -m attune.benchmarks.bench_replay_memory [--case night|dense|all] [--whole]``

Writes each recording as an EDF file in a temporary folder, block by block (the writer
never holds the recording), then replays it in a child process exactly as
``attune replay FILE --no-audio`` does and reports the child's peak resident memory
(``ru_maxrss``), its wall time and ticks:

* ``night``: 8 hours, 32 EEG channels + 1 ECG channel at 256 Hz (target < 600 MB);
* ``dense``: 1 hour, 64 EEG channels + 1 ECG channel at 1000 Hz (target < 500 MB);
* ``csv``: 2 hours of a muse-lsl-style CSV, 4 EEG channels + ECG at 256 Hz (< 400 MB).

``--whole`` reads every stream into memory before the replay, as readers did before
they streamed, for comparison. The signals are synthetic (EEG: 1/f noise with a
10 Hz alpha rhythm; ECG: a sum-of-Gaussians PQRST at 55-80 bpm), with the EDF
layout of clinical recorders (16-bit samples, 1 s data records).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

#: Cases: (hours, EEG channels, rate in Hz, peak RSS target in MB); ``csv`` is a
#: muse-lsl-style CSV (``timestamps`` column, 4 EEG channels and an ECG column).
CASES = {
    "night": (8.0, 32, 256, 600.0),
    "dense": (1.0, 64, 1000, 500.0),
    "csv": (2.0, 4, 256, 400.0),
}
#: Physical range of the written samples, microvolts (EEG and ECG alike).
RANGE_UV = 5000.0


def write_edf(
    path: Path,
    labels: Sequence[str],
    fs: int,
    n_records: int,
    block: Callable[[int, int], np.ndarray],
    *,
    records_per_write: int = 10,
) -> Path:
    """Write a 16-bit EDF file with 1 s data records, streaming the samples.

    Parameters
    ----------
    path : Path
        File to write.
    labels : sequence of str
        Channel labels (``"EEG Fp1"``, ``"ECG"`` ...).
    fs : int
        Samples per second of every channel.
    n_records : int
        Number of 1 s records.
    block : callable
        ``block(r0, r1)`` returns the samples of records ``r0`` to ``r1`` in volts,
        shaped ``(len(labels), (r1 - r0) * fs)``.
    records_per_write : int
        Records generated and written at a time (memory: that many seconds).

    Returns
    -------
    Path
    """
    ns = len(labels)

    def field(values: Sequence[object], width: int) -> bytes:
        return b"".join(f"{v!s:<{width}.{width}}".encode("ascii") for v in values)

    head = (
        field(["0"], 8)
        + field(["X X X X"], 80)
        + field(["Startdate 01-JAN-2025 X X X"], 80)
        + field(["01.01.25", "00.00.00", 256 * (ns + 1), ""], 8)[:24]
        + field([""], 44)
        + field([n_records, 1], 8)
        + field([ns], 4)
        + field(labels, 16)
        + field(["AgAgCl electrode"] * ns, 80)
        + field(["uV"] * ns, 8)
        + field([f"{-RANGE_UV:g}"] * ns, 8)
        + field([f"{RANGE_UV:g}"] * ns, 8)
        + field([-32768] * ns, 8)
        + field([32767] * ns, 8)
        + field([""] * ns, 80)
        + field([fs] * ns, 8)
        + field([""] * ns, 32)
    )
    assert len(head) == 256 * (ns + 1)
    gain = 65535.0 / (2 * RANGE_UV)
    with open(path, "wb") as f:
        f.write(head)
        for r0 in range(0, n_records, records_per_write):
            r1 = min(n_records, r0 + records_per_write)
            x = np.asarray(block(r0, r1)) * 1e6  # uV
            d = np.clip(np.round((x + RANGE_UV) * gain - 32768.0), -32768, 32767)
            d = d.astype("<i2").reshape(ns, r1 - r0, fs).transpose(1, 0, 2)
            f.write(np.ascontiguousarray(d).tobytes())
    return path


class Signals:
    """Deterministic synthetic EEG and ECG, generated block by block.

    Parameters
    ----------
    n_eeg : int
        EEG channels.
    fs : int
        Rate, Hz.
    seconds : int
        Length, seconds (beat times are drawn for all of it, ~1.2 per second).
    seed : int
        Random seed.
    """

    WAVES = (  # PQRST: (offset s, width s, amplitude mV)
        (-0.2, 0.025, 0.15),
        (-0.05, 0.01, -0.1),
        (0.0, 0.012, 1.2),
        (0.05, 0.01, -0.25),
        (0.3, 0.04, 0.3),
    )

    def __init__(self, n_eeg: int, fs: int, seconds: int, seed: int = 0) -> None:
        self.n_eeg, self.fs, self.seed = n_eeg, fs, seed
        rng = np.random.default_rng(seed)
        rr = 60.0 / (67.5 + 12.5 * np.sin(np.arange(int(seconds * 1.5) + 10) / 300.0))
        rr *= 1 + rng.normal(0, 0.03, rr.size)
        self.beats = np.cumsum(rr)
        self.gain = rng.uniform(0.5, 1.5, n_eeg)

    def __call__(self, r0: int, r1: int) -> np.ndarray:
        """Samples of seconds ``r0`` to ``r1``, volts, shaped ``(n_eeg + 1, n)``."""
        fs = self.fs
        t = np.arange(r0 * fs, r1 * fs) / fs
        rng = np.random.default_rng([self.seed, r0])
        white = rng.normal(size=(self.n_eeg, t.size))
        spec = np.fft.rfft(white, axis=1)
        f = np.fft.rfftfreq(t.size, 1 / fs)
        spec /= np.sqrt(np.maximum(f, 0.5))  # 1/f
        eeg = np.fft.irfft(spec, n=t.size, axis=1)
        eeg *= 10.0 / eeg.std()
        eeg += 15.0 * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 6.3, (self.n_eeg, 1)))
        eeg *= self.gain[:, None]
        ecg = np.zeros(t.size)
        near = self.beats[(self.beats > t[0] - 1.0) & (self.beats < t[-1] + 1.0)]
        for off, width, amp in self.WAVES:
            dt = t[None, :] - near[:, None] - off
            ecg += amp * np.exp(-0.5 * (dt / width) ** 2).sum(axis=0)
        return np.vstack([eeg * 1e-6, ecg[None, :] * 1e-3])


def write_csv(
    path: Path,
    labels: Sequence[str],
    fs: int,
    seconds: int,
    block: Callable[[int, int], np.ndarray],
) -> Path:
    """Write a CSV with a ``timestamps`` column (epoch seconds), streaming 10 s at a time.

    ``block(r0, r1)`` gives seconds ``r0`` to ``r1`` in volts; EEG columns are written
    in uV, the last (ECG) column in mV.
    """
    with open(path, "w") as f:
        f.write("timestamps," + ",".join(labels) + "\n")
        for r0 in range(0, seconds, 10):
            r1 = min(seconds, r0 + 10)
            x = np.asarray(block(r0, r1)).T.copy()
            x[:, :-1] *= 1e6
            x[:, -1] *= 1e3
            t = 1.7e9 + np.arange(r0 * fs, r1 * fs) / fs
            np.savetxt(
                f, np.column_stack([t, x]), fmt=["%.6f"] + ["%.3f"] * x.shape[1], delimiter=","
            )
    return path


def make_edf(folder: Path, case: str, hours: float | None = None) -> Path:
    """Write the recording of ``case`` (:data:`CASES`; ``hours`` overrides its length)."""
    from attune.benchmarks.recordings import EEG_NAMES

    default_h, n_eeg, fs, _ = CASES[case]
    hours = hours or default_h
    seconds = int(hours * 3600)
    names = list(EEG_NAMES[:n_eeg]) + [f"E{i + 1}" for i in range(len(EEG_NAMES), n_eeg)]
    if case == "csv":
        labels = ["TP9", "AF7", "AF8", "TP10"][:n_eeg] + ["ECG_mV"]
        return write_csv(folder / "csv.csv", labels, fs, seconds, Signals(n_eeg, fs, seconds))
    labels = [f"EEG {c}" for c in names] + ["ECG"]
    path = folder / f"{case}.edf"
    return write_edf(path, labels, fs, seconds, Signals(n_eeg, fs, seconds))


def peak_rss_kb() -> float:
    """This process's peak resident memory, kB.

    ``VmHWM`` of ``/proc/self/status`` (Linux): the high-water mark of this process's
    own memory map, which starts afresh at ``exec``; ``ru_maxrss`` would carry the
    parent's peak over into a child started from it.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _child(path: str, whole: bool) -> None:
    """Replay ``path`` as ``attune replay`` does; print JSON with the peak RSS."""
    from attune.sensors.readers import read_recording
    from attune.sessions.config import SessionConfig
    from attune.sessions.replay_run import replay_recording

    out = tempfile.mkdtemp(prefix="attune-bench-mem-")
    t0 = time.perf_counter()
    rec = read_recording(path)
    if whole:
        for st in rec.streams:
            _ = st.data  # read whole into memory (the path before streaming)
    cfg = SessionConfig(output_dir=Path(out), render_audio=False, name="bench-memory")
    s = replay_recording(rec, cfg)
    kb = peak_rss_kb()
    shutil.rmtree(out, ignore_errors=True)
    print(
        json.dumps(
            dict(peak_mb=kb / 1024, wall_s=time.perf_counter() - t0, ticks=s.n_ticks,
                 beats=s.n_beats, duration_s=s.duration_s, mean_hr=s.mean_hr_bpm)
        )
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--case", choices=[*CASES, "all"], default="all")
    ap.add_argument("--whole", action="store_true", help="load streams whole (old path)")
    ap.add_argument("--hours", type=float, help="override the cases' length (a quick check)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child, args.whole)
        return 0
    cases = list(CASES) if args.case == "all" else [args.case]
    ok = True
    with tempfile.TemporaryDirectory(prefix="attune-edf-") as tmp:
        for case in cases:
            hours, n_eeg, fs, target = CASES[case]
            hours = args.hours or hours
            t0 = time.perf_counter()
            path = make_edf(Path(tmp), case, hours)
            gen = time.perf_counter() - t0
            size = path.stat().st_size / 2**20
            cmd = [sys.executable, "-m", "attune.benchmarks.bench_replay_memory", "--child"]
            cmd += [str(path)] + (["--whole"] if args.whole else [])
            res = subprocess.run(cmd, capture_output=True, text=True)
            path.unlink()
            if res.returncode:
                print(f"{case}: replay failed: {res.stderr.strip().splitlines()[-1:]}")
                ok = False
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            met = r["peak_mb"] < target
            ok &= met
            kind = "CSV" if case == "csv" else "EDF"
            print(
                f"{case}: {hours:g} h, {n_eeg} EEG ch + ECG at {fs} Hz, {kind} {size:.0f} MB "
                f"(written in {gen:.0f} s){' [whole]' if args.whole else ''}: peak RSS "
                f"{r['peak_mb']:.0f} MB (target < {target:.0f} MB: {'met' if met else 'NOT met'})"
                f"; replay {r['wall_s']:.0f} s wall, {r['ticks']} ticks, {r['beats']} beats, "
                f"mean HR {r['mean_hr'] or float('nan'):.1f} bpm"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
