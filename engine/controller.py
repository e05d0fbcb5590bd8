"""The controller: target trajectory, music-parameter law, slew limits, safety envelope.

One tick: the phase plan says where in the protocol the session is; the target for
``t`` follows the iso principle (match the measured state, then move it toward the
goal); the control law chooses the arousal the music should express; the cue model
(:func:`attune.synthesis.params.params_for`) turns that into parameters, which are then
rate-limited and clipped to the session's safety envelope. Therapist overrides are
applied last and always win (inside the absolute :data:`attune.synthesis.params.BOUNDS`).

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

Control law (transition and maintain, confident data; [E])
    With the arousal error ``e = a_hat - a*`` (positive: the listener is above target)::

        I   <- clip(I + k_i e dt, -I_max, I_max)      (frozen while holding, paused,
                                                        or when m saturates further)
        f    = k_ff (a_0 - a*)                         (feedforward: the farther the
                                                        target from where the listener
                                                        was, a_0, the harder the music
                                                        must lead to hold them there
                                                        against their return to rest)
        u    = clip(k_p e + I + f, -L_max, L_max)      (bounded lead)
        m_a  = clip(a* - u, -1, 1)                     (the music leads: listener above
                                                        target -> music below it)
        m_v  = v*                                      (valence is open loop: its
                                                        estimate is too weak to steer on)
        p_want = params_for(m_a, m_v) clipped to the envelope bounds

    During matching ``m = (a_hat, v_hat)``: the music mirrors the measured state.

Output stage (every tick, every phase)
    ``p_k = clip_bounds(p_{k-1} + clip(p_want - p_{k-1}, -r_down dt, r_up dt))`` per
    parameter (tempo BPM/s, loudness dB/s, ...; the fade rises at ``1 / fade_in_s`` and
    falls at ``1 / fade_out_s``); ``mode`` moves by one step at most once per phrase
    (``BEATS_PER_PHRASE * 60 / tempo_bpm`` seconds) and the composer applies it at its
    next phrase boundary, so harmony changes only there.

Holds and fallback
    Arousal confidence below ``min_confidence`` holds the parameters where they are
    (``p_want = p_{k-1}``, integral frozen). After ``hold_timeout_s`` without
    trustworthy data ``p_want`` becomes the neutral calm preset
    ``params_for(neutral_arousal, neutral_valence)``, still slew-limited. When
    confidence returns, the law resumes from the present parameters, so no parameter
    jumps beyond its slew limit.

Therapist overrides (:meth:`Controller.pin`, :meth:`Controller.set_goal`, ...)
    Commands are queued and applied at the start of the next tick, each recorded as an
    event. A pinned parameter takes its value at once (inside :data:`BOUNDS`; the
    loudness may still rise no faster than the startle limit
    ``override_loudness_rise_db_per_s``) and keeps it in every phase until unpinned;
    on unpinning it returns to the law at the slew limits. The emergency stop takes the
    fade to 0 at ``1 / estop_fade_s`` (bypassing the normal fade slew; the synth's 1 s
    fade ramp comes on top, < 2 s to silence) and wins over everything, pins included,
    until :meth:`Controller.resume`. :meth:`Controller.end` (Ctrl-C, SIGTERM,
    ``attune control FOLDER end``) fades out at the normal rate, pins included, and the
    session runner stops once the music is silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from attune.engine.affect import AffectEstimate
from attune.synthesis.composer import BEATS_PER_PHRASE
from attune.synthesis.params import (
    BOUNDS,
    PARAM_NAMES,
    MusicParams,
    clip,
    make_params,
    music_arousal,
    params_for,
)

Phase = Literal["baseline", "match", "transition", "maintain", "recovery", "done"]
PHASES: tuple[str, ...] = ("baseline", "match", "transition", "maintain", "recovery")
#: Phases in which the music plays and the law (or matching) runs.
PLAYING: tuple[str, ...] = ("match", "transition", "maintain")
#: Therapist commands understood by :meth:`Controller.command`.
COMMANDS: tuple[str, ...] = ("pin", "unpin", "goal", "pause", "resume", "skip", "estop", "end")


def phrase_s(tempo_bpm: float) -> float:
    """Length of one composer phrase at ``tempo_bpm``, seconds."""
    return BEATS_PER_PHRASE * 60.0 / float(tempo_bpm)


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


@dataclass(frozen=True)
class Envelope:
    """Safety envelope: hard bounds and per-second slew limits of every parameter.

    Attributes
    ----------
    bounds : dict of str to (lo, hi)
        Bounds per parameter name (inside :data:`attune.synthesis.params.BOUNDS`).
    slew_per_s : dict of str to float
        Largest change per second per parameter (tempo in BPM/s, loudness in dB/s ...);
        ``fade`` rises at ``fade_up_per_s`` and falls at ``slew_per_s["fade"]``.
    fade_up_per_s : float
        Fade-in rate, 1/s.
    """

    bounds: dict[str, tuple[float, float]]
    slew_per_s: dict[str, float]
    fade_up_per_s: float

    def limit(self, prev: MusicParams, want: MusicParams, dt: float) -> MusicParams:
        """Move from ``prev`` toward ``want`` within the slew limits, then clip to bounds."""
        # One pass per tick: slew step, then the bounds (as ``MusicParams.clipped``).
        b, slew = self.bounds, self.slew_per_s
        pd, wd = prev.__dict__, want.__dict__
        out = {}
        for name in PARAM_NAMES:
            p, w = float(pd[name]), float(wd[name])
            lo, hi = b.get(name) or BOUNDS[name]
            if name == "mode":
                v = float(int(p + clip(w - p, -1, 1)))  # stepping is paced by the caller
                out[name] = int(round(lo if v < lo else hi if v > hi else v))
                continue
            up = self.fade_up_per_s if name == "fade" else slew[name]
            down = slew[name]
            v = p + clip(w - p, -down * dt, up * dt)
            out[name] = lo if v < lo else hi if v > hi else v
        return make_params(out)

    def violations(
        self,
        prev: MusicParams | None,
        new: MusicParams,
        dt: float,
        *,
        exempt: Sequence[str] = (),
        tol: float = 1e-9,
    ) -> list[str]:
        """Every bound and slew limit that the step ``prev -> new`` breaks.

        Parameters
        ----------
        prev : MusicParams or None
            Parameters of the previous tick (None: check bounds only).
        new : MusicParams
            Parameters of this tick.
        dt : float
            Tick length, seconds.
        exempt : sequence of str
            Parameters under a therapist override this tick or the last: checked against
            the absolute :data:`attune.synthesis.params.BOUNDS` only.
        tol : float
            Numerical tolerance.

        Returns
        -------
        list of str
            One line per violation (empty when the step is inside the envelope).
        """
        out = []
        for name in PARAM_NAMES:
            v = float(getattr(new, name))
            lo, hi = BOUNDS[name] if name in exempt else self.bounds[name]
            if not lo - tol <= v <= hi + tol:
                out.append(f"{name}={v:g} outside [{lo:g}, {hi:g}]")
            if prev is None or name in exempt:
                continue
            step = v - float(getattr(prev, name))
            if name == "mode":
                if abs(step) > 1:
                    out.append(f"mode stepped by {step:g}")
                continue
            up = (self.fade_up_per_s if name == "fade" else self.slew_per_s[name]) * dt
            down = self.slew_per_s[name] * dt
            if not -down - tol <= step <= up + tol:
                out.append(f"{name} changed by {step:+g} in {dt:g} s (limit -{down:g}/+{up:g})")
        return out


@dataclass(frozen=True)
class Decision:
    """What the controller decided at one tick.

    Attributes
    ----------
    params : MusicParams
        The parameters to play (slew-limited, inside the envelope; overridden
        parameters inside :data:`attune.synthesis.params.BOUNDS`).
    phase : str
        Protocol phase at the tick.
    target_arousal, target_valence : float or None
        Where the listener should be now (None during baseline).
    music_arousal : float
        Arousal the played parameters express (cue model), [-1, 1].
    hold : bool
        True when low confidence kept the parameters where they were (or, after the
        hold timeout, drifting to the neutral preset).
    events : tuple of str
        Things worth a line in the session record (phase changes, holds, fallbacks,
        mode steps, therapist commands).
    overridden : tuple of str
        Parameters a therapist override set this tick (pins; ``fade`` during an
        emergency stop).
    paused : bool
        True while the therapist has paused the protocol.
    stopped : bool
        True after an emergency stop (until resumed).
    fallback : bool
        True while drifting to the neutral preset for lack of trustworthy data.
    """

    params: MusicParams
    phase: str
    target_arousal: float | None
    target_valence: float | None
    music_arousal: float
    hold: bool
    events: tuple[str, ...] = field(default=())
    overridden: tuple[str, ...] = field(default=())
    paused: bool = False
    stopped: bool = False
    fallback: bool = False


class CommandError(ValueError):
    """A therapist command is malformed or out of range (one-line message)."""


def parse_command(line: str) -> tuple[str, tuple]:
    """Validate one therapist command line into ``(verb, args)``.

    Grammar (whitespace separated)::

        pin NAME VALUE       NAME one of MusicParams' fields, VALUE inside BOUNDS
        unpin NAME|all
        goal AROUSAL [VALENCE]   in [-1, 1]
        pause | resume | skip | estop | end

    ``end`` ends the session gracefully: the music fades out at the normal fade-out rate
    (``1 / fade_out_s``) whatever is pinned, and the session runner stops once it is
    silent (Ctrl-C, SIGTERM and ``attune control FOLDER end`` all use it).

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
        raise CommandError(f"unknown command {verb!r}; expected one of " + ", ".join(COMMANDS))

    def number(text: str, what: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise CommandError(f"{verb}: {what} must be a number, got {text!r}") from None
        if not np.isfinite(x):
            raise CommandError(f"{verb}: {what} must be finite, got {text!r}")
        return x

    if verb == "pin":
        if len(rest) != 2:
            raise CommandError(f"pin: expected 'pin NAME VALUE', got {line.strip()!r}")
        name = rest[0]
        if name not in PARAM_NAMES:
            raise CommandError(f"pin: NAME must be one of {', '.join(PARAM_NAMES)}, got {name!r}")
        x = number(rest[1], name)
        lo, hi = BOUNDS[name]
        if not lo <= x <= hi:
            raise CommandError(f"pin: {name} must be in [{lo:g}, {hi:g}], got {x:g}")
        if name == "mode" and x != int(x):
            raise CommandError(f"pin: mode must be an integer 0..6, got {rest[1]!r}")
        return verb, (name, x)
    if verb == "unpin":
        if len(rest) != 1 or (rest[0] not in PARAM_NAMES and rest[0] != "all"):
            raise CommandError(
                f"unpin: expected 'unpin NAME' with NAME one of {', '.join(PARAM_NAMES)} "
                f"or 'all', got {line.strip()!r}"
            )
        return verb, (rest[0],)
    if verb == "goal":
        if len(rest) not in (1, 2):
            raise CommandError(f"goal: expected 'goal AROUSAL [VALENCE]', got {line.strip()!r}")
        vals = tuple(number(x, w) for x, w in zip(rest, ("arousal", "valence"), strict=False))
        for x, w in zip(vals, ("arousal", "valence"), strict=False):
            if not -1.0 <= x <= 1.0:
                raise CommandError(f"goal: {w} must be in [-1, 1], got {x:g}")
        return verb, vals
    if rest:
        raise CommandError(f"{verb}: takes no arguments, got {' '.join(rest)!r}")
    return verb, ()


class Controller:
    """Closed-loop controller from affect estimate to music parameters.

    See the module docstring for the target, the control law, the output stage, holds
    and overrides.

    Parameters
    ----------
    plan : PhasePlan
        The protocol.
    envelope : Envelope
        Safety bounds and slew limits.
    goal_arousal, goal_valence : float
        The session goal in [-1, 1].
    start : MusicParams
        Parameters the music starts from (usually matching the intake state), fade 0.
    tick_s : float
        Control tick in seconds.
    enabled : bool
        False freezes the music at ``start`` (fades still follow the protocol;
        therapist overrides still apply).
    lead_gain : float
        Proportional gain ``k_p`` on the arousal error.
    integral_per_s : float
        Integral gain ``k_i`` on the arousal error, 1/s.
    integral_max : float
        Clamp ``I_max`` of the integral term, arousal units.
    max_lead : float
        Bound ``L_max`` of the lead ``|m_a - a*|``, arousal units.
    feedforward : float
        Feedforward gain ``k_ff`` on the distance of the target from the state measured
        at the end of matching (about 1 / the listener's music gain).
    min_confidence : float
        Below this arousal confidence the controller holds.
    hold_timeout_s : float
        After holding this long, drift toward the neutral preset.
    neutral : tuple of float
        (arousal, valence) of the neutral calm preset.
    transition_shape : {"linear", "cosine"}
        Shape of the iso-principle trajectory.
    goal_ramp_s : float
        Shortest ramp of the target to a goal changed by the therapist, seconds.
    recovery_silence_s : float
        Silence at the end of the recovery phase, seconds (the music tapers to the
        neutral preset before it, then fades out at the normal fade-out rate).
    estop_fade_s : float
        Emergency stop: fade 1 -> 0 in this many seconds.
    override_loudness_rise_db_per_s : float
        Startle limit on a pinned loudness rising, dB/s.

    Notes
    -----
    Not thread-safe: call the therapist methods from the thread that ticks (the
    session runner polls its command channel between ticks).
    """

    def __init__(
        self,
        *,
        plan: PhasePlan,
        envelope: Envelope,
        goal_arousal: float,
        goal_valence: float,
        start: MusicParams,
        tick_s: float,
        enabled: bool,
        lead_gain: float,
        integral_per_s: float,
        integral_max: float,
        max_lead: float,
        feedforward: float,
        min_confidence: float,
        hold_timeout_s: float,
        neutral: tuple[float, float],
        transition_shape: Literal["linear", "cosine"],
        goal_ramp_s: float,
        recovery_silence_s: float,
        estop_fade_s: float,
        override_loudness_rise_db_per_s: float,
    ) -> None:
        self.plan = plan
        self.envelope = envelope
        self.goal = (float(goal_arousal), float(goal_valence))
        self.start = start.with_(fade=0.0).clipped(envelope.bounds)
        self.params = self.start
        self.tick_s = tick_s
        self.enabled = enabled
        self.lead_gain = lead_gain
        self.ki = integral_per_s
        self.integral_max = integral_max
        self.max_lead = max_lead
        self.k_ff = feedforward
        self.min_confidence = min_confidence
        self.hold_timeout_s = hold_timeout_s
        self.neutral = neutral
        self.shape = transition_shape
        self.goal_ramp_s = goal_ramp_s
        self.recovery_silence_s = recovery_silence_s
        self.estop_fade_s = estop_fade_s
        self.override_rise_db_per_s = override_loudness_rise_db_per_s
        self.integral = 0.0
        self.want = self.start
        self.iso_start: tuple[float, float] | None = None
        self.last_confident_t: float | None = None
        self.holding = False
        self.fallback = False
        self.phase = "baseline"
        self.last_mode_step_t = -np.inf
        self.offset = 0.0  # protocol clock: tau = t - offset
        self.paused = False
        self.stopped = False
        self.ending = False
        self.pins: dict[str, float] = {}
        self._ramp: tuple[float, float, float, float] | None = None  # tau0, tau1, a0, v0
        self._pending: list[tuple[str, tuple]] = []
        self._applied_t: float | None = None
        self._events: list[str] = []
        self._last_target: tuple[float | None, float | None] = (None, None)
        self._prev_overridden: tuple[str, ...] = ()

    # ------------------------------------------------------------ therapist API
    def pin(self, name: str, value: float) -> None:
        """Pin parameter ``name`` at ``value`` (inside :data:`BOUNDS`) from the next tick."""
        self.command(f"pin {name} {value!r}")

    def unpin(self, name: str = "all") -> None:
        """Release the pin on ``name`` (or ``"all"``); it returns to the law at the slew limits."""
        self.command(f"unpin {name}")

    def set_goal(self, arousal: float, valence: float | None = None) -> None:
        """Change the session goal; the target ramps to it (see the module docstring)."""
        self.command(f"goal {arousal!r}" + ("" if valence is None else f" {valence!r}"))

    def pause(self) -> None:
        """Freeze the protocol clock and the law; the music holds where it is."""
        self.command("pause")

    def resume(self) -> None:
        """Resume after :meth:`pause` or :meth:`emergency_stop` (the music fades back in)."""
        self.command("resume")

    def skip_phase(self) -> None:
        """End the current protocol phase now and go on with the next one."""
        self.command("skip")

    def emergency_stop(self) -> None:
        """Fade to silence within ``estop_fade_s`` (plus the synth's 1 s ramp), and stay silent."""
        self.command("estop")

    def end(self) -> None:
        """End the session gracefully: fade out at the normal rate, whatever is pinned."""
        self.command("end")

    def command(self, line: str) -> None:
        """Validate a command line (:func:`parse_command`) and queue it for the next tick.

        Raises
        ------
        CommandError
            If the command is invalid (nothing is queued).
        """
        self._pending.append(parse_command(line))

    # ------------------------------------------------------------ protocol clock
    def protocol_time(self, t: float) -> float:
        """Protocol-clock time for session time ``t``, seconds."""
        return t - self.offset

    def begin_tick(self, t: float) -> str:
        """Apply queued commands for the tick at ``t`` and return its protocol phase.

        Called by :class:`attune.engine.loop.Engine` before the affect estimate (so the
        estimator knows whether the baseline is still running) and by :meth:`update`;
        idempotent for one ``t``.
        """
        if self._applied_t != t:
            self._applied_t = t
            if self.paused:
                self.offset += self.tick_s
            for verb, args in self._pending:
                self._apply(verb, args, t)
            self._pending.clear()
        return self.plan.phase_at(self.protocol_time(t))[0]

    def _apply(self, verb: str, args: tuple, t: float) -> None:
        ev = self._events
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
            ta, tv = self._last_target
            phase, _, end = self.plan.phase_at(tau)
            if ta is not None and phase in ("transition", "maintain"):
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
        elif verb == "estop":
            if not self.stopped:
                self.stopped = True
                ev.append("override: EMERGENCY STOP (fade to silence)")

    # ------------------------------------------------------------ target and law
    def _shape(self, x: float) -> float:
        x = clip(x, 0.0, 1.0)
        return x if self.shape == "linear" else 0.5 - 0.5 * float(np.cos(np.pi * x))

    def target(self, t: float, est: AffectEstimate) -> tuple[float | None, float | None]:
        """Target (arousal, valence) for session time ``t`` under the iso principle."""
        tau = self.protocol_time(t)
        phase, start, end = self.plan.phase_at(tau)
        if phase == "baseline":
            return None, None
        if phase == "match":
            return est.arousal, est.valence
        if self._ramp is not None:
            tau0, tau1, a0, v0 = self._ramp
            if tau < tau1:
                s = self._shape((tau - tau0) / (tau1 - tau0)) if tau1 > tau0 else 1.0
                return a0 + (self.goal[0] - a0) * s, v0 + (self.goal[1] - v0) * s
        return self.goal

    def update(self, est: AffectEstimate) -> Decision:
        """Decide the parameters for the tick at ``est.t``."""
        t = est.t
        self.begin_tick(t)
        tau = self.protocol_time(t)
        phase, p_start, p_end = self.plan.phase_at(tau)
        events = self._events
        if phase != self.phase:
            events.append(f"phase {phase}")
            if phase == "transition" or (phase in ("maintain", "recovery") and not self.iso_start):
                self.iso_start = (est.arousal, est.valence)
                if phase == "transition":
                    self._ramp = (p_start, p_end, est.arousal, est.valence)
                events.append(f"iso start arousal={est.arousal:.3f} valence={est.valence:.3f}")
            self.phase = phase
        ta, tv = self.target(t, est)
        self._last_target = (ta, tv)
        confident = est.confidence >= self.min_confidence
        if confident:
            self.last_confident_t = t
        hold = fallback = False
        law = phase in PLAYING and self.enabled and not self.paused
        if law and not confident:
            hold = True
            since = self.last_confident_t if self.last_confident_t is not None else t
            if t - since >= self.hold_timeout_s:
                fallback = True
                self.want = params_for(*self.neutral).clipped(self.envelope.bounds)
            else:
                self.want = self.params  # hold where we are: no finishing slews
        elif law and phase == "match":
            self.want = params_for(est.arousal, est.valence).clipped(self.envelope.bounds)
        elif law:
            self.want = self._law(est.arousal, ta, tv)
        elif phase == "recovery":
            self.want = params_for(*self.neutral).clipped(self.envelope.bounds)
        elif self.paused:
            self.want = self.params
        if law and hold != self.holding:
            events.append(
                f"hold: low confidence ({est.confidence:.2f} < {self.min_confidence:.2f})"
                if hold
                else "resume: confidence restored"
            )
            self.holding = hold
        if fallback != self.fallback:
            if fallback:
                events.append(
                    f"fallback: no trustworthy data for {self.hold_timeout_s:g} s, "
                    "drifting to the neutral preset"
                )
            self.fallback = fallback
        want = self.want.with_(fade=self._fade_target(phase, tau, p_end))
        if t - self.last_mode_step_t < phrase_s(self.params.tempo_bpm):
            want = want.with_(mode=self.params.mode)
        new = self.envelope.limit(self.params, want, self.tick_s)
        if new.mode != self.params.mode:
            self.last_mode_step_t = t
            events.append(f"mode -> {new.mode_name} (from the next phrase)")
        new, overridden = self._overrides(new)
        self.params = new
        self._events = []
        self._prev_overridden = overridden
        return Decision(
            params=new,
            phase=phase,
            target_arousal=None if ta is None else float(ta),
            target_valence=None if tv is None else float(tv),
            music_arousal=music_arousal(new),
            hold=hold,
            events=tuple(events),
            overridden=overridden,
            paused=self.paused,
            stopped=self.stopped,
            fallback=fallback,
        )

    def _law(self, a_hat: float, ta: float, tv: float) -> MusicParams:
        """Return the law's wish: music whose arousal leads the listener toward ``ta``."""
        err = a_hat - ta
        u_p = self.lead_gain * err
        new_i = clip(self.integral + self.ki * err * self.tick_s, *self._imax())
        m_free = ta - (u_p + new_i + self.k_ff * ((self.iso_start or (ta,))[0] - ta))
        # anti-windup: do not integrate further while the output is saturated that way
        if not ((m_free <= -1.0 and err > 0) or (m_free >= 1.0 and err < 0)):
            self.integral = new_i
        a0 = self.iso_start[0] if self.iso_start is not None else ta
        ff = self.k_ff * (a0 - ta)
        u = clip(u_p + self.integral + ff, -self.max_lead, self.max_lead)
        m_a = clip(ta - u, -1.0, 1.0)
        return params_for(m_a, float(tv)).clipped(self.envelope.bounds)

    def _imax(self) -> tuple[float, float]:
        return (-self.integral_max, self.integral_max)

    def _fade_target(self, phase: str, tau: float, p_end: float) -> float:
        if phase in PLAYING:
            return 1.0
        if phase == "recovery":
            fade_out_s = 1.0 / self.envelope.slew_per_s["fade"]
            return 1.0 if tau < p_end - self.recovery_silence_s - fade_out_s else 0.0
        return 0.0

    def _overrides(self, p: MusicParams) -> tuple[MusicParams, tuple[str, ...]]:
        """Apply pins and the emergency stop: they win over the law, inside ``BOUNDS``."""
        changes: dict[str, float] = {}
        for name, value in self.pins.items():
            lo, hi = BOUNDS[name]
            v = clip(value, lo, hi)
            prev = float(getattr(self.params, name))
            if name == "loudness_db":
                v = min(v, prev + self.override_rise_db_per_s * self.tick_s)
            elif name == "fade":
                v = min(v, prev + self.envelope.fade_up_per_s * self.tick_s)
            changes[name] = int(round(v)) if name == "mode" else v
        if self.ending:
            fall = self.envelope.slew_per_s["fade"] * self.tick_s
            fade = min(changes.get("fade", p.fade), float(self.params.fade) - fall)
            changes["fade"] = max(0.0, fade)
        if self.stopped:
            changes["fade"] = max(0.0, float(self.params.fade) - self.tick_s / self.estop_fade_s)
        if not changes:
            return p, ()
        return p.with_(**changes), tuple(sorted(changes))
