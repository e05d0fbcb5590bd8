"""Run one session: the loop shared by simulation, replay and live sessions.

Creates the private session folder, keeps the config used, builds the engine around
the given sources, ticks it on the given clock, records every tick, beat and event
(marker streams and source transitions included), renders or plays the music, and
closes everything even when interrupted, so nothing recorded is lost.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Protocol

import numpy as np

from attune.engine.clocks import Clock, VirtualClock
from attune.engine.eeg import EEG_FEATURES
from attune.engine.hrv import HRV_FEATURES
from attune.engine.loop import STAGE_OF_KIND, TickResult
from attune.sensors.types import LiveSource, Source
from attune.sessions.build import build_engine, make_renderer, open_live_outputs
from attune.sessions.carryover import CarryOver, describe_learned, learned_record
from attune.sessions.config import SessionConfig, dump_config
from attune.sessions.feelings import FeelingDesk
from attune.sessions.home import encryption_on, ensure_home, sessions_dir
from attune.sessions.raw_signals import SignalTee, tee_sources
from attune.sessions.record import SessionRecord, new_session_dir, private_file, private_open
from attune.sessions.sealed import seal_folder
from attune.sessions.selfreport import intake_report
from attune.sessions.selfreport import row as selfreport_row
from attune.sessions.store import StoreError
from attune.sessions.therapist import CommandSource, TherapistChannel
from attune.synthesis.midi import MidiRecorder
from attune.synthesis.params import MusicParams

if TYPE_CHECKING:
    from attune.engine.loop import Engine
    from attune.sessions.state_outlets import StateOutlets
    from attune.synthesis.synth import RenderStats

#: The synth's control ramp, seconds: a fade reaching 0 is silent this much later.
SYNTH_RAMP_S = 1.0
#: Free space below which a session stops (bytes): before its audio or record is lost.
MIN_FREE_BYTES = 64 * 2**20


def disk_free(folder: Path) -> int:
    """Free bytes on the file system holding ``folder``."""
    return shutil.disk_usage(folder).free


def check_disk(folder: Path) -> None:
    """Raise :class:`StoreError` (one line) when the session's disk is almost full.

    The audio renderer cannot report a full disk (its writes just stop) and the store
    loses its last second, so the session is stopped while there is still room to close
    both cleanly.
    """
    free = disk_free(folder)
    if free < MIN_FREE_BYTES:
        raise StoreError(
            f"{folder}: disk full ({free / 2**20:.0f} MB free, fewer than "
            f"{MIN_FREE_BYTES / 2**20:.0f} MB): the session was stopped; its record is intact"
        )


@contextmanager
def graceful_signals() -> Iterator[Callable[[], bool]]:
    """Turn the first SIGINT or SIGTERM into a request to end gracefully.

    Yields a callable that returns True once a signal arrived. A second SIGINT raises
    :class:`KeyboardInterrupt` as usual. Outside the main thread (where Python cannot
    install handlers) nothing is installed and the callable stays False.
    """
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum: int, frame: FrameType | None) -> None:
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


#: Called as ``f(t, params)`` after each tick (the simulated listener hears the music).
TickListener = Callable[[float, MusicParams], None]


class SessionObserver(Protocol):
    """Something that watches a session as it runs (the therapist's web console).

    Called from the ticking thread; an observer must return quickly and never block a
    tick. An exception from an observer is recorded once as a warning and the observer
    is dropped: watching never ends a session.
    """

    def started(self, run: SessionRun, engine: Engine) -> None:
        """Note that the session is built (store and channel open); the clock starts next."""
        ...

    def tick(self, r: TickResult, row: dict[str, object], events: list[str]) -> None:
        """One tick: its result, its recorded row (column -> value) and its event texts."""
        ...

    def ended(self, status: str) -> None:
        """Note that the session ended with ``status`` (ended, interrupted, failed)."""
        ...


@dataclass(frozen=True)
class RunSpec:
    """What one session run reads, for how long, and who else takes part.

    Attributes
    ----------
    mode : str
        ``"simulate"``, ``"replay"`` or ``"live"`` (recorded in the first event).
    sources : sequence of Source
        Signal sources; ``kind == "markers"`` sources are recorded as events, the
        others feed the engine. A :class:`~attune.sensors.types.LiveSource` (a live
        LSL inlet) is told the clock's start, so its timestamps are session seconds, and
        its events (stale, reconnected) are recorded after every tick; its owner closes
        it.
    clock : Clock
        :class:`attune.engine.clocks.VirtualClock` (as fast as the CPU allows) or
        :class:`attune.engine.clocks.LiveClock` (real time: the session also plays to
        the configured sound card and MIDI port). Begun after all set-up.
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
        Publishes every tick over LSL (stamped ``clock start + t``).
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
        (:class:`attune.sessions.therapist.TherapistChannel`) is added. Commands are
        queued on the controller and take effect at that tick; the controller records
        them as events, rejected ones are recorded too.
    observers : sequence of SessionObserver
        Watch the session (e.g. :class:`attune.sessions.console.live.LiveConsole`).
    carry : CarryOver, optional
        What a previous visit learned (:func:`attune.sessions.carryover.load_carry_over`):
        seeds the response learner and is recorded as the ``carry-over from ...``
        event. Whatever this session learns is kept in its store's ``learned`` table.
    """

    mode: str
    sources: Sequence[Source]
    clock: Clock
    n_ticks: int
    listeners: Sequence[TickListener] = ()
    extra: Callable[[TickResult], dict[str, float]] | None = None
    extra_columns: Sequence[str] = ()
    notes: Sequence[str] = ()
    outlets: StateOutlets | None = None
    progress: Callable[[float], None] | None = None
    stop: Callable[[], bool] | None = None
    commands: Sequence[CommandSource] = ()
    observers: Sequence[SessionObserver] = ()
    carry: CarryOver | None = None


class _Trace:
    """Per-tick series the caller gets back: times, estimate, target, extra columns."""

    def __init__(self, n_ticks: int, extra_columns: Sequence[str]) -> None:
        self.t = np.full(n_ticks, np.nan)
        self.arousal = np.full(n_ticks, np.nan)
        self.target = np.full(n_ticks, np.nan)
        self.extras = {c: np.full(n_ticks, np.nan) for c in extra_columns}
        self.done = 0

    def add(self, i: int, r: TickResult, values: dict[str, float]) -> None:
        """Keep tick ``i``."""
        self.t[i], self.arousal[i] = r.t, r.estimate.arousal
        tgt = r.decision.target_arousal
        self.target[i] = np.nan if tgt is None else tgt
        for c, series in self.extras.items():
            series[i] = values.get(c, np.nan)
        self.done = i + 1


class SessionRun:
    """One session run, in steps.

    Open the store, open the outputs, build the engine, start the sources, tick, end
    (fade to silence), close, and report the outcome. Use :meth:`run` (or
    :func:`run_session`); the steps are methods so each can be read on its own.

    Parameters
    ----------
    cfg : SessionConfig
        The session.
    spec : RunSpec
        Its sources, clock, length and participants.
    """

    def __init__(self, cfg: SessionConfig, spec: RunSpec) -> None:
        self.cfg = cfg
        self.spec = spec
        self.markers = [s for s in spec.sources if s.info.kind == "markers"]
        self.signals = [s for s in spec.sources if s.info.kind != "markers"]
        self.live = [s for s in spec.sources if isinstance(s, LiveSource)]
        self.interrupted = False
        self.failure: str | None = None  # why the run stopped on an error, if it did
        self.live_outs: list = []
        self.commands: list[CommandSource] = list(spec.commands)
        self.trace = _Trace(spec.n_ticks, spec.extra_columns)
        self.tees: list[SignalTee] = []
        self.command_t = 0.0  # the tick whose commands are being submitted, s
        self.observers: list[SessionObserver] = list(spec.observers)
        self.channel: TherapistChannel | None = None
        self.engine: Engine | None = None

    def run(self) -> RunOutcome:
        """Run the session to its end (or an interruption) and return what it produced."""
        wall0 = time.perf_counter()
        self.open_store()
        self.open_outputs()
        try:
            engine = self.build()
            self.notify("started", self, engine)
            start = self.start_sources()
            try:
                self.tick_loop(engine, start)
            except KeyboardInterrupt:  # a second Ctrl-C: stop at once, keep what is recorded
                self.interrupted = True
        except KeyboardInterrupt:  # Ctrl-C while setting up: closed, then raised
            self.interrupted = True
            raise
        except BaseException as e:  # recorded as a failed session, then raised as it was
            self.failure = f"{type(e).__name__}: {e}"
            raise
        finally:
            stats = self.close()
        return self.outcome(engine, stats, time.perf_counter() - wall0)

    # -- steps ----------------------------------------------------------------------
    def open_store(self) -> None:
        """Create the private session folder, keep the config, open the record."""
        cfg, spec = self.cfg, self.spec
        out_dir = cfg.output_dir
        if out_dir is None:
            ensure_home()  # an encrypted home refuses a session without the key
            out_dir = sessions_dir()
        seed = cfg.seed if spec.mode == "simulate" else None  # a recording has no seed
        self.folder = new_session_dir(out_dir, cfg.name, cfg.participant, seed=seed)
        config_toml = dump_config(cfg, in_record=True)
        if not encryption_on():  # encrypted: the config is kept only inside the store
            with private_open(self.folder / "config.toml") as f:
                f.write(config_toml)
        for s in self.signals:
            if s.info.kind not in STAGE_OF_KIND:
                raise ValueError(f"stream {s.info.name!r}: kind {s.info.kind!r} has no stage")
        self.record = SessionRecord(
            self.folder,
            feature_names=FEATURES,
            extra_columns=list(spec.extra_columns),
            meta={
                "name": cfg.name,
                "participant": cfg.participant,
                "mode": spec.mode,
                "seed": cfg.seed,
                "tick_s": cfg.tick_s,
                "config_toml": config_toml,
            },
        )
        self.record.event(0.0, f"session start: {spec.mode} seed={cfg.seed}")
        for text in spec.notes:
            self.record.event(0.0, text)
        intake = intake_report(cfg)
        if intake is not None:
            self.record.store.selfreport(selfreport_row(intake))
        # the raw signals the engine steers on, kept in the store (exact replay)
        if cfg.session.keep_signals:
            store = self.record.store
            self.tees = tee_sources(self.signals, store, record_paths=cfg.record_paths)

    def open_outputs(self) -> None:
        """Start the WAV renderer (its own process) and, in real time, the live outputs."""
        cfg, record = self.cfg, self.record
        self.note_log = MidiRecorder(palette=self.cfg.audio.palette)
        # The synth runs in its own process; the supervisor restarts it (with a fade-in)
        # if it dies, and reports that into the record.
        wav = self.folder / "session.wav"
        self.renderer = make_renderer(
            cfg, private_file(wav) if cfg.render_audio else wav, on_event=record.event
        )
        # Real-time sessions also play to the configured sound card and MIDI port.
        try:
            self.live_outs = (
                []
                if isinstance(self.spec.clock, VirtualClock)
                else open_live_outputs(cfg, on_event=record.event)
            )
        except Exception as e:
            record.event(0.0, f"session failed: {e}")
            record.close(status="failed")
            raise
        self.renderer.start()

    def build(self) -> Engine:
        """Assemble the engine and the therapist command sources."""
        cfg = self.cfg
        engine = build_engine(
            cfg,
            sources=self.tees or self.signals,
            synths=[self.renderer, self.note_log, *self.live_outs],
            listeners=self.spec.listeners,
            carry=self.spec.carry,
        )
        self.engine = engine
        if self.spec.carry is not None:
            self.record.event(0.0, self.spec.carry.describe())
        if cfg.control.command_channel:
            channel = TherapistChannel(self.folder)
            self.channel = channel
            self.commands.append(channel)
            self.record.event(0.0, f"therapist channel: 127.0.0.1:{channel.port} (attune control)")
        ct = engine.controller
        self.desk = FeelingDesk(
            ct.command, ct.self_report, keep_text=cfg.session.store_feeling_text
        )
        return engine

    def start_sources(self) -> float:
        """Begin the clock and tell the live sources its start; return the start."""
        start = self.spec.clock.begin()
        for src in self.live:
            src.session_t0 = start
        return start

    def tick_loop(self, engine: Engine, start: float) -> None:
        """Tick until the session's length, or until a graceful end has gone silent."""
        spec, cfg, record = self.spec, self.cfg, self.record
        controller = engine.controller
        every = max(1, int(round(1.0 / cfg.tick_s)))
        # After a graceful end the music is silent once the fade reaches 0 and the synth's
        # 1 s control ramp has run out.
        silent_needed = int(np.ceil(SYNTH_RAMP_S / cfg.tick_s))
        silent = 0
        with graceful_signals() as signalled:
            for i in range(spec.n_ticks):
                ending_now = False
                if not controller.ending and (
                    signalled() or (spec.stop is not None and spec.stop())
                ):
                    self.interrupted = ending_now = True
                    controller.end()
                t = spec.clock.next_tick()
                if ending_now:
                    record.store.command(t, "end")
                self.command_t = t
                events: list[str] = []
                for cs in self.commands:
                    for text in cs.poll(t, self.submit):
                        record.event(t, text)
                        events.append(text)
                for text in self.desk.take_events():
                    record.event(t, text)
                    events.append(text)
                r = engine.step(t)
                values = spec.extra(r) if spec.extra is not None else {}
                row = record.tick(r, values)
                for tee in self.tees:
                    tee.flush_due()
                for note in controller.protocol.take_notes():
                    record.store.annotation(t, note, author="therapist")
                events += self.record_sources(t)
                if self.observers:
                    events += [*r.decision.events, *r.events]
                    self.notify("tick", r, dict(zip(record.columns, row, strict=True)), events)
                if spec.outlets is not None:
                    spec.outlets.publish(r, lsl_time=start + t)
                self.trace.add(i, r, values)
                if spec.progress is not None and i % every == 0:
                    spec.progress(i / spec.n_ticks)
                if i % (4 * every) == 0:  # every 4 s of session time
                    check_disk(self.folder)
                if controller.ending:
                    silent = silent + 1 if r.decision.params.fade <= 0.0 else 0
                    if silent >= silent_needed:
                        break

    def submit(self, line: str) -> object:
        """Hand a therapist command on (feelings to the desk, the rest to the controller).

        An accepted command is kept in the store's ``commands`` table at this tick, for
        an exact replay; a rejected one raises and is not kept.
        """
        reply = self.desk.submit(line)
        self.record.store.command(self.command_t, line.strip())
        return reply

    def record_sources(self, t: float) -> list[str]:
        """Record the markers pulled up to ``t`` and the sources' own events; return them."""
        out: list[str] = []
        for src in self.markers:
            chunk = src.pull(t)
            for ts, label in zip(chunk.timestamps, chunk.labels, strict=True):
                self.record.event(float(ts), f"marker: {label}")
                out.append(f"marker: {label}")
        for src in self.live:
            for text in src.drain_events():
                self.record.event(t, text)
                out.append(text)
        return out

    def notify(self, what: str, *args: object) -> None:
        """Call ``what`` on every observer; one that raises is recorded and dropped."""
        for ob in list(self.observers):
            try:
                getattr(ob, what)(*args)
            except Exception as e:  # watching never ends a session
                self.observers.remove(ob)
                t = float(self.trace.t[self.trace.done - 1]) if self.trace.done else 0.0
                self.record.event(t, f"warning: {type(ob).__name__} stopped: {e}"[:300])

    def close(self) -> RenderStats | None:
        """Close commands, live outputs, the renderer and the record, in that order.

        Returns the renderer's statistics; the record is closed even if the renderer
        fails, so nothing recorded is lost. Its status is ``ended``, ``interrupted``, or
        ``failed`` (with a ``session failed: ...`` event) when an error stopped the run.
        """
        record, done = self.record, self.trace.done
        for cs in self.commands:
            cs.close()
        end_t = float(self.trace.t[done - 1]) + self.cfg.tick_s if done else 0.0
        if self.failure is not None:
            status, text = "failed", f"session failed: {self.failure}"
        elif self.interrupted:
            status, text = "interrupted", "session interrupted"
        else:
            status, text = "ended", "session end"
        learned = (
            None
            if self.engine is None
            else learned_record(self.engine.controller, self.cfg.audio.palette)
        )
        if learned is not None:
            record.store.save_learned(learned)
            record.event(end_t, "learned: " + describe_learned(learned))
        record.event(end_t, text)
        for live in self.live_outs:
            try:
                live.close()
            except Exception as e:  # never lose the record over a device
                record.event(end_t, f"warning: live output did not close cleanly: {e}")
        try:
            return self.renderer.close()  # a death reported at close still reaches the record
        finally:
            for tee in self.tees:
                tee.flush()
            record.close(status=status)
            for ob in self.observers:
                try:
                    ob.ended(status)
                except Exception:  # the record is closed; nothing left to tell
                    pass
            if self.failure is not None:  # no outcome step: seal what was written now
                try:
                    seal_folder(self.folder)
                except Exception:  # never mask the failure itself
                    pass

    def outcome(self, engine: Engine, stats: RenderStats | None, wall_s: float) -> RunOutcome:
        """Write the MIDI file and return the :class:`RunOutcome`."""
        cfg, folder, done = self.cfg, self.folder, self.trace.done
        self.note_log.write(private_file(folder / "session.mid"), engine.composer.beats)
        if self.spec.progress is not None and not self.interrupted:
            self.spec.progress(1.0)
        files = {
            "store": str(self.record.store.path),
            "config": str(folder / "config.toml"),
            "midi": str(folder / "session.mid"),
        }
        if cfg.render_audio:
            files["audio"] = str(folder / "session.wav")
            if self.spec.mode == "live" and (folder / "session.wav").exists():
                from attune.sessions.audio_files import to_flac

                files["audio"] = str(to_flac(folder / "session.wav"))  # lossless, ~half
        if seal_folder(folder):  # encrypted: moved into the store
            files = {
                k: v if k == "store" else f"{v} (sealed in the store)" for k, v in files.items()
            }
            files["config"] = "kept in the store only (encrypted)"
        speed = stats.duration_s / stats.wall_s if cfg.render_audio and stats is not None else None
        return RunOutcome(
            folder=folder,
            n_ticks=done,
            t=self.trace.t[:done],
            arousal=self.trace.arousal[:done],
            target_arousal=self.trace.target[:done],
            extras={c: v[:done] for c, v in self.trace.extras.items()},
            wall_s=wall_s,
            render_speed_x=speed,
            n_notes=len(self.note_log.notes),
            files=files,
            interrupted=self.interrupted,
        )


def run_session(
    cfg: SessionConfig,
    *,
    mode: str,
    sources: Sequence[Source],
    clock: Clock,
    n_ticks: int,
    listeners: Sequence[TickListener] = (),
    extra: Callable[[TickResult], dict[str, float]] | None = None,
    extra_columns: Sequence[str] = (),
    notes: Sequence[str] = (),
    outlets: StateOutlets | None = None,
    progress: Callable[[float], None] | None = None,
    stop: Callable[[], bool] | None = None,
    commands: Sequence[CommandSource] = (),
    observers: Sequence[SessionObserver] = (),
    carry: CarryOver | None = None,
) -> RunOutcome:
    """Run ``n_ticks`` ticks of the closed loop and write the session folder.

    A shorthand for ``SessionRun(cfg, RunSpec(...)).run()``; the keywords are the fields
    of :class:`RunSpec`, documented there.
    """
    spec = RunSpec(
        mode=mode,
        sources=sources,
        clock=clock,
        n_ticks=n_ticks,
        listeners=listeners,
        extra=extra,
        extra_columns=extra_columns,
        notes=notes,
        outlets=outlets,
        progress=progress,
        stop=stop,
        commands=commands,
        observers=observers,
        carry=carry,
    )
    return SessionRun(cfg, spec).run()
