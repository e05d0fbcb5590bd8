"""Replay a recording through the whole engine, in-process on the virtual clock.

The virtual clock advances by exactly one tick per step, so replay runs as fast as the
CPU allows and the same file with the same config gives the same tick record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attune.engine.clocks import VirtualClock
from attune.sensors.file_source import file_sources
from attune.sensors.readers import RecordedStream, Recording, read_recording, select_streams
from attune.sessions.config import SessionConfig
from attune.sessions.runner import run_session
from attune.sessions.store import load_session

#: Which cardiac stream feeds HRV when a file has several: beats the device detected
#: itself (chest-strap RR), then ECG, then PPG.
HRV_PREFERENCE = ("rr", "ecg", "ppg")


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay reports.

    Attributes
    ----------
    path : str
        The recording (or a description of an in-memory one).
    folder : Path
        The session folder.
    streams : tuple of str
        The streams replayed, one line each (name, kind, rate, channels).
    duration_s : float
        Session time covered, seconds.
    n_ticks : int
        Ticks run.
    wall_s : float
        Wall time, seconds.
    speed_x : float
        Session seconds per wall second.
    n_beats : int
        Heartbeats recorded.
    mean_hr_bpm : float or None
        Mean of the per-tick heart rate, where available.
    arousal_start, arousal_end : float
        Arousal estimate at the end of the baseline and at the last tick.
    n_markers : int
        Marker events recorded.
    warnings : tuple of str
        Conditions the reader handled (NaN runs, gaps, clock resets ...).
    files : dict of str to str
        What was written.
    interrupted : bool
        True if stopped early.
    """

    path: str
    folder: Path
    streams: tuple[str, ...]
    duration_s: float
    n_ticks: int
    wall_s: float
    speed_x: float
    n_beats: int
    mean_hr_bpm: float | None
    arousal_start: float
    arousal_end: float
    n_markers: int
    warnings: tuple[str, ...]
    files: dict[str, str]
    interrupted: bool


def choose_streams(
    rec: Recording,
    *,
    names: Sequence[str] = (),
    kinds: Sequence[str] = (),
    channels: Sequence[str] = (),
) -> tuple[RecordedStream, ...]:
    """Pick what to replay: one cardiac stream, one EEG stream and every marker stream.

    With ``names``, ``kinds`` or ``channels`` the choice is narrowed first
    (:func:`attune.sensors.readers.select_streams`); among several cardiac streams
    :data:`HRV_PREFERENCE` decides, among several EEG streams the first wins.
    """
    pool = (
        select_streams(rec, names=names, kinds=kinds, channels=channels)
        if (names or kinds or channels)
        else rec.streams
    )
    chosen = []
    for kind in HRV_PREFERENCE:
        cardiac = [s for s in pool if s.info.kind == kind and s.n_samples > 1]
        if cardiac:
            chosen.append(cardiac[0])
            break
    eeg = [s for s in pool if s.info.kind == "eeg" and s.n_samples > 1]
    chosen += eeg[:1]
    chosen += [s for s in pool if s.info.kind == "markers"]
    if not any(s.info.kind != "markers" for s in chosen):
        found = ", ".join(f"{s.info.name} ({s.info.kind})" for s in rec.streams)
        raise ValueError(f"{rec.path}: no EEG or cardiac stream to replay; found: {found}")
    return tuple(chosen)


def _describe(s: RecordedStream) -> str:
    rate = "irregular" if s.info.fs == 0 else f"{s.info.fs:g} Hz"
    chans = ", ".join(s.info.channels[:6]) + (" ..." if s.info.n_channels > 6 else "")
    return (
        f"{s.info.name} [{s.info.kind}, {rate}, {s.info.n_channels} ch: {chans}; "
        f"{s.duration_s:.1f} s]"
    )


def replay_recording(
    rec: Recording,
    cfg: SessionConfig,
    *,
    names: Sequence[str] = (),
    kinds: Sequence[str] = (),
    channels: Sequence[str] = (),
    progress: Callable[[float], None] | None = None,
) -> ReplaySummary:
    """Run the engine over a recording on the virtual clock and write a session folder.

    The protocol of ``cfg`` is stretched (its maintain phase lengthened) when the
    recording is longer, so the whole recording is replayed; a shorter recording
    ends the session early.
    """
    streams = choose_streams(rec, names=names, kinds=kinds, channels=channels)
    sources = file_sources(streams)
    duration = max(s.duration_s for s in streams if s.info.kind != "markers")
    ph = cfg.phases
    if duration > ph.total_s:
        ph = ph.model_copy(update={"maintain_s": ph.maintain_s + duration - ph.total_s})
        cfg = cfg.model_copy(update={"phases": ph})
    n_ticks = int(np.ceil(duration / cfg.tick_s)) + 1
    out = run_session(
        cfg,
        mode="replay",
        sources=sources,
        clock=VirtualClock(tick_s=cfg.tick_s),
        n_ticks=n_ticks,
        notes=[f"replay of {rec.path}"]
        + [f"stream: {_describe(s)}" for s in streams]
        + [f"reader: {w}" for w in rec.warnings],
        progress=progress,
    )
    folder = out.folder
    data = load_session(folder)
    n_markers = sum(1 for _, text in data.events if text.startswith("marker: "))
    hr = data.ticks["hr_bpm"]
    base_i = min(out.n_ticks - 1, int(cfg.phases.baseline_s / cfg.tick_s))
    return ReplaySummary(
        path=str(rec.path),
        folder=folder,
        streams=tuple(_describe(s) for s in streams),
        duration_s=out.n_ticks * cfg.tick_s,
        n_ticks=out.n_ticks,
        wall_s=out.wall_s,
        speed_x=out.n_ticks * cfg.tick_s / out.wall_s,
        n_beats=int(data.beats["time_s"].size),
        mean_hr_bpm=float(np.nanmean(hr)) if np.isfinite(hr).any() else None,
        arousal_start=float(out.arousal[base_i]) if out.n_ticks else float("nan"),
        arousal_end=float(out.arousal[-1]) if out.n_ticks else float("nan"),
        n_markers=n_markers,
        warnings=rec.warnings,
        files=out.files,
        interrupted=out.interrupted,
    )


def run_replay(
    path: str | Path,
    cfg: SessionConfig,
    *,
    fs: float | None = None,
    kind: str | None = None,
    columns: Sequence[str] | None = None,
    time_column: str | None = None,
    names: Sequence[str] = (),
    kinds: Sequence[str] = (),
    channels: Sequence[str] = (),
    progress: Callable[[float], None] | None = None,
) -> ReplaySummary:
    """Read ``path`` (:func:`attune.sensors.readers.read_recording`) and replay it."""
    rec = read_recording(path, fs=fs, kind=kind, columns=columns, time_column=time_column)
    return replay_recording(
        rec, cfg, names=names, kinds=kinds, channels=channels, progress=progress
    )
