"""The control law: what the music should express this tick, and so where it should go.

:meth:`ControlLaw.decide` is the one place a music parameter (the tempo among them) is
decided. Its wish goes through the safety envelope
(:meth:`attune.engine.envelope.Envelope.step`), which alone shapes (slews) and bounds
what is played.

Control law (transition and maintain, confident data; docs/science/control.md)
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
        p_want = params_for(m_a, m_v)

    During matching ``m = (a_hat, v_hat)``: the music mirrors the measured state. In
    recovery the wish is the neutral calm preset.

Holds and fallback
    Arousal confidence below ``min_confidence`` holds the parameters where they are
    (``p_want = p_{k-1}``, integral frozen). After ``hold_timeout_s`` without
    trustworthy data ``p_want`` becomes the neutral calm preset
    ``params_for(neutral_arousal, neutral_valence)``. When confidence returns, the law
    resumes from the present parameters; the envelope keeps every step inside its
    slew limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from attune.engine.affect import AffectEstimate
from attune.engine.protocol import PLAYING
from attune.engine.response import ResponseLearner, ResponseSettings
from attune.synthesis.params import MusicParams, clip, params_for


@dataclass(frozen=True)
class LawSettings:
    """Gains and hold rules of the control law (``[control]`` of the session file).

    Attributes
    ----------
    enabled : bool
        False freezes the wish (fades still follow the protocol).
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
        at the end of matching.
    min_confidence : float
        Below this arousal confidence the law holds.
    hold_timeout_s : float
        After holding this long, drift toward the neutral preset.
    neutral : (float, float)
        (arousal, valence) of the neutral calm preset.
    learn_response : bool
        Learn how this listener answers the music (:mod:`attune.engine.response`) and
        use it: the feedforward push is sized by the learned gain, the proportional gain
        is reduced for a strong response, and a paradoxical or absent response stops
        the push (the music rests at the neutral preset).
    response : ResponseSettings or None
        Tuning of the learner (None: the defaults).
    """

    enabled: bool
    lead_gain: float
    integral_per_s: float
    integral_max: float
    max_lead: float
    feedforward: float
    min_confidence: float
    hold_timeout_s: float
    neutral: tuple[float, float]
    learn_response: bool = False
    response: ResponseSettings | None = None


class ControlLaw:
    """Affect estimate and target to the music's wish (see the module docstring).

    Parameters
    ----------
    bounds : dict of str to (lo, hi)
        The envelope's bounds; the wish is clipped to them (so that a hold or a
        resumption starts from a reachable wish).
    start : MusicParams
        The wish before the law first runs (the starting parameters).
    tick_s : float
        Tick period, seconds (the integral's time step).
    settings : LawSettings
        Gains and hold rules.
    """

    def __init__(
        self,
        *,
        bounds: dict[str, tuple[float, float]],
        start: MusicParams,
        tick_s: float,
        settings: LawSettings,
    ) -> None:
        self.bounds = bounds
        self.tick_s = tick_s
        self.enabled = settings.enabled
        self.lead_gain = settings.lead_gain
        self.ki = settings.integral_per_s
        self.integral_max = settings.integral_max
        self.max_lead = settings.max_lead
        self.k_ff = settings.feedforward
        self.min_confidence = settings.min_confidence
        self.hold_timeout_s = settings.hold_timeout_s
        self.neutral = settings.neutral
        self.integral = 0.0
        self.want = start
        self.last_confident_t: float | None = None
        self.holding = False
        self.fallback = False

    def neutral_preset(self) -> MusicParams:
        """Return the neutral calm preset (fallback and recovery), inside the bounds."""
        return params_for(*self.neutral).clipped(self.bounds)

    def decide(
        self,
        est: AffectEstimate,
        *,
        phase: str,
        target: tuple[float | None, float | None],
        iso_start: tuple[float, float] | None,
        paused: bool,
        played: MusicParams,
        events: list[str],
        response: ResponseLearner | None = None,
    ) -> tuple[MusicParams, bool, bool]:
        """Decide where the music should go at the tick ``est.t``: the tempo decision.

        Parameters
        ----------
        est : AffectEstimate
            The affect estimate of the tick.
        phase : str
            Protocol phase.
        target : (float or None, float or None)
            The protocol's target (arousal, valence).
        iso_start : (float, float) or None
            The state measured at the end of matching.
        paused : bool
            The therapist paused the protocol (the music holds where it is).
        played : MusicParams
            The parameters played at the previous tick.
        events : list of str
            Hold and fallback changes are appended here.
        response : ResponseLearner, optional
            What the loop has learned of this listener's response (None: the fixed
            feedforward gain ``k_ff``); a latched stop verdict, or a cautious start
            carried over from a previous visit, rests the music at the neutral preset.

        Returns
        -------
        (MusicParams, bool, bool)
            The wish (fade not decided here), whether the law holds for lack of
            confidence, and whether it fell back to the neutral preset.
        """
        t = est.t
        confident = est.confidence >= self.min_confidence
        if confident:
            self.last_confident_t = t
        hold = fallback = False
        law = phase in PLAYING and self.enabled and not paused
        if law and not confident:
            hold = True
            since = self.last_confident_t if self.last_confident_t is not None else t
            if t - since >= self.hold_timeout_s:
                fallback = True
                self.want = self.neutral_preset()
            else:
                self.want = played  # hold where we are: no finishing slews
        elif law and phase == "match":
            self.want = params_for(est.arousal, est.valence).clipped(self.bounds)
        elif law and response is not None and (response.latched or response.cautious):
            self.integral = 0.0
            self.want = self.neutral_preset()  # stop pushing: rest at the neutral preset
        elif law:
            ta, tv = target
            assert ta is not None and tv is not None  # the target exists after baseline
            self.want = self._lead(est.arousal, ta, tv, iso_start, response)
        elif phase == "recovery":
            self.want = self.neutral_preset()
        elif paused:
            self.want = played
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
        return self.want, hold, fallback

    def _lead(
        self,
        a_hat: float,
        ta: float,
        tv: float,
        iso_start: tuple[float, float] | None,
        response: ResponseLearner | None = None,
    ) -> MusicParams:
        """Return the law's wish: music whose arousal leads the listener toward ``ta``.

        With a response learner the feedforward lead is ``(a0 - ta) (1 / G - 1)`` for
        the learned gain ``G`` (floored), so the music moves ``(a0 - ta) / G`` from
        where the listener started: further for a weak response, less for a strong
        one; the fixed ``k_ff`` is the same rule with ``G = 1 / (1 + k_ff)``. The
        proportional gain is scaled by ``min(1, G_nominal / G)`` so a strong response
        is not overdriven.
        """
        a0 = iso_start[0] if iso_start is not None else ta
        k_ff, k_p = self.k_ff, self.lead_gain
        if response is not None:
            g_nom = 1.0 / (1.0 + self.k_ff)
            g = response.effective_gain()
            k_ff = min(1.0 / g - 1.0, 3.0 * self.max_lead)
            k_p = self.lead_gain * min(1.0, g_nom / g)
        err = a_hat - ta
        u_p = k_p * err
        ff = k_ff * (a0 - ta)
        new_i = clip(self.integral + self.ki * err * self.tick_s, *self._imax())
        m_free = ta - (u_p + new_i + ff)
        # anti-windup: do not integrate further while the output is saturated that way
        if not ((m_free <= -1.0 and err > 0) or (m_free >= 1.0 and err < 0)):
            self.integral = new_i
        u = clip(u_p + self.integral + ff, -self.max_lead, self.max_lead)
        m_a = clip(ta - u, -1.0, 1.0)
        return params_for(m_a, float(tv)).clipped(self.bounds)

    def _imax(self) -> tuple[float, float]:
        return (-self.integral_max, self.integral_max)
