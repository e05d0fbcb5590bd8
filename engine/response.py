"""How this listener's measured arousal answers the music: an online estimate.

The control law assumes that calmer music calms. For some people it does not (no
response), for a few it does the opposite (paradoxical response), and the size of the
effect differs several-fold between people. :class:`ResponseLearner` estimates, from
the session's own ticks, the gain ``G`` of the measured arousal on the arousal the
music expresses, with its uncertainty, over the last minutes; :meth:`ResponseLearner.verdict`
turns it into what the controller needs to know.

Model (docs/science/response.md)
    From the start of the transition (reference ``a_ref``, ``m_ref``: the measured state
    and the heard music at that moment)::

        m_f(t) = lowpass_tau( m(t - delay) )              (what the body has heard)
        y(t)   = a_hat(t) - a_ref                          (measured change)
        x(t)   = m_f(t) - m_ref                            (music change)
        y(t)   = d(t) + G(t) x(t) + v(t)

    ``d`` is the change expected without music (drift, habituation, the estimator's own
    bias), with a prior centred on 0; ``G`` the response gain (estimate units per unit
    of music arousal). Both follow a random walk (forgetting, memory ``memory_s``) and
    are tracked by a two-state Kalman filter updated every ``update_s`` seconds; the
    measurement variance is the running innovation variance inflated by
    ``decorrelation_s / update_s`` (consecutive ticks of a smoothed estimate are not
    independent evidence). Ticks with low confidence are skipped.

Verdicts (persisting ``persist_s`` before they latch)
    * ``paradoxical``: the music moved toward the goal by at least ``min_excursion``,
      the state moved the other way by at least ``wrong_way``, and ``G + k sd(G) < 0``;
    * ``none``: the music moved toward the goal by at least ``min_excursion`` at least
      ``min_none_s`` ago (a slow listener needs minutes to answer), and
      ``|G| + k_none sd(G) < none_gain``;
    * ``strong``: ``G - k sd(G) > strong_gain``;
    * ``responds``: ``G - k sd(G) > 0``; otherwise ``learning``.

The learner knows nothing of any listener model: it sees the estimate and the music,
as in a live session.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np

#: Verdicts, from "nothing known yet" to the two that stop the push.
VERDICTS = ("learning", "responds", "strong", "none", "paradoxical")
#: Verdicts that latch: the loop stops pushing for the rest of the session.
STOP_VERDICTS = frozenset({"none", "paradoxical"})


@dataclass(frozen=True)
class ResponseSettings:
    """Tuning of :class:`ResponseLearner` (engineering choices [E], docs/science/response.md).

    Attributes
    ----------
    prior_gain, prior_gain_sd : float
        Prior of ``G`` (estimate units per unit of music arousal) and its SD.
    prior_drift_sd : float
        Prior SD of the drift ``d`` (arousal units).
    drift_walk : float
        The drift forgets this much slower than the gain (share of the gain's random
        walk per unit prior variance): with the music held still, gain and drift can
        only be told apart through the drift's prior, so it must not fade quickly.
    delay_s, tau_s : float
        Pure delay and first-order time constant from the music to the measured arousal
        (listener, heart, feature windows and the estimator's smoothing), seconds.
    memory_s : float
        Forgetting: the random walk of ``G`` and ``d`` lets old evidence fade over about
        this long, seconds.
    update_s : float
        Seconds between Kalman updates.
    decorrelation_s : float
        Seconds between independent measurements of the smoothed arousal estimate.
    noise_sd_floor : float
        Smallest measurement SD (arousal units).
    k_sigma : float
        Width of the credible interval of ``paradoxical``, ``strong`` and ``responds``,
        in SDs.
    k_none : float
        Width of the credible interval of ``none``, in SDs.
    min_excursion : float
        Music must have moved at least this far (toward the goal) before a verdict of
        ``none`` or ``paradoxical``, music arousal units.
    wrong_way : float
        Measured movement away from the goal needed for ``paradoxical``, arousal units.
    none_gain : float
        ``|G|`` bound of a non-response.
    min_none_s : float
        Music must have been ``min_excursion`` away from its reference this long before
        ``none``, seconds.
    strong_gain : float
        Lower credible bound of ``G`` above which the response is strong.
    persist_s : float
        A verdict must hold this long before it latches, seconds.
    min_confidence : float
        Ticks whose arousal confidence is below this are not used; 0.5: only estimates
        more likely than not within one SAM step of the truth (above the controller's
        hold threshold, 0.3: the music may move on an estimate it does not learn from).
    """

    prior_gain: float = 0.3
    prior_gain_sd: float = 0.5
    prior_drift_sd: float = 0.15
    drift_walk: float = 0.2
    delay_s: float = 15.0
    tau_s: float = 45.0
    memory_s: float = 300.0
    update_s: float = 5.0
    decorrelation_s: float = 30.0
    noise_sd_floor: float = 0.04
    k_sigma: float = 2.0
    k_none: float = 2.0
    min_excursion: float = 0.25
    wrong_way: float = 0.2
    none_gain: float = 0.3
    min_none_s: float = 120.0
    strong_gain: float = 0.9
    persist_s: float = 20.0
    min_confidence: float = 0.5


@dataclass
class ResponseState:
    """What the learner knows at one moment (JSON-able with :meth:`to_dict`).

    Attributes
    ----------
    gain, gain_sd : float
        Response gain ``G`` (estimate units per unit of music arousal) and its SD.
    drift, drift_sd : float
        Change expected without music (arousal units) and its SD.
    cov : float
        Covariance of gain and drift.
    noise_sd : float
        Measurement SD (running innovation SD, floored).
    excursion : float
        Largest music change toward the goal so far, music arousal units.
    wrong_way : float
        Measured movement away from the goal now, arousal units (negative: toward it).
    verdict : str
        One of :data:`VERDICTS`.
    verdict_t : float or None
        Session time the verdict latched, seconds (None: not latched).
    n_updates : int
        Kalman updates so far.
    levers : dict of str to float
        Music cues moved from the reference (name to change at the end): which levers
        were used, for the carry-over.
    """

    gain: float = 0.3
    gain_sd: float = 0.5
    drift: float = 0.0
    drift_sd: float = 0.15
    cov: float = 0.0
    noise_sd: float = 0.1
    excursion: float = 0.0
    wrong_way: float = 0.0
    verdict: str = "learning"
    verdict_t: float | None = None
    n_updates: int = 0
    levers: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the state as plain JSON types."""
        d = asdict(self)
        d["levers"] = {k: float(v) for k, v in self.levers.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ResponseState:
        """Build a state from :meth:`to_dict` output (unknown keys are ignored).

        Raises
        ------
        ValueError
            If a value is of the wrong kind or the verdict is unknown.
        """
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        st = cls(**kw)
        if st.verdict not in VERDICTS:
            raise ValueError(f"response state: unknown verdict {st.verdict!r}")
        for name in ("gain", "gain_sd", "drift", "drift_sd", "noise_sd"):
            v = getattr(st, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"response state: {name} must be a finite number, got {v!r}")
        if st.gain_sd <= 0.0:
            raise ValueError(f"response state: gain_sd must be > 0, got {st.gain_sd!r}")
        return st


class ResponseLearner:
    """Online Kalman regression of the measured arousal on the music (module docstring).

    Parameters
    ----------
    tick_s : float
        Control tick, seconds.
    settings : ResponseSettings
        Tuning.
    prior : ResponseState, optional
        What a previous visit learned: its gain seeds the prior (its SD widened to at
        least half the default prior SD: people change between visits); a latched
        ``paradoxical`` or ``none`` verdict starts the session cautious (see
        :attr:`cautious`).
    """

    def __init__(
        self,
        *,
        tick_s: float,
        settings: ResponseSettings | None = None,
        prior: ResponseState | None = None,
    ) -> None:
        s = settings or ResponseSettings()
        self.s = s
        self.tick_s = tick_s
        g0, g_sd = s.prior_gain, s.prior_gain_sd
        self.carried = prior
        if prior is not None:
            g0 = float(prior.gain)
            g_sd = max(float(prior.gain_sd), 0.5 * s.prior_gain_sd)
        self.prior_gain = g0
        self.theta = np.array([0.0, g0])  # drift, gain
        self.P = np.diag([s.prior_drift_sd**2, g_sd**2])
        # Random walk per update: variance the prior would gain over memory_s.
        k = s.update_s / s.memory_s
        self.Q = np.diag([k * s.drift_walk * s.prior_drift_sd**2, k * s.prior_gain_sd**2])
        self.noise_var = (2.0 * s.noise_sd_floor) ** 2
        self.inflate = max(1.0, s.decorrelation_s / s.update_s)
        self.alpha = 1.0 - math.exp(-tick_s / s.tau_s)
        self.delay_n = max(0, int(round(s.delay_s / tick_s)))
        self._m_hist: list[float] = []
        self.m_f: float | None = None
        self.ref: tuple[float, float] | None = None  # a_ref, m_ref
        self.direction = -1.0
        self._next_update = -math.inf
        self._pending: tuple[str, float] | None = None  # verdict, since
        self._moved_t: float | None = None  # when the music first moved min_excursion
        self.state = ResponseState(gain=g0, gain_sd=g_sd, drift_sd=s.prior_drift_sd)
        #: A previous visit ended paradoxical or without response: start careful.
        self.cautious = prior is not None and prior.verdict in STOP_VERDICTS

    @property
    def latched(self) -> bool:
        """True once a stop verdict (``none`` or ``paradoxical``) has latched."""
        return self.state.verdict in STOP_VERDICTS and self.state.verdict_t is not None

    def start(self, t: float, a_ref: float, goal: float) -> None:
        """Set the reference at the start of the transition (``t``, measured ``a_ref``)."""
        m_ref = self.m_f if self.m_f is not None else 0.0
        self.ref = (a_ref, m_ref)
        self.direction = -1.0 if goal < a_ref else 1.0
        self._next_update = t + self.s.update_s

    def hear(self, music_arousal: float) -> None:
        """Feed the arousal the music expressed during the last tick (fade applied)."""
        self._m_hist.append(float(music_arousal))
        if len(self._m_hist) > self.delay_n + 1:
            del self._m_hist[0]
        heard = self._m_hist[0]
        self.m_f = heard if self.m_f is None else self.m_f + self.alpha * (heard - self.m_f)

    def update(self, t: float, a_hat: float, confidence: float) -> ResponseState:
        """Fold the tick's measured arousal in (after :meth:`start`); return the state."""
        st = self.state
        if self.ref is None or self.m_f is None or self.latched:
            return st
        a_ref, m_ref = self.ref
        x = self.m_f - m_ref
        y = a_hat - a_ref
        d = self.direction
        st.excursion = max(st.excursion, d * x)
        st.wrong_way = -d * y
        if self._moved_t is None and st.excursion >= self.s.min_excursion:
            self._moved_t = t
        if t + 1e-9 < self._next_update:
            return st
        self._next_update += self.s.update_s
        if confidence < self.s.min_confidence:
            return st
        self._kalman(x, y)
        st.n_updates += 1
        self._judge(t)
        return st

    def _kalman(self, x: float, y: float) -> None:
        s, st = self.s, self.state
        self.P = self.P + self.Q
        h = np.array([1.0, x])
        innov = y - float(h @ self.theta)
        # running innovation variance (a slow EWMA), floored
        self.noise_var += 0.05 * (innov * innov - self.noise_var)
        self.noise_var = max(self.noise_var, s.noise_sd_floor**2)
        r = self.noise_var * self.inflate
        ph = self.P @ h
        sv = float(h @ ph) + r
        kg = ph / sv
        self.theta = self.theta + kg * innov
        self.P = self.P - np.outer(kg, ph)
        st.drift, st.gain = float(self.theta[0]), float(self.theta[1])
        st.drift_sd = math.sqrt(max(self.P[0, 0], 1e-12))
        st.gain_sd = math.sqrt(max(self.P[1, 1], 1e-12))
        st.cov = float(self.P[0, 1])
        st.noise_sd = math.sqrt(self.noise_var)

    def _judge(self, t: float) -> None:
        s, st = self.s, self.state
        g, sd, k = st.gain, st.gain_sd, s.k_sigma
        moved_t = self._moved_t
        if moved_t is not None and st.wrong_way >= s.wrong_way and g + k * sd < 0.0:
            now = "paradoxical"
        elif (
            moved_t is not None
            and t - moved_t >= s.min_none_s
            and abs(g) + s.k_none * sd < s.none_gain
        ):
            now = "none"
        elif g - k * sd > s.strong_gain:
            now = "strong"
        elif g - k * sd > 0.0:
            now = "responds"
        else:
            now = "learning"
        if now not in STOP_VERDICTS:
            self._pending = None
            st.verdict = now
            return
        if self._pending is None or self._pending[0] != now:
            self._pending = (now, t)
        if t - self._pending[1] >= s.persist_s:
            st.verdict, st.verdict_t = now, t

    def effective_gain(self, floor: float = 0.15) -> float:
        """Gain the control law plans with: the prior until the evidence says otherwise.

        The prior gain stays in use while it lies inside the credible interval
        ``G +- k_sigma sd``; a credibly stronger response uses the interval's lower
        bound (less push, no overshoot), a credibly weaker one its upper bound (more
        push), never below ``floor``. Estimator noise alone therefore does not move
        the dose.
        """
        st, k = self.state, self.s.k_sigma
        lo, hi = st.gain - k * st.gain_sd, st.gain + k * st.gain_sd
        g = self.prior_gain
        if lo > g:
            g = lo
        elif hi < g:
            g = hi
        return max(floor, g)
