"""The safety envelope: the one place every music parameter passes on its way out.

Whatever wants the music somewhere (the control law, matching, the neutral preset of
the fallback and the recovery, a therapist's pin, a goal change, the fades of the
protocol), the parameters played at a tick are :meth:`Envelope.step` of the
previous tick's and the wish. The envelope owns the bounds and every rate limit
(slew): no other module clips or glides a parameter.

Output stage (every tick, every phase)
    ``p_k = clip_bounds(p_{k-1} + clip(p_want - p_{k-1}, -r_down dt, r_up dt))`` per
    parameter (tempo BPM/s, loudness dB/s, ...; the fade rises at ``1 / fade_in_s`` and
    falls at ``1 / fade_out_s``); ``mode`` moves by one step at most once per phrase
    (``BEATS_PER_PHRASE * 60 / tempo_bpm`` seconds) and the composer applies it at its
    next phrase boundary, so harmony changes only there.

Global hard limits
    :data:`HARD_BOUNDS`: no envelope can be built wider (the loudness cap
    :data:`LOUDNESS_HARD_CAP_DB`, the tempo range); a session's bounds must lie inside
    them and be ordered, and every rate must be positive and finite
    (:meth:`Envelope.__post_init__`).

Overrides
    A pin is a target: the pinned value (which must lie inside the session's bounds,
    :meth:`Envelope.check_pin`) replaces the wish and the music moves to it at the slew
    limits, like everything else. Only fades toward silence may be faster: the
    emergency stop takes the fade to 0 at ``1 / estop_fade_s`` and wins over
    everything, pins included; the graceful end fades out at the normal rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from attune.engine.protocol import CommandError
from attune.synthesis.composer import BEATS_PER_PHRASE
from attune.synthesis.params import BOUNDS, PARAM_NAMES, MusicParams, clip, make_params

#: Hard cap of the program level, dBFS (RMS). With the synth's peak limiter at -1 dBFS
#: and the startle rule that transients stay within 10 dB of the program level
#: (docs/science/safety.md), -12 dBFS is the loudest program level with headroom; on
#: playback calibrated so the default ceiling (-18 dBFS) is 65-70 dBA it stays near the
#: WHO-ITU 75-80 dBA limits.
LOUDNESS_HARD_CAP_DB: float = -12.0

#: Global hard limits of every parameter: no session, command or source goes past them.
HARD_BOUNDS: dict[str, tuple[float, float]] = {
    **BOUNDS,
    "tempo_bpm": (40.0, 160.0),
    "loudness_db": (BOUNDS["loudness_db"][0], LOUDNESS_HARD_CAP_DB),
}


def phrase_s(tempo_bpm: float) -> float:
    """Length of one composer phrase at ``tempo_bpm``, seconds."""
    return BEATS_PER_PHRASE * 60.0 / float(tempo_bpm)


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
    estop_fade_s : float
        Emergency stop: fade 1 -> 0 in this many seconds.
    """

    bounds: dict[str, tuple[float, float]]
    slew_per_s: dict[str, float]
    fade_up_per_s: float
    estop_fade_s: float = 0.5

    def __post_init__(self) -> None:
        """Check the bounds against :data:`HARD_BOUNDS` and each other, and the rates.

        Raises
        ------
        ValueError
            One line naming the parameter and the limit.
        """
        for name in PARAM_NAMES:
            lo, hi = self.bounds.get(name) or HARD_BOUNDS[name]
            hard_lo, hard_hi = HARD_BOUNDS[name]
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ValueError(f"envelope: {name} bounds [{lo:g}, {hi:g}] are not a range")
            if lo < hard_lo or hi > hard_hi:
                raise ValueError(
                    f"envelope: {name} bounds [{lo:g}, {hi:g}] exceed the hard limits "
                    f"[{hard_lo:g}, {hard_hi:g}]"
                )
            rate = self.slew_per_s.get(name)
            if rate is None or not (math.isfinite(rate) and rate > 0.0):
                raise ValueError(f"envelope: {name} slew limit must be > 0 and finite, got {rate}")
        for what, x in (("fade_up_per_s", self.fade_up_per_s), ("estop_fade_s", self.estop_fade_s)):
            if not (math.isfinite(x) and x > 0.0):
                raise ValueError(f"envelope: {what} must be > 0 and finite, got {x}")

    def bounds_of(self, name: str) -> tuple[float, float]:
        """Return the session's ``(lo, hi)`` of parameter ``name``."""
        return self.bounds.get(name) or HARD_BOUNDS[name]

    def check_pin(self, name: str, value: float) -> None:
        """Refuse a pin outside the session's bounds.

        Raises
        ------
        CommandError
            Naming the parameter, the value and the session's limit.
        """
        lo, hi = self.bounds_of(name)
        if not lo <= value <= hi:
            raise CommandError(
                f"pin: {name} {value:g} refused: outside this session's safety envelope "
                f"[{lo:g}, {hi:g}]"
            )

    def limit(self, prev: MusicParams, want: MusicParams, dt: float) -> MusicParams:
        """Move from ``prev`` toward ``want`` within the slew limits, then clip to bounds."""
        # One pass per tick: slew step, then the bounds (as ``MusicParams.clipped``).
        b, slew = self.bounds, self.slew_per_s
        pd, wd = prev.__dict__, want.__dict__
        out: dict[str, float] = {}
        for name in PARAM_NAMES:
            p, w = float(pd[name]), float(wd[name])
            lo, hi = b.get(name) or HARD_BOUNDS[name]
            if name == "mode":
                v = float(int(p + clip(w - p, -1, 1)))  # stepping is paced by step()
                out[name] = int(round(lo if v < lo else hi if v > hi else v))
                continue
            up = self.fade_up_per_s if name == "fade" else slew[name]
            down = slew[name]
            v = p + clip(w - p, -down * dt, up * dt)
            out[name] = lo if v < lo else hi if v > hi else v
        return make_params(out)

    def step(
        self,
        prev: MusicParams,
        want: MusicParams,
        dt: float,
        *,
        since_mode_step_s: float,
        pins: Mapping[str, float],
        ending: bool,
        stopped: bool,
    ) -> tuple[MusicParams, tuple[str, ...], str | None]:
        """Return the parameters to play: the wish, shaped and bounded by the envelope.

        Parameters
        ----------
        prev : MusicParams
            Parameters played at the previous tick.
        want : MusicParams
            Where the control law (or the protocol's preset and fade) wants the music.
        dt : float
            Tick length, seconds.
        since_mode_step_s : float
            Seconds since the mode last stepped (it may step once per phrase).
        pins : mapping of str to float
            Therapist pins (parameter name to value).
        ending : bool
            Graceful end: fade out at the normal rate whatever is pinned.
        stopped : bool
            Emergency stop: fade out at ``1 / estop_fade_s``, over everything.

        Returns
        -------
        (MusicParams, tuple of str, str or None)
            The parameters, the names a therapist override set this tick, and the
            name of the mode the envelope stepped to (None: no step; the composer
            applies a step from its next phrase).
        """
        if pins:
            want = want.with_(**{n: v for n, v in pins.items() if n in PARAM_NAMES})
        if ending or stopped:
            want = want.with_(fade=0.0)
        if since_mode_step_s < phrase_s(prev.tempo_bpm):
            want = want.with_(mode=prev.mode)
        new = self.limit(prev, want, dt)
        mode_stepped = new.mode_name if new.mode != prev.mode else None
        if stopped:  # the one move faster than the slew limits: toward silence
            new = new.with_(fade=max(0.0, float(prev.fade) - dt / self.estop_fade_s))
        overridden = set(pins)
        if ending or stopped:
            overridden.add("fade")
        return new, tuple(sorted(overridden)), mode_stepped

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
            Parameters under an override this tick: only ``"fade"`` means anything here,
            it may fall at the emergency stop's rate (toward silence). Every
            parameter is checked against the session's bounds, overridden or not.
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
            lo, hi = self.bounds_of(name)
            if not lo - tol <= v <= hi + tol:
                out.append(f"{name}={v:g} outside [{lo:g}, {hi:g}]")
            if prev is None:
                continue
            step = v - float(getattr(prev, name))
            if name == "mode":
                if abs(step) > 1:
                    out.append(f"mode stepped by {step:g}")
                continue
            up = (self.fade_up_per_s if name == "fade" else self.slew_per_s[name]) * dt
            down = self.slew_per_s[name] * dt
            if name == "fade" and name in exempt:
                down = max(down, dt / self.estop_fade_s)
            if not -down - tol <= step <= up + tol:
                out.append(f"{name} changed by {step:+g} in {dt:g} s (limit -{down:g}/+{up:g})")
        return out
