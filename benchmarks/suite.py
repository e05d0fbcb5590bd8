"""The benchmark suite behind ``attune bench``: every figure beside its naive baseline.

Run: ``attune bench [--quick] [--out DIR]`` (or ``python -m attune.benchmarks.suite``).

Stages, all in one process and one run (so the figures share the machine and its load):

``tick``
    The whole engine (:func:`attune.sessions.build.build_engine`: HRV and EEG stages, affect
    estimator, controller, composer, silent synth) stepped on the virtual clock over a
    recording from :func:`attune.benchmarks.recordings.make_recording`, for three
    configurations (8 ch 256 Hz EEG + 250 Hz ECG, 32 ch 512 Hz + 500 Hz, 64 ch 1000 Hz
    + 1000 Hz). Per tick: ``TickResult.compute_ms`` (wall) and the process CPU time of
    ``Engine.step``. Interleaved in the same loop, every ``ref_every``-th tick, the naive
    way: ``nk.ecg_clean`` + ``nk.ecg_peaks`` + ``nk.hrv_time`` on the full 60 s ECG
    window and ``scipy.signal.welch`` (2 s segments, 50 % overlap) on the full 4 s EEG
    window, all channels: what a tool without incremental DSP recomputes every tick
    (the naive figure covers the DSP only, not the rest of the loop, which favours it).
    Only steady-state ticks count (after the first 60 s, once the windows are full).
``loopback``
    A publisher in a separate process (:mod:`attune.benchmarks.lsl_publisher`) streams EEG
    and ECG over LSL on loopback; the engine reads them with
    :class:`attune.sensors.lsl_source.LslSource` on :class:`attune.engine.clocks.LiveClock`
    (:func:`attune.sessions.runner.run_session`, as ``attune run`` does).
    ``TickResult.latency_ms`` = synth handoff time minus the newest sample's timestamp
    (data age at the tick plus compute).
``replay``
    :func:`attune.sessions.replay_run.replay_recording` (what ``attune replay`` runs: session
    folder, CSV record and MIDI included) over generated recordings of each
    configuration, as session seconds per wall second and per CPU second.
``render``
    Offline pyo render (:class:`attune.synthesis.synth.OfflineRenderer`, child process) with
    parameters changing every tick, x real time (wall, and per child CPU second).
``batch``
    (full run only) :mod:`attune.benchmarks.bench_batch`: ``attune batch`` over 8
    generated one-hour FIF recordings on a local Dask cluster of 1 worker process, then
    of 2, side by side; hours of signal per wall second and the speed-up.
``startup``
    ``attune --help`` in a fresh interpreter, best of N, wall.
``memory``
    Peak resident set size (``ru_maxrss``) of this process after each stage
    (cumulative) and of the largest child process.

On a shared machine wall-clock figures include time spent waiting for a core; CPU-time
figures do not. Both are reported.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

#: (EEG channels, EEG Hz, ECG Hz) of the three benchmark configurations.
CONFIGS: tuple[tuple[int, float, float], ...] = (
    (8, 256.0, 250.0),
    (32, 512.0, 500.0),
    (64, 1000.0, 1000.0),
)
TICK_S = 0.25


@dataclass(frozen=True)
class SuiteParams:
    """Sizes of one suite run.

    Attributes
    ----------
    configs : tuple of (int, float, float)
        EEG channels, EEG rate (Hz), ECG rate (Hz) per configuration.
    tick_seconds : float
        Signal length of the per-tick stage, seconds (the first 60 s are warm-up).
    ref_every : int
        Run the naive baseline every this many ticks (it costs the same at every tick).
    replay_hours : float
        Length of each replayed recording, hours.
    loopback_seconds : float
        Length of the live loopback session, seconds.
    loopback_config : int
        Index into ``configs`` of the stream layout published over LSL.
    render_seconds : float
        Audio rendered offline, seconds.
    startup_runs : int
        ``attune --help`` runs (best taken).
    batch_recordings : int
        Recordings of the batch stage (0, the default, leaves the stage out; the full
        run has 8).
    batch_hours : float
        Length of each batch recording, hours.
    warmup_s : float
        Ticks before this session time are not counted (HRV window filling).
    """

    configs: tuple[tuple[int, float, float], ...] = CONFIGS
    tick_seconds: float = 300.0
    ref_every: int = 4
    replay_hours: float = 1.0
    loopback_seconds: float = 30.0
    loopback_config: int = 2
    render_seconds: float = 120.0
    startup_runs: int = 7
    batch_recordings: int = 0
    batch_hours: float = 1.0
    warmup_s: float = 60.0


class Stats(TypedDict):
    """Summary of a series: median, 99th percentile, maximum and count."""

    median: float
    p99: float
    max: float
    n: int


class WallCpu(TypedDict):
    """Wall and CPU time of a stage, seconds."""

    wall_s: float
    cpu_s: float


class TickCost(TypedDict):
    """Per-tick cost statistics of one side (engine or naive), ms."""

    wall_ms: Stats
    cpu_ms: Stats


class Speedup(TypedDict):
    """Naive over engine cost at the median and the 99th percentile."""

    median: float
    p99: float


class Machine(TypedDict, total=False):
    """The machine a suite ran on (``load_avg_1min_end`` added at the end)."""

    cpu: str
    cores: int | None
    load_avg_1min: float
    load_avg_1min_end: float
    python: str
    numpy: str
    scipy: str
    platform: str


class TickBench(TypedDict):
    """What :func:`bench_ticks` measures for one configuration."""

    config: str
    eeg_channels: int
    eeg_fs: float
    ecg_fs: float
    signal_s: float
    ref_every: int
    engine: TickCost
    naive: TickCost
    speedup_wall: Speedup
    speedup_cpu: Speedup


class LoopbackBench(TypedDict):
    """What :func:`bench_loopback` measures."""

    config: str
    seconds: float
    tick_ms: float
    latency_ms: Stats
    compute_ms: Stats
    late_ticks: int


class ReplayBench(TypedDict):
    """What :func:`bench_replay` measures for one configuration."""

    config: str
    hours: float
    session_s: float
    n_ticks: int
    wall_s: float
    cpu_s: float
    speed_x: float
    speed_cpu_x: float
    generate_wall_s: float


class RenderBench(TypedDict):
    """What :func:`bench_render` measures."""

    audio_s: float
    wall_s: float
    speed_x: float
    child_cpu_s: float
    speed_cpu_x: float
    error: str | None


class StartupBench(TypedDict):
    """What :func:`bench_startup` measures."""

    command: str
    best_ms: float
    median_ms: float
    runs: int


class Memory(TypedDict):
    """Peak resident set sizes, MB, by the stage after which they were read."""

    peak_rss_mb: dict[str, float]


class SuiteResult(TypedDict):
    """What :func:`run_suite` returns and ``bench.json`` holds."""

    machine: Machine
    params: dict[str, object]
    startup: StartupBench
    ticks: list[TickBench]
    loopback: LoopbackBench
    replay: list[ReplayBench]
    render: RenderBench
    memory: Memory
    total: WallCpu
    batch: NotRequired[dict[str, Any]]


FULL = SuiteParams(batch_recordings=8)
QUICK = SuiteParams(
    tick_seconds=120.0,
    ref_every=8,
    replay_hours=0.1,
    loopback_seconds=10.0,
    render_seconds=30.0,
    startup_runs=3,
)
#: Seconds-long sizes that still run every stage: a check that an installation works
#: (``attune bench --smoke``; the figures mean nothing).
SMOKE = SuiteParams(
    configs=((4, 256.0, 250.0),),
    tick_seconds=70.0,
    ref_every=8,
    replay_hours=60.0 / 3600.0,
    loopback_seconds=3.0,
    loopback_config=0,
    render_seconds=2.0,
    startup_runs=1,
)


@dataclass
class _Clock:
    """Wall and CPU stopwatch for one stage."""

    wall0: float = field(default_factory=time.perf_counter)
    cpu0: float = field(default_factory=time.process_time)

    def done(self) -> WallCpu:
        return {
            "wall_s": time.perf_counter() - self.wall0,
            "cpu_s": time.process_time() - self.cpu0,
        }


def _stats(x: Iterable[float]) -> Stats:
    a = np.asarray(list(x), dtype=float)
    if a.size == 0:
        return {"median": float("nan"), "p99": float("nan"), "max": float("nan"), "n": 0}
    return {
        "median": float(np.median(a)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
        "n": int(a.size),
    }


def _label(cfg: tuple[int, float, float]) -> str:
    n, efs, cfs = cfg
    return f"{n} ch {efs:g} Hz EEG + {cfs:g} Hz ECG"


def _peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # kB on Linux


def machine() -> Machine:
    """Describe the machine: CPU model, cores, load, Python, NumPy and SciPy versions.

    Returns
    -------
    dict
        ``cpu``, ``cores``, ``load_avg_1min``, ``python``, ``numpy``, ``scipy``,
        ``platform``.
    """
    import scipy

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
    }


def bench_ticks(cfg: tuple[int, float, float], p: SuiteParams) -> TickBench:
    """Per-tick cost of the whole engine and of the naive full-window DSP, interleaved.

    Parameters
    ----------
    cfg : (int, float, float)
        EEG channels, EEG rate (Hz), ECG rate (Hz).
    p : SuiteParams
        Sizes (``tick_seconds``, ``ref_every``, ``warmup_s``).

    Returns
    -------
    dict
        ``engine`` and ``naive``, each with ``wall_ms`` and ``cpu_ms`` statistics
        (median, p99, max, n), and the speed-ups (naive / engine) of the median and p99.
    """
    import neurokit2 as nk
    import scipy.signal

    from attune.benchmarks.recordings import make_recording
    from attune.engine.clocks import VirtualClock
    from attune.sensors.file_source import file_sources
    from attune.sessions.build import build_engine
    from attune.sessions.config import SessionConfig
    from attune.synthesis.synth import SilentBackend

    n_ch, eeg_fs, ecg_fs = cfg
    rec = make_recording(p.tick_seconds / 3600.0, eeg_channels=n_ch, eeg_fs=eeg_fs, ecg_fs=ecg_fs)
    eeg = next(s for s in rec.streams if s.info.kind == "eeg")
    ecg = next(s for s in rec.streams if s.info.kind == "ecg")
    engine = build_engine(
        SessionConfig(render_audio=False),
        sources=file_sources(rec.streams),
        synths=[SilentBackend()],
    )
    clock = VirtualClock(tick_s=TICK_S)
    nper = int(round(2.0 * eeg_fs))
    n_eeg, n_ecg = int(round(4.0 * eeg_fs)), int(round(60.0 * ecg_fs))
    ew: list[float] = []
    ec: list[float] = []
    nw: list[float] = []
    nc: list[float] = []
    n_ticks = int(p.tick_seconds / TICK_S)
    for k in range(n_ticks):
        t = clock.next_tick()
        c0 = time.process_time()
        r = engine.step(t)
        c1 = time.process_time()
        if t < p.warmup_s:
            continue
        ew.append(r.compute_ms)
        ec.append((c1 - c0) * 1e3)
        if k % p.ref_every:
            continue
        i_ecg = int(np.searchsorted(ecg.timestamps, t, side="right"))
        i_eeg = int(np.searchsorted(eeg.timestamps, t, side="right"))
        x_ecg = ecg.data[0, i_ecg - n_ecg : i_ecg]
        x_eeg = eeg.data[:, i_eeg - n_eeg : i_eeg]
        w0, c0 = time.perf_counter(), time.process_time()
        cleaned = nk.ecg_clean(x_ecg, sampling_rate=int(ecg_fs))
        _, peaks = nk.ecg_peaks(cleaned, sampling_rate=int(ecg_fs))
        nk.hrv_time(peaks["ECG_R_Peaks"], sampling_rate=int(ecg_fs))
        scipy.signal.welch(x_eeg, fs=eeg_fs, nperseg=nper, noverlap=nper // 2, axis=-1)
        nw.append((time.perf_counter() - w0) * 1e3)
        nc.append((time.process_time() - c0) * 1e3)
    eng: TickCost = {"wall_ms": _stats(ew), "cpu_ms": _stats(ec)}
    naive: TickCost = {"wall_ms": _stats(nw), "cpu_ms": _stats(nc)}
    return {
        "config": _label(cfg),
        "eeg_channels": n_ch,
        "eeg_fs": eeg_fs,
        "ecg_fs": ecg_fs,
        "signal_s": p.tick_seconds,
        "ref_every": p.ref_every,
        "engine": eng,
        "naive": naive,
        "speedup_wall": _speedup(naive["wall_ms"], eng["wall_ms"]),
        "speedup_cpu": _speedup(naive["cpu_ms"], eng["cpu_ms"]),
    }


def _speedup(naive: Stats, engine: Stats) -> Speedup:
    """Naive over engine cost at the median and p99 (NaN where the engine took 0)."""

    def ratio(n: float, e: float) -> float:
        return n / e if e > 0 else float("nan")

    return {
        "median": ratio(naive["median"], engine["median"]),
        "p99": ratio(naive["p99"], engine["p99"]),
    }


def bench_loopback(p: SuiteParams) -> LoopbackBench:
    """Sample-to-synth latency through real LSL streams on loopback.

    Parameters
    ----------
    p : SuiteParams
        ``loopback_seconds`` and ``loopback_config`` (the stream layout).

    Returns
    -------
    dict
        ``latency_ms`` statistics over ticks that had data, ``compute_ms``, the tick
        period, the configuration and the number of late ticks.
    """
    import uuid

    from attune.engine.clocks import LiveClock
    from attune.sensors.lsl_source import LslSource, local_clock
    from attune.sessions.config import SessionConfig
    from attune.sessions.runner import run_session
    from attune.sessions.store import load_session

    n_ch, eeg_fs, ecg_fs = p.configs[min(p.loopback_config, len(p.configs) - 1)]
    prefix = f"attune-bench-{uuid.uuid4().hex[:8]}"
    seconds = p.loopback_seconds
    pub = subprocess.Popen(
        [sys.executable, "-m", "attune.benchmarks.lsl_publisher", prefix, str(seconds + 4.0)]
        + [str(n_ch), str(eeg_fs), str(ecg_fs)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    sources: list[LslSource] = []
    assert pub.stdout is not None  # stdout=PIPE
    try:
        line = pub.stdout.readline().split()
        if not line or line[0] != "started":
            raise RuntimeError(f"LSL publisher did not start: {line!r}")
        sources = [
            LslSource(source_id=f"{prefix}-ecg", stale_after_s=2.0),
            LslSource(source_id=f"{prefix}-eeg", stale_after_s=2.0),
        ]
        cfg = SessionConfig(
            output_dir=Path(tempfile.mkdtemp(prefix="attune-bench-")), render_audio=False
        )
        cfg = cfg.model_copy(update={"name": "bench-live"})
        clock = LiveClock(tick_s=cfg.tick_s, now=local_clock)
        out = run_session(
            cfg, mode="live", sources=sources, clock=clock, n_ticks=int(seconds / cfg.tick_s)
        )
    finally:
        for s in sources:
            s.close()
        pub.terminate()
        pub.wait(timeout=20)
    ticks = load_session(out.folder).ticks
    lat = ticks["latency_ms"][np.isfinite(ticks["latency_ms"])].tolist()
    return {
        "config": _label((n_ch, eeg_fs, ecg_fs)),
        "seconds": seconds,
        "tick_ms": cfg.tick_s * 1e3,
        "latency_ms": _stats(lat),
        "compute_ms": _stats(ticks["compute_ms"].tolist()),
        "late_ticks": clock.late_ticks,
    }


def bench_replay(cfg: tuple[int, float, float], p: SuiteParams) -> ReplayBench:
    """Replay throughput of a generated recording through ``replay_recording``.

    Parameters
    ----------
    cfg : (int, float, float)
        EEG channels, EEG rate (Hz), ECG rate (Hz).
    p : SuiteParams
        ``replay_hours``.

    Returns
    -------
    dict
        ``speed_x`` (session s per wall s), ``speed_cpu_x`` (per CPU s), wall and CPU
        seconds, generation time, ticks.
    """
    from attune.benchmarks.recordings import make_recording
    from attune.sessions.config import SessionConfig
    from attune.sessions.replay_run import replay_recording

    n_ch, eeg_fs, ecg_fs = cfg
    g = _Clock()
    rec = make_recording(p.replay_hours, eeg_channels=n_ch, eeg_fs=eeg_fs, ecg_fs=ecg_fs)
    gen = g.done()
    scfg = SessionConfig(
        output_dir=Path(tempfile.mkdtemp(prefix="attune-bench-")), render_audio=False
    )
    scfg = scfg.model_copy(update={"name": "bench-replay"})
    c = _Clock()
    s = replay_recording(rec, scfg)
    used = c.done()
    del rec
    return {
        "config": _label(cfg),
        "hours": p.replay_hours,
        "session_s": s.duration_s,
        "n_ticks": s.n_ticks,
        "wall_s": used["wall_s"],
        "cpu_s": used["cpu_s"],
        "speed_x": s.duration_s / used["wall_s"],
        "speed_cpu_x": s.duration_s / used["cpu_s"],
        "generate_wall_s": gen["wall_s"],
    }


def bench_render(p: SuiteParams) -> RenderBench:
    """Offline pyo render speed (child process), x real time.

    Returns
    -------
    dict
        ``audio_s``, ``wall_s``, ``speed_x``, child CPU seconds and ``speed_cpu_x``,
        ``error`` (None if the render succeeded).
    """
    from attune.benchmarks.bench_synth import render_one

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    path = Path(tempfile.mkdtemp(prefix="attune-bench-synth-")) / "render.wav"
    audio_s, wall_s, err = render_one(path, 0, p.render_seconds)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {
        "audio_s": audio_s,
        "wall_s": wall_s,
        "speed_x": audio_s / wall_s if wall_s > 0 else float("nan"),
        "child_cpu_s": cpu,
        "speed_cpu_x": audio_s / cpu if cpu > 0 else float("nan"),
        "error": err,
    }


def bench_startup(p: SuiteParams) -> StartupBench:
    """Wall time of ``attune --help`` in a fresh interpreter, best of ``startup_runs``.

    Returns
    -------
    dict
        ``best_ms``, ``median_ms``, ``runs`` and the command line.
    """
    script = Path(sys.executable).with_name("attune")
    cmd = (
        [str(script), "--help"]
        if script.exists()
        else [sys.executable, "-m", "attune.sessions.cli"]
    )
    if not script.exists():
        cmd.append("--help")
    times = []
    for _ in range(p.startup_runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - t0) * 1e3)
    return {
        "command": " ".join(cmd),
        "best_ms": min(times),
        "median_ms": float(np.median(times)),
        "runs": len(times),
    }


def run_suite(p: SuiteParams = FULL, *, log: Callable[[str], None] | None = None) -> SuiteResult:
    """Run every stage; return the results (what ``attune bench`` writes as JSON).

    Parameters
    ----------
    p : SuiteParams
        Sizes (:data:`FULL` or :data:`QUICK`, or smaller for tests).
    log : callable, optional
        Called with a progress line before each stage.

    Returns
    -------
    dict
        ``machine``, ``params``, ``ticks`` (list, one per configuration), ``loopback``,
        ``replay`` (list), ``render``, ``startup``, ``memory`` and ``total`` (wall and
        CPU seconds).
    """
    say = log or (lambda s: None)
    total = _Clock()
    mach = machine()
    mem: dict[str, float] = {}
    say("startup: attune --help")
    startup = bench_startup(p)
    ticks = []
    for cfg in p.configs:
        say(f"per-tick: {_label(cfg)}, {p.tick_seconds:g} s, naive every {p.ref_every} ticks")
        ticks.append(bench_ticks(cfg, p))
    mem["after ticks"] = _peak_rss_mb()
    say(f"loopback: LSL publisher process, {p.loopback_seconds:g} s live session")
    loopback = bench_loopback(p)
    replay = []
    for cfg in p.configs:
        say(f"replay: {_label(cfg)}, {p.replay_hours:g} h")
        replay.append(bench_replay(cfg, p))
        mem[f"after replay {cfg[0]} ch"] = _peak_rss_mb()
    say(f"render: pyo offline, {p.render_seconds:g} s")
    render = bench_render(p)
    batch = None
    if p.batch_recordings:
        from attune.benchmarks.bench_batch import bench_batch

        say(f"batch: {p.batch_recordings} x {p.batch_hours:g} h, Dask 1 worker vs 2")
        batch = bench_batch(hours=p.batch_hours, recordings=p.batch_recordings)
    mem["largest child (fork: shared pages count)"] = _peak_rss_mb(resource.RUSAGE_CHILDREN)
    mach["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    result: SuiteResult = {
        "machine": mach,
        "params": dataclasses.asdict(p),
        "startup": startup,
        "ticks": ticks,
        "loopback": loopback,
        "replay": replay,
        "render": render,
        "memory": {"peak_rss_mb": mem},
        "total": total.done(),
    }
    if batch is not None:
        result["batch"] = batch
    return result


def _f(x: float | None, nd: int = 2) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def to_markdown(res: SuiteResult) -> str:
    """Format suite results as Markdown: a machine line and two tables.

    Parameters
    ----------
    res : dict
        What :func:`run_suite` returned.

    Returns
    -------
    str
        Markdown text.
    """
    m, p = res["machine"], res["params"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}, "
        f"scipy {m['scipy']}; load average {m['load_avg_1min']} at start, "
        f"{m.get('load_avg_1min_end', '-')} at end. Suite: {_f(res['total']['wall_s'], 0)} s "
        f"wall, {_f(res['total']['cpu_s'], 0)} s CPU.",
        "",
        f"Per 0.25 s tick, ms, steady state ({p['tick_seconds']:g} s of signal, first "
        f"{p['warmup_s']:g} s not counted). Attune = whole `Engine.step`; naive = neurokit2 "
        f"`ecg_clean`+`ecg_peaks`+`hrv_time` on the 60 s ECG window + `scipy.signal.welch` on "
        f"the 4 s EEG window, measured every {p['ref_every']}th tick in the same loop.",
        "",
        "| configuration | Attune median | Attune p99 | Attune CPU med / p99 | naive median "
        "| naive p99 | naive CPU med / p99 | faster (median / p99) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in res["ticks"]:
        ew, ec = t["engine"]["wall_ms"], t["engine"]["cpu_ms"]
        nw, nc = t["naive"]["wall_ms"], t["naive"]["cpu_ms"]
        s = t["speedup_wall"]
        lines.append(
            f"| {t['config']} | {_f(ew['median'])} | {_f(ew['p99'])} | "
            f"{_f(ec['median'])} / {_f(ec['p99'])} | {_f(nw['median'], 1)} | {_f(nw['p99'], 1)} "
            f"| {_f(nc['median'], 1)} / {_f(nc['p99'], 1)} | "
            f"{_f(s['median'], 0)}x / {_f(s['p99'], 0)}x |"
        )
    lb = res["loopback"]
    lines += ["", "| what | figure | CPU-time figure |", "|---|---|---|"]
    lines.append(
        f"| LSL loopback, sample timestamp to synth handoff ({lb['config']}, publisher "
        f"process, LiveClock, {lb['seconds']:g} s) | median {_f(lb['latency_ms']['median'], 1)}"
        f" ms, p99 {_f(lb['latency_ms']['p99'], 1)} ms (tick {lb['tick_ms']:g} ms) | compute "
        f"p99 {_f(lb['compute_ms']['p99'])} ms |"
    )
    for r in res["replay"]:
        lines.append(
            f"| replay `replay_recording`, {r['hours']:g} h, {r['config']} | "
            f"{_f(r['speed_x'], 0)}x real time ({_f(r['wall_s'], 1)} s) | "
            f"{_f(r['speed_cpu_x'], 0)}x per CPU s |"
        )
    rd = res["render"]
    lines.append(
        f"| offline pyo render, {rd['audio_s']:g} s 48 kHz stereo | "
        f"{_f(rd['speed_x'], 0)}x real time"
        + (f" (FAILED: {rd['error']})" if rd["error"] else "")
        + f" | {_f(rd['speed_cpu_x'], 0)}x per child CPU s |"
    )
    if "batch" in res:
        b = res["batch"]
        one, two = b["runs"][0], b["runs"][-1]
        lines.append(
            f"| `attune batch`, {b['recordings']} x {b['hours']:g} h ({b['eeg_channels']} ch "
            f"EEG + ECG {b['fs']:g} Hz FIF), Dask {two['workers']} workers vs "
            f"{one['workers']} | speed-up {_f(b['speedup'])}x ({_f(two['speed_x'], 0)}x vs "
            f"{_f(one['speed_x'], 0)}x real time) | same table: {b['same_table']} |"
        )
    st = res["startup"]
    lines.append(
        f"| `attune --help` start-up, best of {st['runs']} | {_f(st['best_ms'], 0)} ms | "
        f"median {_f(st['median_ms'], 0)} ms |"
    )
    mem = res["memory"]["peak_rss_mb"]
    lines.append(
        "| peak RSS (cumulative) | "
        + ", ".join(f"{k} {v:.0f} MB" for k, v in mem.items())
        + " | - |"
    )
    return "\n".join(lines) + "\n"


def write_outputs(res: SuiteResult, out_dir: Path) -> tuple[Path, Path]:
    """Write ``bench.json`` and ``bench.md`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = out_dir / "bench.json", out_dir / "bench.md"
    js.write_text(json.dumps(res, indent=2, default=float) + "\n", encoding="utf-8")
    md.write_text(to_markdown(res), encoding="utf-8")
    return js, md


def main(argv: list[str] | None = None) -> int:
    """Command-line entry (``python -m attune.benchmarks.suite``): ``attune bench`` itself."""
    from attune.sessions.cli import main as attune_main

    return attune_main(["bench", *(sys.argv[1:] if argv is None else argv)])


def run_and_report(*, quick: bool, out: Path, params: SuiteParams | None = None) -> int:
    """Run the suite, write JSON and Markdown under ``out``, print the Markdown."""
    p = params or (QUICK if quick else FULL)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    res = run_suite(p, log=log)
    js, md = write_outputs(res, out)
    print(md.read_text(encoding="utf-8"))
    print(f"written: {js} {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
