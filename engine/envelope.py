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

Overrides
    A pinned parameter takes its value at once (inside :data:`BOUNDS`; the loudness may
    still rise no faster than the startle limit ``override_rise_db_per_s``). The
    emergency stop takes the fade to 0 at ``1 / estop_fade_s`` and wins over
    everything, pins included; the graceful end fades out at the normal rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from attune.synthesis.composer import BEATS_PER_PHRASE
from attune.synthesis.params import BOUNDS, PARAM_NAMES, MusicParams, clip, make_params


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
    override_rise_db_per_s : float
        Startle limit on a pinned loudness rising, dB/s.
    """

    bounds: dict[str, tuple[float, float]]
    slew_per_s: dict[str, float]
    fade_up_per_s: float
    estop_fade_s: float = 0.5
    override_rise_db_per_s: float = 3.0

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
        if since_mode_step_s < phrase_s(prev.tempo_bpm):
            want = want.with_(mode=prev.mode)
        new = self.limit(prev, want, dt)
        mode_stepped = new.mode_name if new.mode != prev.mode else None
        changes: dict[str, float] = {}
        for name, value in pins.items():
            lo, hi = BOUNDS[name]
            v = clip(value, lo, hi)
            last = float(getattr(prev, name))
            if name == "loudness_db":
                v = min(v, last + self.override_rise_db_per_s * dt)
            elif name == "fade":
                v = min(v, last + self.fade_up_per_s * dt)
            changes[name] = int(round(v)) if name == "mode" else v
        if ending:
            fall = self.slew_per_s["fade"] * dt
            fade = min(changes.get("fade", new.fade), float(prev.fade) - fall)
            changes["fade"] = max(0.0, fade)
        if stopped:
            changes["fade"] = max(0.0, float(prev.fade) - dt / self.estop_fade_s)
        if not changes:
            return new, (), mode_stepped
        return new.with_(**changes), tuple(sorted(changes)), mode_stepped

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
