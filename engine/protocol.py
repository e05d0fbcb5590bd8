"""The session protocol: phases, the protocol clock, the target trajectory, therapist commands.

Everything here is *when* and *where to*: which phase the session is in, where the
listener should be now (the iso-principle target), and what the therapist asked for.
What the music does about it is decided by :mod:`attune.engine.control_law` and
shaped by :mod:`attune.engine.envelope`; :class:`attune.engine.controller.Controller`
composes the three.

Protocol clock
    ``tau = t - offset``: pausing freezes ``tau`` (``offset`` grows by one tick per
    paused tick), skipping a phase moves ``tau`` to the end of the current phase.
    Phases are looked up at ``tau``.

Target (iso principle, docs/science/protocol.md)
    * baseline: none (silence);
    * match: the measured state, ``a*(t) = a_hat(t)``, ``v*(t) = v_hat(t)``;
    * transition: from the state measured at the end of matching ``(a_0, v_0)`` to the
      goal ``(a_g, v_g)`` over the phase, ``a*(tau) = a_0 + (a_g - a_0) s(x)`` with
      ``x = (tau - tau_start) / (tau_end - tau_start)`` and ``s(x) = x`` (linear) or
      ``s(x) = (1 - cos(pi x)) / 2`` (cosine); monotonic toward the goal;
    * maintain and recovery: the goal. A goal changed by the therapist is reached by the
      same kind of ramp from the present target, over the rest of the transition or
      at least ``goal_ramp_s``.

Therapist commands (:func:`parse_command`, :meth:`SessionProtocol.apply_command`)
    Commands are validated when they arrive, queued, and applied at the start of the
    next tick (:meth:`SessionProtocol.begin_tick`), each recorded as an event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from attune.synthesis.params import BOUNDS, PARAM_NAMES, clip

Phase = Literal["baseline", "match", "transition", "maintain", "recovery", "done"]
PHASES: tuple[str, ...] = ("baseline", "match", "transition", "maintain", "recovery")
#: Phases in which the music plays and the law (or matching) runs.
PLAYING: tuple[str, ...] = ("match", "transition", "maintain")
#: Therapist commands understood by :func:`parse_command`.
COMMANDS: tuple[str, ...] = (
    "pin",
    "unpin",
    "goal",
    "pause",
    "resume",
    "skip",
    "estop",
    "end",
    "sam",
    "feeling",
    "annotate",
    "ack",
)
#: When a self-report was given: before the session (intake), during it, after it.
REPORT_KINDS: tuple[str, ...] = ("pre", "during", "post")
#: Longest described feeling accepted, characters.
MAX_FEELING_CHARS = 500
#: Longest ``annotate`` text, characters.
MAX_NOTE_CHARS = 2000
#: An alarm code: lowercase words joined by hyphens (``stale-sensor``).
_ALARM_CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

#: A parsed command: the verb and its arguments.
Command = tuple[str, tuple]


@dataclass(frozen=True)
class SelfReport:
    """The listener's own rating (Self-Assessment Manikin, 9-point; Bradley & Lang 1994).

    Attributes
    ----------
    t_s : float
        Session time it was given, seconds.
    kind : {"pre", "during", "post"}
        Before (intake), during or after the session.
    arousal, valence : float
        SAM ratings, 1 (calm / unpleasant) to 9 (excited / pleasant).
    source : str
        Where it came from (``intake``, ``cli``, ``channel``, ``feeling``, ``simulated``).
    text : str or None
        The described feeling it was scored from, when the client consented to keep it.
    """

    t_s: float
    kind: str
    arousal: float
    valence: float
    source: str = "channel"
    text: str | None = None


class PhasePlan:
    """Protocol phases laid end to end from ``t0``.

    Parameters
    ----------
    durations_s : sequence of (phase, seconds)
        Phases in order; zero-length phases are skipped.
    t0 : float
        Session start, seconds.
    """

    def __init__(self, durations_s: Sequence[tuple[str, float]], *, t0: float = 0.0) -> None:
        self.spans: list[tuple[str, float, float]] = []
        start = t0
        for name, d in durations_s:
            if name not in PHASES:
                raise ValueError(f"unknown phase {name!r}; expected one of {PHASES}")
            if d > 0:
                self.spans.append((name, start, start + d))
                start += d
        self.end_s = start

    def phase_at(self, t: float) -> tuple[str, float, float]:
        """Return ``(phase, start_s, end_s)`` of the phase containing ``t``."""
        for span in self.spans:
            if span[1] <= t < span[2]:
                return span
        return ("done", self.end_s, self.end_s)


class CommandError(ValueError):
    """A therapist command is malformed or out of range (one-line message)."""


def parse_command(line: str) -> Command:
    """Validate one therapist command line into ``(verb, args)``.

    Grammar (whitespace separated)::

        pin NAME VALUE       NAME one of MusicParams' fields, VALUE inside BOUNDS
        unpin NAME|all
        goal AROUSAL [VALENCE]   in [-1, 1]
        pause | resume | skip | estop | end
        sam AROUSAL VALENCE [pre|during|post]   SAM ratings 1..9 (default during)
        feeling TEXT | feeling confirm | feeling cancel
        annotate TEXT        a note filed in the session's annotations (one line)
        ack CODE             acknowledge the alarm ``CODE`` (lowercase-hyphenated)

    ``end`` ends the session gracefully: the music fades out at the normal fade-out rate
    (``1 / fade_out_s``) whatever is pinned, and the session runner stops once it is
    silent (Ctrl-C, SIGTERM and ``attune control FOLDER end`` all use it). The session's
    own envelope checks a pin's value further
    (:meth:`attune.engine.envelope.Envelope.check_pin`).

    Raises
    ------
    CommandError
        Naming the command, the rule and the bad value.
    """
    parts = line.strip().split()
    if not parts:
        raise CommandError("empty command; expected one of " + ", ".join(COMMANDS))
    verb, rest = parts[0].lower(), parts[1:]
    if verb not in COMMANDS:
        raise CommandError(f"unknown command {verb[:40]!r}; expected one of " + ", ".join(COMMANDS))
    shown = line.strip()[:80]

    def number(text: str, what: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise CommandError(f"{verb}: {what} must be a number, got {text[:40]!r}") from None
        if not math.isfinite(x):
            raise CommandError(f"{verb}: {what} must be finite, got {text[:40]!r}")
        return x

    if verb == "pin":
        if len(rest) != 2:
            raise CommandError(f"pin: expected 'pin NAME VALUE', got {shown!r}")
        name = rest[0]
        if name not in PARAM_NAMES:
            raise CommandError(
                f"pin: NAME must be one of {', '.join(PARAM_NAMES)}, got {name[:40]!r}"
            )
        x = number(rest[1], name)
        lo, hi = BOUNDS[name]
        if not lo <= x <= hi:
            raise CommandError(f"pin: {name} must be in [{lo:g}, {hi:g}], got {x:g}")
        if name == "mode" and x != int(x):
            raise CommandError(f"pin: mode must be an integer 0..6, got {rest[1][:40]!r}")
        return verb, (name, x)
    if verb == "unpin":
        if len(rest) != 1 or (rest[0] not in PARAM_NAMES and rest[0] != "all"):
            raise CommandError(
                f"unpin: expected 'unpin NAME' with NAME one of {', '.join(PARAM_NAMES)} "
                f"or 'all', got {shown!r}"
            )
        return verb, (rest[0],)
    if verb == "goal":
        if len(rest) not in (1, 2):
            raise CommandError(f"goal: expected 'goal AROUSAL [VALENCE]', got {shown!r}")
        vals = [number(x, w) for x, w in zip(rest, ("arousal", "valence"), strict=False)]
        for x, w in zip(vals, ("arousal", "valence"), strict=False):
            if not -1.0 <= x <= 1.0:
                raise CommandError(f"goal: {w} must be in [-1, 1], got {x:g}")
        return verb, tuple(vals)
    if verb == "sam":
        if len(rest) not in (2, 3) or (len(rest) == 3 and rest[2].lower() not in REPORT_KINDS):
            raise CommandError(
                f"sam: expected 'sam AROUSAL VALENCE [pre|during|post]', got {shown!r}"
            )
        vals = [number(x, w) for x, w in zip(rest, ("arousal", "valence"), strict=False)]
        for x, w in zip(vals, ("arousal", "valence"), strict=True):
            if not 1.0 <= x <= 9.0:
                raise CommandError(f"sam: {w} must be a SAM rating in [1, 9], got {x:g}")
        kind = rest[2].lower() if len(rest) == 3 else "during"
        return verb, (vals[0], vals[1], kind)
    if verb == "feeling":
        text = line.strip()[len(parts[0]) :].strip()
        if not text:
            raise CommandError("feeling: expected 'feeling TEXT', 'feeling confirm' or 'cancel'")
        if len(text) > MAX_FEELING_CHARS:
            raise CommandError(f"feeling: at most {MAX_FEELING_CHARS} characters")
        return verb, (text,)
    if verb == "annotate":
        text = line.strip().split(None, 1)[1].strip() if rest else ""
        if not text or len(text) > MAX_NOTE_CHARS:
            raise CommandError(f"annotate: expected 'annotate TEXT' (1 to {MAX_NOTE_CHARS} chars)")
        return verb, (text,)
    if verb == "ack":
        if len(rest) != 1 or not _ALARM_CODE.fullmatch(rest[0]):
            raise CommandError(f"ack: expected 'ack CODE' (e.g. stale-sensor), got {shown!r}")
        return verb, (rest[0],)
    if rest:
        raise CommandError(f"{verb}: takes no arguments, got {' '.join(rest)[:80]!r}")
    return verb, ()


class SessionProtocol:
    """Where the session is in its protocol, where the listener should be, what was asked.

    Holds the phase plan, the protocol clock (pause, skip), the goal and its ramps, the
    therapist's pins and the stop/end flags, and the queue of validated commands.

    Parameters
    ----------
    plan : PhasePlan
        The protocol phases.
    goal : (float, float)
        Session goal (arousal, valence), each in [-1, 1].
    tick_s : float
        Tick period, seconds (a paused tick moves the protocol clock back by one).
    transition_shape : {"linear", "cosine"}
        Shape of the iso-principle trajectory.
    goal_ramp_s : float
        Shortest ramp of the target to a goal changed by the therapist, seconds.
    """

    def __init__(
        self,
        *,
        plan: PhasePlan,
        goal: tuple[float, float],
        tick_s: float,
        transition_shape: Literal["linear", "cosine"],
        goal_ramp_s: float,
    ) -> None:
        self.plan = plan
        self.goal = (float(goal[0]), float(goal[1]))
        self.tick_s = tick_s
        self.shape = transition_shape
        self.goal_ramp_s = goal_ramp_s
        self.phase = "baseline"
        self.iso_start: tuple[float, float] | None = None
        self.offset = 0.0  # protocol clock: tau = t - offset
        self.paused = False
        self.stopped = False
        self.ending = False
        self.pins: dict[str, float] = {}
        self.events: list[str] = []
        self.notes: list[str] = []  # annotate texts not yet filed by the session runner
        self.last_target: tuple[float | None, float | None] = (None, None)
        self._ramp: tuple[float, float, float, float] | None = None  # tau0, tau1, a0, v0
        self._pending: list[Command] = []
        self._applied_t: float | None = None
        self.self_reports: list[SelfReport] = []

    # ------------------------------------------------------------ clock and commands
    def protocol_time(self, t: float) -> float:
        """Protocol-clock time for session time ``t``, seconds."""
        return t - self.offset

    def phase_at(self, t: float) -> tuple[str, float, float]:
        """``(phase, start, end)`` at session time ``t`` (start and end on the protocol clock)."""
        return self.plan.phase_at(self.protocol_time(t))

    def queue(self, command: Command) -> None:
        """Queue a validated command for the next tick."""
        self._pending.append(command)

    def begin_tick(self, t: float) -> str:
        """Apply the queued commands for the tick at ``t`` and return its protocol phase.

        Idempotent for one ``t``. Returns the phase on the protocol clock after the
        commands (a skip or a pause moves it).
        """
        if self._applied_t != t:
            self._applied_t = t
            if self.paused:
                self.offset += self.tick_s
            for verb, args in self._pending:
                self.apply_command(verb, args, t)
            self._pending.clear()
        return self.phase_at(t)[0]

    def began(self, t: float) -> bool:
        """Return True once :meth:`begin_tick` ran for the tick at ``t``."""
        return self._applied_t == t

    def apply_command(self, verb: str, args: tuple, t: float) -> None:
        """Apply one validated therapist command at session time ``t``; record it as an event.

        This is where a therapist command takes effect: pins are stored (the envelope
        moves the music to them), goal changes start a ramp of the target, pause and
        skip move the protocol clock, ``estop`` and ``end`` set the flags the envelope
        fades by.
        """
        ev = self.events
        tau = self.protocol_time(t)
        if verb == "pin":
            name, value = args
            self.pins[name] = float(value)
            ev.append(f"override: pin {name}={value:g}")
        elif verb == "unpin":
            names = list(self.pins) if args[0] == "all" else [args[0]]
            for name in names:
                if self.pins.pop(name, None) is not None:
                    ev.append(f"override: unpin {name}")
        elif verb == "goal":
            a = args[0]
            v = args[1] if len(args) > 1 else self.goal[1]
            ta, tv = self.last_target
            phase, _, end = self.plan.phase_at(tau)
            if ta is not None and tv is not None and phase in ("transition", "maintain"):
                tau1 = max(end if phase == "transition" else tau, tau + self.goal_ramp_s)
                self._ramp = (tau, tau1, ta, tv)
            self.goal = (float(a), float(v))
            ev.append(f"override: goal arousal={a:.3f} valence={v:.3f}")
        elif verb == "pause":
            if not self.paused:
                self.paused = True
                ev.append("override: pause (protocol clock and control law frozen)")
        elif verb == "resume":
            if self.paused or self.stopped:
                ev.append("override: resume" + (" after emergency stop" if self.stopped else ""))
            self.paused = False
            self.stopped = False
        elif verb == "skip":
            phase, _, end = self.plan.phase_at(tau)
            if phase != "done":
                self.offset -= end - tau
                ev.append(f"override: skip phase {phase}")
        elif verb == "end":
            if not self.ending:
                self.ending = True
                ev.append("session ending: fade out")
        elif verb == "annotate":
            self.notes.append(args[0])
            ev.append(f"annotation: {args[0]}")
        elif verb == "ack":
            ev.append(f"ack {args[0]}")
        elif verb == "estop":
            if not self.stopped:
                self.stopped = True
                ev.append("override: EMERGENCY STOP (fade to silence)")
        elif verb == "sam":
            a, v, kind = args[0], args[1], args[2]
            source = args[3] if len(args) > 3 else "channel"
            text = args[4] if len(args) > 4 else None
            self.self_reports.append(SelfReport(t, kind, float(a), float(v), source, text))
            ev.append(f"self-report ({kind}, {source}): SAM arousal {a:g}, valence {v:g}")
        # "feeling" is scored and confirmed by the session layer (attune.sessions.feelings),
        # which queues the confirmed rating as a "sam" command; nothing to apply here.

    # ------------------------------------------------------------ phases and target
    def enter(self, t: float, arousal: float, valence: float) -> tuple[str, float, float]:
        """Note the phase at ``t`` (events on a change; the iso start at the transition).

        Parameters
        ----------
        t : float
            Session time, seconds.
        arousal, valence : float
            The measured state at ``t`` (the iso start when the transition begins).

        Returns
        -------
        (str, float, float)
            Phase, start and end on the protocol clock.
        """
        phase, p_start, p_end = self.phase_at(t)
        if phase != self.phase:
            self.events.append(f"phase {phase}")
            if phase == "transition" or (phase in ("maintain", "recovery") and not self.iso_start):
                self.iso_start = (arousal, valence)
                if phase == "transition":
                    self._ramp = (p_start, p_end, arousal, valence)
                self.events.append(f"iso start arousal={arousal:.3f} valence={valence:.3f}")
            self.phase = phase
        return phase, p_start, p_end

    def _shape(self, x: float) -> float:
        x = clip(x, 0.0, 1.0)
        return x if self.shape == "linear" else 0.5 - 0.5 * float(np.cos(np.pi * x))

    def target(self, t: float, arousal: float, valence: float) -> tuple[float | None, float | None]:
        """Target (arousal, valence) for session time ``t`` under the iso principle.

        ``arousal`` and ``valence`` are the measured state (the target while matching).
        """
        tau = self.protocol_time(t)
        phase, _start, _end = self.plan.phase_at(tau)
        if phase == "baseline":
            out: tuple[float | None, float | None] = (None, None)
        elif phase == "match":
            out = (arousal, valence)
        else:
            out = self.goal
            if self._ramp is not None:
                tau0, tau1, a0, v0 = self._ramp
                if tau < tau1:
                    s = self._shape((tau - tau0) / (tau1 - tau0)) if tau1 > tau0 else 1.0
                    out = (a0 + (self.goal[0] - a0) * s, v0 + (self.goal[1] - v0) * s)
        self.last_target = out
        return out

    def take_self_reports(self) -> tuple[SelfReport, ...]:
        """Return and clear the self-reports applied since the last call."""
        if not self.self_reports:  # nearly every tick: no allocation
            return ()
        out, self.self_reports = tuple(self.self_reports), []
        return out

    def take_notes(self) -> list[str]:
        """Return and clear the ``annotate`` texts applied since the last call."""
        notes, self.notes = self.notes, []
        return notes

    def take_events(self) -> list[str]:
        """Return and clear the events recorded since the last call."""
        ev, self.events = self.events, []
        return ev
