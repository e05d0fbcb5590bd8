"""A live session: LSL streams in, real-time pacing, Attune's own streams out.

``attune run CONFIG`` opens the streams named in the session file, paces the loop on
LSL's clock (:class:`engine.clocks.LiveClock`), publishes state, music parameters and
markers as LSL outlets (so LabRecorder records them beside the raw signals), and ends
gracefully on Ctrl-C or after the protocol: the record is flushed and closed either way.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.clocks import LiveClock
from sensors.lsl import LslSource, StateOutlets, local_clock
from sessions.config import SessionConfig
from sessions.runner import RunOutcome, run_session


def open_streams(cfg: SessionConfig, *, resolve_timeout_s: float = 5.0) -> list[LslSource]:
    """Open one inlet per stream of ``cfg.streams`` (raises SensorError if one is missing)."""
    if not cfg.streams:
        raise ValueError("the session file names no [[streams]] to read (kind, name or source_id)")
    return [
        LslSource(
            kind=s.kind,
            name=s.name,
            source_id=s.source_id,
            stale_after_s=s.stale_after_s,
            resolve_timeout_s=resolve_timeout_s,
        )
        for s in cfg.streams
    ]


def run_live(
    cfg: SessionConfig,
    *,
    duration_s: float | None = None,
    progress: Callable[[float], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> RunOutcome:
    """Run a live session on the LSL streams of ``cfg`` for its protocol's length.

    Parameters
    ----------
    cfg : SessionConfig
        The session; ``cfg.streams`` says which LSL streams to read.
    duration_s : float, optional
        Stop after this many seconds instead of the protocol's length.
    progress, stop : callable, optional
        As for :func:`sessions.runner.run_session`.
    """
    sources = open_streams(cfg)
    outlets = (
        StateOutlets(prefix=cfg.name, tick_s=cfg.tick_s, source_id=f"attune-{cfg.name}")
        if cfg.lsl_outlets
        else None
    )
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
        )
    finally:
        for src in sources:
            src.close()
