"""Run one session: the loop shared by simulation, replay and live sessions.

Creates the private session folder, keeps the config used, builds the engine around
the given sources, ticks it on the given clock, records every tick, beat and event
(marker streams and source transitions included), renders or plays the music, and
closes everything even when interrupted, so nothing recorded is lost.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attune.engine.clocks import VirtualClock
from attune.engine.eeg import EEG_FEATURES
from attune.engine.hrv import HRV_FEATURES
from attune.engine.loop import STAGE_OF_KIND, TickResult
from attune.sensors.types import Source
from attune.sessions.build import build_engine, make_renderer, open_live_outputs
from attune.sessions.config import SessionConfig, dump_config
from attune.sessions.record import SessionRecord, new_session_dir, private_file, private_open
from attune.sessions.therapist import CommandSource, TherapistChannel
from attune.synthesis.midi import MidiRecorder
from attune.synthesis.params import MusicParams

#: The synth's control ramp, seconds: a fade reaching 0 is silent this much later.
SYNTH_RAMP_S = 1.0


@contextmanager
def graceful_signals():
    """Turn the first SIGINT or SIGTERM into a request to end gracefully.

    Yields a callable that returns True once a signal arrived. A second SIGINT raises
    :class:`KeyboardInterrupt` as usual. Outside the main thread (where Python cannot
    install handlers) nothing is installed and the callable stays False.
    """
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame) -> None:
        if got and signum == signal.SIGINT:
            raise KeyboardInterrupt
        got.append(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(got)
    finally:
        for s, h in old.items():
            signal.signal(s, h)


#: Feature columns of the tick record, in order.
FEATURES = [*HRV_FEATURES, *EEG_FEATURES]


@dataclass
class RunOutcome:
    """What a finished (or interrupted) session run produced.

    Attributes
    ----------
    folder : Path
        The session folder.
    n_ticks : int
        Ticks recorded.
    t, arousal, target_arousal : ndarray, shape (n_ticks,)
        Tick times (s), arousal estimates and targets (NaN while none).
    extras : dict of str to ndarray
        Per-tick values of the caller's extra columns.
    wall_s : float
        Wall time of the run, seconds.
    render_speed_x : float or None
        Audio seconds rendered per wall second, None without audio.
    n_notes : int
        Notes composed.
    files : dict of str to str
        What was written.
    interrupted : bool
        True if the run ended early (Ctrl-C or ``stop``).
    """

    folder: Path
    n_ticks: int
    t: np.ndarray
    arousal: np.ndarray
    target_arousal: np.ndarray
    extras: dict[str, np.ndarray]
    wall_s: float
    render_speed_x: float | None
    n_notes: int
    files: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False


def run_session(
    cfg: SessionConfig,
    *,
    mode: str,
    sources: Sequence[Source],
    clock,
    n_ticks: int,
    listeners: Sequence[Callable[[float, MusicParams], None]] = (),
    extra: Callable[[TickResult], dict[str, float]] | None = None,
    extra_columns: Sequence[str] = (),
    notes: Sequence[str] = (),
    outlets=None,
    progress: Callable[[float], None] | None = None,
    stop: Callable[[], bool] | None = None,
    commands: Sequence[CommandSource] = (),
) -> RunOutcome:
    """Run ``n_ticks`` ticks of the closed loop and write the session folder.

    Parameters
    ----------
    cfg : SessionConfig
        The session.
    mode : str
        ``"simulate"``, ``"replay"`` or ``"live"`` (recorded in the first event).
    sources : sequence of Source
        Signal sources; ``kind == "markers"`` sources are recorded as events, the
        others feed the engine.
    clock : object with ``begin() -> float`` and ``next_tick() -> float``
        :class:`attune.engine.clocks.VirtualClock` or :class:`attune.engine.clocks.LiveClock`. The
        clock is begun after all set-up; sources with a ``session_t0`` attribute (live
        LSL inlets) get its start so their timestamps are session seconds.
    n_ticks : int
        Ticks to run (fewer if interrupted).
    listeners : sequence of callable
        ``f(t, params)`` after each tick (the simulated listener hears the music).
    extra : callable, optional
        Returns the values of ``extra_columns`` for a tick.
    extra_columns : sequence of str
        Additional per-tick columns.
    notes : sequence of str
        Events recorded at t = 0 (e.g. reader warnings).
    outlets : attune.sessions.state_outlets.StateOutlets, optional
        Publishes every tick over LSL (needs ``lsl_time`` from the clock's ``start``).
    progress : callable, optional
        Called with the fraction done about once per session second.
    stop : callable, optional
        Polled each tick; True ends the session gracefully, as Ctrl-C (SIGINT) and
        SIGTERM do: the controller fades the music out at the normal rate
        (:meth:`attune.engine.controller.Controller.end`), the loop runs on until it is
        silent, then the store is closed. A second Ctrl-C stops at once; what was
        recorded is kept either way.
    commands : sequence of CommandSource
        Therapist command sources polled before every tick (e.g.
        :class:`attune.sessions.therapist.ScriptedCommands`); with
        ``cfg.control.command_channel`` the local channel of ``attune control``
        (:class:`attune.sessions.therapist.TherapistChannel`) is added. Commands are queued on
        the controller and take effect at that tick; the controller records them as
        events, rejected ones are recorded too.
    """
    wall0 = time.perf_counter()
    folder = new_session_dir(cfg.output_dir, cfg.name, cfg.participant)
    config_toml = dump_config(cfg)
    with private_open(folder / "config.toml") as f:
        f.write(config_toml)
    marker_sources = [s for s in sources if s.info.kind == "markers"]
    signal_sources = [s for s in sources if s.info.kind != "markers"]
    for s in signal_sources:
        if s.info.kind not in STAGE_OF_KIND:
            raise ValueError(f"stream {s.info.name!r}: kind {s.info.kind!r} has no stage")
    record = SessionRecord(
        folder,
        feature_names=FEATURES,
        extra_columns=list(extra_columns),
        meta={
            "name": cfg.name,
            "participant": cfg.participant,
            "mode": mode,
            "seed": cfg.seed,
            "tick_s": cfg.tick_s,
            "config_toml": config_toml,
        },
    )
    record.event(0.0, f"session start: {mode} seed={cfg.seed}")
    for text in notes:
        record.event(0.0, text)
    note_log = MidiRecorder()
    # The synth runs in its own process; the supervisor restarts it (with a fade-in)
    # if it dies, and reports that into the record.
    wav = private_file(folder / "session.wav") if cfg.render_audio else folder / "session.wav"
    renderer = make_renderer(cfg, wav, on_event=record.event)
    # Real-time sessions also play to the configured sound card and MIDI port.
    try:
        live_outs = (
            [] if isinstance(clock, VirtualClock) else open_live_outputs(cfg, on_event=record.event)
        )
    except Exception as e:
        record.event(0.0, f"session failed: {e}")
        record.close(status="failed")
        raise
    renderer.start()
    engine = build_engine(
        cfg, sources=signal_sources, synths=[renderer, note_log, *live_outs], listeners=listeners
    )
    command_sources = list(commands)
    if cfg.control.command_channel:
        channel = TherapistChannel(folder)
        command_sources.append(channel)
        record.event(0.0, f"therapist channel: 127.0.0.1:{channel.port} (attune control)")
    t_arr = np.full(n_ticks, np.nan)
    est_a = np.full(n_ticks, np.nan)
    tgt_a = np.full(n_ticks, np.nan)
    extras = {c: np.full(n_ticks, np.nan) for c in extra_columns}
    every = max(1, int(round(1.0 / cfg.tick_s)))
    # After a graceful end the music is silent once the fade reaches 0 and the synth's
    # 1 s control ramp has run out.
    silent_ticks_needed = int(np.ceil(SYNTH_RAMP_S / cfg.tick_s))
    silent_ticks = 0
    done = 0
    interrupted = False
    stats = None
    controller = engine.controller
    start = clock.begin()
    for src in sources:
        if hasattr(src, "session_t0"):
            src.session_t0 = start
    try:
        with graceful_signals() as signalled:
            for i in range(n_ticks):
                if not controller.ending and (signalled() or (stop is not None and stop())):
                    interrupted = True
                    controller.end()
                t = clock.next_tick()
                for cs in command_sources:
                    for text in cs.poll(t, controller.command):
                        record.event(t, text)
                r = engine.step(t)
                values = extra(r) if extra is not None else {}
                record.tick(r, values)
                for src in marker_sources:
                    chunk = src.pull(t)
                    for ts, label in zip(chunk.timestamps, chunk.labels, strict=True):
                        record.event(float(ts), f"marker: {label}")
                for src in sources:
                    for text in getattr(src, "drain_events", list)():
                        record.event(t, text)
                if outlets is not None:
                    outlets.publish(r, lsl_time=start + t)
                t_arr[i], est_a[i] = r.t, r.estimate.arousal
                tgt = r.decision.target_arousal
                tgt_a[i] = np.nan if tgt is None else tgt
                for c in extra_columns:
                    extras[c][i] = values.get(c, np.nan)
                done = i + 1
                if progress is not None and i % every == 0:
                    progress(i / n_ticks)
                if controller.ending:
                    silent_ticks = silent_ticks + 1 if r.decision.params.fade <= 0.0 else 0
                    if silent_ticks >= silent_ticks_needed:
                        break
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once, keep what is recorded
        interrupted = True
    finally:
        for cs in command_sources:
            cs.close()
        end_t = float(t_arr[done - 1]) + cfg.tick_s if done else 0.0
        record.event(end_t, "session interrupted" if interrupted else "session end")
        for live in live_outs:
            try:
                live.close()
            except Exception as e:  # never lose the record over a device
                record.event(end_t, f"warning: live output did not close cleanly: {e}")
        try:
            stats = renderer.close()  # a death reported at close still reaches the record
        finally:
            record.close(status="interrupted" if interrupted else "ended")
    note_log.write(private_file(folder / "session.mid"), engine.composer.beats)
    if progress is not None and not interrupted:
        progress(1.0)
    files = {
        "store": str(record.store.path),
        "config": str(folder / "config.toml"),
        "midi": str(folder / "session.mid"),
    }
    if cfg.render_audio:
        files["audio"] = str(folder / "session.wav")

    return RunOutcome(
        folder=folder,
        n_ticks=done,
        t=t_arr[:done],
        arousal=est_a[:done],
        target_arousal=tgt_a[:done],
        extras={c: v[:done] for c, v in extras.items()},
        wall_s=time.perf_counter() - wall0,
        render_speed_x=(stats.duration_s / stats.wall_s) if cfg.render_audio else None,
        n_notes=len(note_log.notes),
        files=files,
        interrupted=interrupted,
    )
