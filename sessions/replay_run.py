"""Replay a recording through the whole engine, in-process on the virtual clock.

The virtual clock advances by exactly one tick per step, so replay runs as fast as the
CPU allows and the same file with the same config gives the same tick record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attune.engine.affect import MIN_BASELINE_S, sam_to_unit
from attune.engine.clocks import VirtualClock
from attune.sensors.file_source import file_sources
from attune.sensors.readers import RecordedStream, Recording, read_recording, select_streams
from attune.sessions.config import SessionConfig
from attune.sessions.runner import run_session
from attune.sessions.store import SessionData, load_session

#: Which cardiac stream feeds HRV when a file has several: beats the device detected
#: itself (chest-strap RR), then ECG, then PPG.
HRV_PREFERENCE = ("rr", "ecg", "ppg")
#: [E] Device heart rate and the engine's differing by more than this (bpm, session
#: means) is a disagreement worth an event.
HR_DISAGREE_BPM = 5.0
#: A BIDS subject entity in a file or folder name (``sub-01_task-rest_eeg.edf``).
_BIDS_SUB = re.compile(r"(?<![A-Za-z0-9])sub-[A-Za-z0-9]+")


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
    participant : str
        The pseudonym the session was filed under.
    relative : bool
        True when there was no intake rating: the arousal figures are changes from the
        baseline.
    explanations : tuple of str
        Holds, corrections, exclusions and labels in plain words
        (:func:`attune.sessions.report.explain`).
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
    participant: str = ""
    relative: bool = False
    explanations: tuple[str, ...] = ()


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


def shown_path(path: str | Path, record_paths: bool) -> str:
    """How the record names a replayed file: its name, or its path with ``record_paths``."""
    return str(path) if record_paths else Path(str(path)).name


def _hide_path(text: str, path: str | Path, shown: str) -> str:
    """Replace the file's path (as given and absolute) in ``text`` by ``shown``."""
    for p in sorted({str(path), str(Path(str(path)).resolve())}, key=len, reverse=True):
        text = text.replace(p, shown)
    return text


def participant_of(rec: Recording, given: str | None = None) -> str:
    """Return the pseudonym a replay is filed under: given, the file's own, or its name.

    The file's own is ``rec.participant`` when the reader found one, else the BIDS
    ``sub-<label>`` in its name or folders; otherwise the file name's stem, reduced to
    letters, digits and ``._-`` (at most 64 characters).
    """
    path = Path(str(rec.path))
    bids = [m.group(0) for p in (path.name, *path.parts) if (m := _BIDS_SUB.search(p))]
    name = given or getattr(rec, "participant", None) or (bids[0] if bids else path.stem)
    clean = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip("-.")[:64]
    return clean or "recording"


def _with_intake(
    cfg: SessionConfig, intake_sam: tuple[float, float] | None, duration_s: float
) -> SessionConfig:
    """Intake state and baseline of a replay.

    With ``intake_sam`` (SAM arousal, valence, 1..9) the estimator starts there;
    without it, and unless the configuration sets a prior itself, the estimate is
    relative to the baseline. A baseline the configuration does not set is
    :data:`~attune.engine.affect.MIN_BASELINE_S` long when the recording holds at least
    twice that, else a third of the recording.
    """
    es = cfg.estimator
    if intake_sam is not None:
        es = es.model_copy(
            update={
                "prior_arousal": sam_to_unit(intake_sam[0]),
                "prior_valence": sam_to_unit(intake_sam[1]),
            }
        )
    elif "prior_arousal" not in es.model_fields_set:
        es = es.model_copy(update={"prior_arousal": None, "prior_valence": None})
    ph = cfg.phases
    if "baseline_s" not in ph.model_fields_set:
        base = MIN_BASELINE_S if duration_s >= 2 * MIN_BASELINE_S else duration_s / 3.0
        base = max(ph.baseline_s, float(np.floor(base / cfg.tick_s) * cfg.tick_s))
        ph = ph.model_copy(update={"baseline_s": base})
    return cfg.model_copy(update={"estimator": es, "phases": ph})


def _device_cross_check(rec: Recording, data: SessionData, mean_hr: float | None) -> list[str]:
    """Compare the engine's heart rate with the device's own (``hr_bpm`` or RR column).

    The device's RR intervals are the trusted source when the engine detected beats
    from ECG: a disagreement of more than :data:`HR_DISAGREE_BPM` is reported.
    """
    if mean_hr is None:
        return []
    out = []
    for s in rec.streams:
        chans = [c.lower() for c in s.info.channels]
        ref = None
        if s.info.kind == "hr" or "hr_bpm" in chans:
            i = chans.index("hr_bpm") if "hr_bpm" in chans else 0
            x = np.asarray(s.data[i], dtype=float)
            x = x[np.isfinite(x) & (x > 0)]
            ref = float(x.mean()) if x.size else None
            what = f"the device's own heart rate ({s.info.name})"
        elif s.info.kind == "rr":
            x = np.asarray(s.data[0], dtype=float)
            x = x[np.isfinite(x) & (x > 0)]
            ref = 60000.0 / float(x.mean()) if x.size else None
            what = f"the device's RR intervals ({s.info.name})"
        if ref is None:
            continue
        if abs(ref - mean_hr) > HR_DISAGREE_BPM:
            out.append(
                f"warning: heart rate disagrees with {what}: {mean_hr:.1f} bpm against "
                f"{ref:.1f} bpm; the device's intervals are the trusted source"
            )
        else:
            out.append(f"info: heart rate agrees with {what} ({ref:.1f} bpm)")
    return out


def replay_recording(
    rec: Recording,
    cfg: SessionConfig,
    *,
    names: Sequence[str] = (),
    kinds: Sequence[str] = (),
    channels: Sequence[str] = (),
    progress: Callable[[float], None] | None = None,
    participant: str | None = None,
    intake_sam: tuple[float, float] | None = None,
) -> ReplaySummary:
    """Run the engine over a recording on the virtual clock and write a session folder.

    The protocol of ``cfg`` is stretched (its maintain phase lengthened) when the
    recording is longer, so the whole recording is replayed; a shorter recording
    ends the session early.

    Parameters
    ----------
    rec : Recording
        The recording.
    cfg : SessionConfig
        The session configuration.
    names, kinds, channels : sequence of str
        Narrow the streams replayed (:func:`choose_streams`).
    progress : callable, optional
        Called with the fraction done.
    participant : str, optional
        Pseudonym to file the session under (default: the file's own, else its name).
    intake_sam : (float, float), optional
        The listener's SAM self-report at intake, arousal and valence on 1..9. Without
        it the estimate is the change from the baseline, labelled relative.
    """
    from attune.sessions.report import explain  # matplotlib-free, but heavy: at use

    streams = choose_streams(rec, names=names, kinds=kinds, channels=channels)
    sources = file_sources(streams)
    duration = max(s.duration_s for s in streams if s.info.kind != "markers")
    cfg = _with_intake(cfg, intake_sam, duration)
    # a simulated listener's pseudonym (``sim-...``, the default) never names a recording
    named = "participant" in cfg.model_fields_set and not cfg.participant.startswith("sim")
    if participant or not named:
        cfg = cfg.model_copy(update={"participant": participant_of(rec, participant)})
    relative = cfg.estimator.prior_arousal is None
    ph = cfg.phases
    if duration > ph.total_s:
        ph = ph.model_copy(update={"maintain_s": ph.maintain_s + duration - ph.total_s})
        cfg = cfg.model_copy(update={"phases": ph})
    n_ticks = int(np.ceil(duration / cfg.tick_s)) + 1
    shown = shown_path(rec.path, cfg.record_paths)
    out = run_session(
        cfg,
        mode="replay",
        sources=sources,
        clock=VirtualClock(tick_s=cfg.tick_s),
        n_ticks=n_ticks,
        notes=[f"replay of {shown}"]
        + [f"stream: {_describe(s)}" for s in streams]
        + [f"reader: {_hide_path(w, rec.path, shown)}" for w in rec.warnings],
        progress=progress,
    )
    folder = out.folder
    data = load_session(folder)
    n_markers = sum(1 for _, text in data.events if text.startswith("marker: "))
    hr = data.ticks["hr_bpm"]
    mean_hr = float(np.nanmean(hr)) if np.isfinite(hr).any() else None
    base_i = min(out.n_ticks - 1, int(cfg.phases.baseline_s / cfg.tick_s))
    checks = [c for c in _device_cross_check(rec, data, mean_hr) if c.startswith("warning")]
    plain = tuple(explain(data)) + tuple(c.removeprefix("warning: ") for c in checks)
    return ReplaySummary(
        path=str(rec.path),
        folder=folder,
        streams=tuple(_describe(s) for s in streams),
        duration_s=out.n_ticks * cfg.tick_s,
        n_ticks=out.n_ticks,
        wall_s=out.wall_s,
        speed_x=out.n_ticks * cfg.tick_s / out.wall_s,
        n_beats=int(data.beats["time_s"].size),
        mean_hr_bpm=mean_hr,
        arousal_start=float(out.arousal[base_i]) if out.n_ticks else float("nan"),
        arousal_end=float(out.arousal[-1]) if out.n_ticks else float("nan"),
        n_markers=n_markers,
        warnings=rec.warnings + plain,
        files=out.files,
        interrupted=out.interrupted,
        participant=cfg.participant,
        relative=relative,
        explanations=plain,
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
    participant: str | None = None,
    intake_sam: tuple[float, float] | None = None,
) -> ReplaySummary:
    """Read ``path`` (:func:`attune.sensors.readers.read_recording`) and replay it.

    ``participant`` and ``intake_sam`` as in :func:`replay_recording`.
    """
    rec = read_recording(path, fs=fs, kind=kind, columns=columns, time_column=time_column)
    return replay_recording(
        rec,
        cfg,
        names=names,
        kinds=kinds,
        channels=channels,
        progress=progress,
        participant=participant,
        intake_sam=intake_sam,
    )
