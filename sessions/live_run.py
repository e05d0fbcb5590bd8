"""A live session: LSL streams in, real-time pacing, Attune's own streams out.

``attune run CONFIG`` opens the streams named in the session file, paces the loop on
LSL's clock (:class:`attune.engine.clocks.LiveClock`), publishes state, music parameters and
markers as LSL outlets (so LabRecorder records them beside the raw signals), and ends
gracefully on Ctrl-C or after the protocol: the record is flushed and closed either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from attune.engine.clocks import LiveClock
from attune.engine.loop import STAGE_OF_KIND
from attune.sensors.lsl_source import LslSource, local_clock
from attune.sessions.build import check_live_outputs
from attune.sessions.carryover import CarryOver
from attune.sessions.config import LiveStream, SessionConfig
from attune.sessions.runner import RunOutcome, SessionObserver, run_session
from attune.sessions.state_outlets import StateOutlets


def wanted_streams(cfg: SessionConfig) -> list[LiveStream]:
    """Return the streams of ``cfg.streams`` the session reads.

    Every marker stream; the first cardiac stream (ECG, PPG or RR) listed, if
    ``features.hrv``; the first EEG stream listed, if ``features.eeg``. A later stream of
    a modality already fed is left out (one source per feature stage).

    Raises
    ------
    ValueError
        If no stream feeds the estimator (no ``[[streams]]``, or only streams of
        switched-off modalities).
    """
    if not cfg.streams:
        raise ValueError("the session file names no [[streams]] to read (kind, name or source_id)")
    on = {"hrv": cfg.features.hrv, "eeg": cfg.features.eeg}
    fed: set[str] = set()
    wanted = []
    for s in cfg.streams:
        modality = STAGE_OF_KIND.get(s.kind)  # markers feed none: recorded
        if modality is None:
            wanted.append(s)
        elif on[modality] and modality not in fed:
            fed.add(modality)
            wanted.append(s)
    if not fed:
        kinds = ", ".join(s.kind for s in cfg.streams)
        raise ValueError(
            f"no [[streams]] feed the estimator: streams {kinds}; features.hrv = "
            f"{str(cfg.features.hrv).lower()}, features.eeg = {str(cfg.features.eeg).lower()}"
        )
    return wanted


def open_streams(cfg: SessionConfig, *, resolve_timeout_s: float = 5.0) -> list[LslSource]:
    """Open one inlet per stream of :func:`wanted_streams` (SensorError if one is missing)."""
    return [
        LslSource(
            kind=s.kind,
            name=s.name,
            source_id=s.source_id,
            stale_after_s=s.stale_after_s,
            resolve_timeout_s=resolve_timeout_s,
        )
        for s in wanted_streams(cfg)
    ]


def state_outlets(cfg: SessionConfig) -> StateOutlets | None:
    """Attune's own LSL outlets when the session opts in (``lsl_outlets``), else None.

    Off by default: the live estimate is personal data, and LSL announces every outlet to
    the whole local network.
    """
    if not cfg.lsl_outlets:
        return None
    return StateOutlets(prefix=cfg.name, tick_s=cfg.tick_s, source_id=f"attune-{cfg.name}")


def run_live(
    cfg: SessionConfig,
    *,
    duration_s: float | None = None,
    progress: Callable[[float], None] | None = None,
    stop: Callable[[], bool] | None = None,
    resolve_timeout_s: float = 5.0,
    observers: Sequence[SessionObserver] = (),
    carry: CarryOver | None = None,
) -> RunOutcome:
    """Run a live session on the LSL streams of ``cfg`` for its protocol's length.

    Parameters
    ----------
    cfg : SessionConfig
        The session; ``cfg.streams`` says which LSL streams to read.
    duration_s : float, optional
        Stop after this many seconds instead of the protocol's length.
    progress, stop : callable, optional
        As for :func:`attune.sessions.runner.run_session`.
    resolve_timeout_s : float, default 5.0
        How long to look for each stream on the network, seconds.
    observers : sequence of SessionObserver
        Watch the session as it runs (the web console).
    carry : CarryOver, optional
        What a previous visit learned (seeds the response learner).

    Raises
    ------
    ConfigError
        If the configured audio device or MIDI port does not exist (checked first).
    SensorError
        If a stream cannot be found.
    """
    check_live_outputs(cfg)
    sources = open_streams(cfg, resolve_timeout_s=resolve_timeout_s)
    outlets = state_outlets(cfg)
    seconds = cfg.phases.total_s if duration_s is None else duration_s
    try:
        return run_session(
            cfg,
            mode="live",
            sources=sources,
            clock=LiveClock(tick_s=cfg.tick_s, now=local_clock),
            n_ticks=int(round(seconds / cfg.tick_s)),
            outlets=outlets,
            progress=progress,
            stop=stop,
            observers=observers,
            carry=carry,
        )
    finally:
        for src in sources:
            src.close()
