"""The controller: target trajectory, music-parameter law, slew limits, safety envelope.

One tick: the phase plan says where in the protocol the session is; the target for
``t`` follows the iso principle (match the measured state, then move it toward the
goal); the control law chooses the arousal the music should express; the cue model
(:func:`synthesis.params.params_for`) turns that into parameters, which are then
rate-limited and clipped to the session's safety envelope.

Control law (first version, [E]): during transition and maintain the music leads the
listener, ``m = target - lead_gain * (arousal - target) - integral`` with
``integral += integral_per_s * (arousal - target) * tick_s`` (clamped to +-0.5, frozen
while holding), ``m`` clipped to [-1, 1]. When arousal is above the target the music
goes below it. Low confidence holds the parameters; after ``hold_timeout_s`` without
trustworthy data they drift, still slew-limited, to a neutral calm preset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from engine.affect import AffectEstimate
from synthesis.params import PARAM_NAMES, MusicParams, music_arousal, params_for

Phase = Literal["baseline", "match", "transition", "maintain", "recovery", "done"]
PHASES: tuple[str, ...] = ("baseline", "match", "transition", "maintain", "recovery")
#: [E] Mode moves one step at a time, at most once per this many seconds; the composer
#: then applies it at its next phrase boundary.
MODE_STEP_INTERVAL_S = 8.0


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

    def start_of(self, phase: str) -> float | None:
        """Start time of ``phase`` in seconds, or None if the plan has no such phase."""
        return next((s for name, s, _ in self.spans if name == phase), None)


@dataclass(frozen=True)
class Envelope:
    """Safety envelope: hard bounds and per-second slew limits of every parameter.

    Attributes
    ----------
    bounds : dict of str to (lo, hi)
        Bounds per parameter name (inside :data:`synthesis.params.BOUNDS`).
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
        out = {}
        for name in PARAM_NAMES:
            p, w = float(getattr(prev, name)), float(getattr(want, name))
            if name == "mode":
                out[name] = int(p + np.clip(w - p, -1, 1))  # stepping is paced by the caller
                continue
            up = self.fade_up_per_s if name == "fade" else self.slew_per_s[name]
            down = self.slew_per_s[name]
            out[name] = p + float(np.clip(w - p, -down * dt, up * dt))
        return MusicParams(**out).clipped(self.bounds)


@dataclass(frozen=True)
class Decision:
    """What the controller decided at one tick.

    Attributes
    ----------
    params : MusicParams
        The parameters to play (slew-limited, inside the envelope).
    phase : str
        Protocol phase at the tick.
    target_arousal, target_valence : float or None
        Where the listener should be now (None during baseline).
    music_arousal : float
        Arousal the played parameters express (cue model), [-1, 1].
    hold : bool
        True when low confidence kept the parameters where they were.
    events : tuple of str
        Things worth a line in the session record (phase changes, holds, fallbacks).
    """

    params: MusicParams
    phase: str
    target_arousal: float | None
    target_valence: float | None
    music_arousal: float
    hold: bool
    events: tuple[str, ...] = field(default=())


class Controller:
    """Closed-loop controller from affect estimate to music parameters.

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
        False freezes the music at ``start`` (fades still follow the protocol).
    lead_gain : float
        Proportional gain on the arousal error.
    integral_per_s : float
        Integral gain on the arousal error, 1/s.
    min_confidence : float
        Below this arousal confidence the controller holds.
    hold_timeout_s : float
        After holding this long, drift toward the neutral preset.
    neutral : tuple of float
        (arousal, valence) of the neutral calm preset.
    transition_shape : {"linear", "cosine"}
        Shape of the iso-principle trajectory.
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
        min_confidence: float,
        hold_timeout_s: float,
        neutral: tuple[float, float],
        transition_shape: Literal["linear", "cosine"],
    ) -> None:
        self.plan = plan
        self.envelope = envelope
        self.goal = (goal_arousal, goal_valence)
        self.start = start.with_(fade=0.0).clipped(envelope.bounds)
        self.params = self.start
        self.tick_s = tick_s
        self.enabled = enabled
        self.lead_gain = lead_gain
        self.ki = integral_per_s
        self.min_confidence = min_confidence
        self.hold_timeout_s = hold_timeout_s
        self.neutral = neutral
        self.shape = transition_shape
        self.integral = 0.0
        self.want = self.start
        self.iso_start: tuple[float, float] | None = None
        self.last_confident_t: float | None = None
        self.holding = False
        self.phase = "baseline"
        self.last_mode_step_t = -np.inf

    def target(self, t: float, est: AffectEstimate) -> tuple[float | None, float | None]:
        """Target (arousal, valence) for time ``t`` under the iso principle."""
        phase, start, end = self.plan.phase_at(t)
        if phase == "baseline":
            return None, None
        if phase == "match":
            return est.arousal, est.valence
        if phase == "transition":
            a0, v0 = self.iso_start if self.iso_start else (est.arousal, est.valence)
            frac = (t - start) / (end - start)
            s = frac if self.shape == "linear" else 0.5 - 0.5 * np.cos(np.pi * frac)
            return a0 + (self.goal[0] - a0) * s, v0 + (self.goal[1] - v0) * s
        return self.goal

    def update(self, est: AffectEstimate) -> Decision:
        """Decide the parameters for the tick at ``est.t``."""
        t = est.t
        phase, _, _ = self.plan.phase_at(t)
        events: list[str] = []
        if phase != self.phase:
            events.append(f"phase {phase}")
            if phase == "transition" or (phase in ("maintain", "recovery") and not self.iso_start):
                self.iso_start = (est.arousal, est.valence)
                events.append(f"iso start arousal={est.arousal:.3f} valence={est.valence:.3f}")
            self.phase = phase
        ta, tv = self.target(t, est)
        confident = est.confidence >= self.min_confidence
        if confident:
            self.last_confident_t = t
        music_a = music_v = None
        hold = False
        if phase in ("match", "transition", "maintain") and self.enabled:
            if not confident:
                hold = True
                since = self.last_confident_t if self.last_confident_t is not None else t
                if t - since >= self.hold_timeout_s:
                    music_a, music_v = self.neutral
            elif phase == "match":
                music_a, music_v = est.arousal, est.valence
            else:
                err = est.arousal - ta
                self.integral = float(
                    np.clip(self.integral + self.ki * err * self.tick_s, -0.5, 0.5)
                )
                music_a = float(np.clip(ta - self.lead_gain * err - self.integral, -1.0, 1.0))
                music_v = float(tv)
            if hold != self.holding:
                events.append("hold: low confidence" if hold else "resume: confidence restored")
                self.holding = hold
        if music_a is not None:
            self.want = params_for(music_a, music_v).clipped(self.envelope.bounds)
        fade = 1.0 if phase in ("match", "transition", "maintain") else 0.0
        want = self.want.with_(fade=fade)
        if t - self.last_mode_step_t < MODE_STEP_INTERVAL_S:
            want = want.with_(mode=self.params.mode)
        new = self.envelope.limit(self.params, want, self.tick_s)
        if new.mode != self.params.mode:
            self.last_mode_step_t = t
        self.params = new
        return Decision(
            params=new,
            phase=phase,
            target_arousal=None if ta is None else float(ta),
            target_valence=None if tv is None else float(tv),
            music_arousal=music_arousal(new),
            hold=hold,
            events=tuple(events),
        )
