"""Affect estimation: per-person baseline z-scores, linear fusion, smoothing, confidence.

docs/science/affect.md: robust z = (x - median_baseline) / (1.4826 MAD_baseline), clipped
to +-3, with spread floors from published within-person variability; arousal = w1 z(HR) -
w2 z(lnRMSSD) + w3 z(engagement) - w4 z(alpha); valence from z(FAA); exponential smoothing
(tau 10-20 s arousal, 20-40 s valence). Arousal confidence is an expected accuracy: the
chance that the estimate lies within one SAM step of the truth, from the summed variances
of the error sources a live session can see (anchor, personal gain x distance travelled,
drift, the readings' spread, signal quality, saturation, stopped features). Valence
confidence is quality x evidence x a low prior reliability.

Without the listener's own intake rating (SAM, :func:`sam_to_unit`) the estimate is the
change from the baseline (``relative``): 0 is "as during the baseline", not "neutral".
A rating given during the session (:meth:`AffectEstimator.self_report`) anchors the
estimate there: the estimate jumps to the rating and moves with the features from it,
and is absolute from then on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from attune.synthesis.params import clip

#: Sign of each arousal feature (Koelsch & Jancke 2015; Pope et al. 1995).
AROUSAL_SIGNS: dict[str, float] = {
    "hr_bpm": 1.0,
    "ln_rmssd": -1.0,
    "eeg_engagement_ln": 1.0,
    "eeg_alpha_ln": -1.0,
    "hf_ln": -1.0,
}
#: Which modality each fused feature comes from.
MODALITY: dict[str, str] = {
    "hr_bpm": "hrv",
    "ln_rmssd": "hrv",
    "eeg_engagement_ln": "eeg",
    "eeg_alpha_ln": "eeg",
    "faa": "eeg",
    "hf_ln": "hrv",
}
#: Smallest spread used for z-scores (feature units), from published within-person
#: variability (docs/science/affect.md, "Spread floors"); a short, calm baseline otherwise
#: yields a tiny MAD and z-scores that measure noise.
#:
#: * ``hr_bpm`` 2.0 bpm: the lower end of the 30-min SD of heart rate in real resting
#:   clinical ECG records (1.9-5.2 bpm); within one session, mean RR repeats with a
#:   typical error of CV 5.2 % (~3.6 bpm at 70 bpm; J Hum Kinet 2016, PMID 28149345,
#:   doi:10.1515/hukin-2015-0146).
#: * ``ln_rmssd`` 0.10 ln units: typical error of ln rMSSD over ten consecutive
#:   measurements within one session, CV 9.9 % (same study); 60 s ln RMSSD varies with
#:   SD 0.12-0.15 over 30 min in real resting records.
#: * ``hf_ln`` 0.3 ln units [E]: about three times ln RMSSD's (HF power ~ RMSSD^2 and
#:   its short-window estimate is noisier).
#: * EEG [E] (no published within-session floor at hand): ``eeg_alpha_ln`` 0.2,
#:   ``eeg_engagement_ln`` 0.15, ``faa`` 0.1 ln units (FAA moves 0.05-0.2 within a session).
SPREAD_FLOOR: dict[str, float] = {
    "hr_bpm": 2.0,
    "ln_rmssd": 0.10,
    "eeg_engagement_ln": 0.15,
    "eeg_alpha_ln": 0.2,
    "faa": 0.1,
    "hf_ln": 0.3,
}
#: Shortest baseline the science supports (3-5 min of rest, docs/science/affect.md), s.
MIN_BASELINE_S = 180.0
#: Arousal confidence is the probability that the estimate lies within
#: :data:`TOLERANCE` of the listener's true arousal, for a normal error whose variance is
#: the sum of the error sources below (docs/science/affect.md, "Confidence"):
#: ``confidence = erf(TOLERANCE / sqrt(2 var))``.
#:
#: * ``TOLERANCE`` 0.25: one step of the 9-point SAM scale (:func:`sam_to_unit`), the
#:   resolution at which a listener can tell where they are.
TOLERANCE = 0.25
#: [E] SD of the anchor, the listener's own SAM rating (intake, or during the session):
#: rounding to a whole step alone gives 0.25 / sqrt(12) = 0.07; with the noise of
#: introspection about half a step. Without a rating (relative estimate) the anchor is
#: the baseline itself and this term is 0.
ANCHOR_SD = 0.12
#: [E] Relative SD of a person's feature-to-arousal gain: how many bpm, ln RMSSD or EEG
#: log-power units one unit of arousal moves differs between people by a factor of about
#: 2-4, which the estimator's one ``arousal_gain`` cannot know. The estimate's distance
#: from its anchor is therefore uncertain by ``GAIN_CV x distance``.
GAIN_CV = 0.7
#: [E] Drift of the physiological set point unrelated to arousal, as a variance growing
#: with the time since the anchor (random walk): resting heart rate drifts with SD
#: 1.9-5.2 bpm over 30 min in real resting records; read through the fusion that is
#: about 0.3 arousal units after ``DRIFT_REF_S``.
DRIFT_SD = 0.3
DRIFT_REF_S = 1800.0
#: [E] The fused features are independent readings of the same change: the variance of
#: their mean is the readings' variance over their effective number. The readings'
#: variance is their weighted spread (arousal units, each reading smoothed as the estimate
#: is), pooled with a prior reading SD ``READING_SD`` worth ``READING_PRIOR_DOF`` degrees
#: of freedom: the spread of 2-4 readings alone is itself a rough figure (from 3 degrees
#: of freedom its relative SD is about 80 %). With one modality the other cannot
#: cross-check: SINGLE_MODALITY_SD is added.
READING_SD = 0.35
READING_PRIOR_DOF = 6.0
SINGLE_MODALITY_SD = 0.1
#: [E] Signal quality: a modality's readings are noisier as its clean share and window
#: coverage ``qc`` fall; ``QUALITY_SD^2 (1/qc - 1)``, weighted over the modalities used.
QUALITY_SD = 0.15
#: [E] Saturation: a feature at its z clip, or evidence reaching past the scale bound
#: (``|prior + gain z| >= 1``), says "at least this far", not where the listener is:
#: ``SATURATED_SD^2`` for the estimate past the bound, and times the clipped features'
#: weight share.
SATURATED_SD = 0.4
#: [E] How far past the bound (arousal units) the smoothed evidence must reach for the
#: whole ``SATURATED_SD``: just past the bound the estimate is still near the truth.
SATURATED_SPAN = 2.0
#: [E] Below this mean absolute tick-to-tick change of the fused z (per second, averaged
#: over ``FLAT_TAU_S``) the features have stopped moving (stuck or repeated data); the
#: listener may have moved anywhere within a session's usual excursion, ``FLAT_SD``.
FLAT_Z_PER_S = 1e-3
FLAT_TAU_S = 30.0
FLAT_SD = 0.6
#: [E] Signal quality (clean fraction) above which a modality counts as fully clean: the
#: stages correct or drop up to this share of artifacts without biasing the features.
CLEAN_ENOUGH = 0.85
#: [E] Prior reliability of valence (far less supported than arousal), a factor on its
#: confidence.
VALENCE_PRIOR_RELIABILITY = 0.5
#: [E] Valence confidence factor when its evidence reaches past the scale.
VALENCE_SATURATED_FACTOR = 0.4
#: [E] Evidence behind valence: frontal alpha asymmetry alone rests on one electrode
#: pair and shifts by only 0.05-0.2 ln units within session noise (docs/science/affect.md);
#: the heart-rate term is a weak valence cue on its own. Either alone keeps valence
#: confidence (0.5 x quality x evidence) below the default hold threshold of 0.3, so
#: valence is reported "not measured" and not steered; both together may clear it.
VALENCE_EVIDENCE = {"faa": 0.5, "hr": 0.3, "both": 1.0}
#: [E] Window a modality needs for full coverage, seconds (HRV 60 s, EEG Welch 4 s).
FULL_COVERAGE_S = {"hrv": 60.0, "eeg": 4.0}
Z_CLIP = 3.0


#: [E] Where :func:`soft_bound` starts compressing toward the scale bounds.
SOFT_KNEE = 0.7


def soft_bound(x: float) -> float:
    """Map ``prior + gain z`` onto (-1, 1): linear within +-SOFT_KNEE, then a tanh knee.

    The estimate keeps its order at extreme evidence instead of sitting on a bound
    (``|x| = 1.2``, the furthest three z-scores reach from a neutral prior, gives 0.98).

    Parameters
    ----------
    x : float
        Unbounded estimate.

    Returns
    -------
    float
        In (-1, 1); equal to ``x`` for ``|x| <= SOFT_KNEE``.
    """
    ax = abs(x)
    if ax <= SOFT_KNEE:
        return float(x)
    room = 1.0 - SOFT_KNEE
    y = SOFT_KNEE + room * math.tanh((ax - SOFT_KNEE) / room)
    return float(y if x > 0 else -y)


def unsoft_bound(y: float) -> float:
    """Inverse of :func:`soft_bound` on (-1, 1); ``|y|`` is capped just below 1."""
    ay = min(abs(float(y)), 1.0 - 1e-6)
    if ay <= SOFT_KNEE:
        return float(y)
    room = 1.0 - SOFT_KNEE
    x = SOFT_KNEE + room * math.atanh((ay - SOFT_KNEE) / room)
    return float(x if y > 0 else -x)


def sam_to_unit(score: float) -> float:
    """Map a 9-point SAM rating (Bradley & Lang 1994) to the -1..+1 scale.

    Parameters
    ----------
    score : float
        SAM rating, 1 (calm / unpleasant) to 9 (excited / pleasant).

    Returns
    -------
    float
        ``(score - 5) / 4``.

    Raises
    ------
    ValueError
        If the rating is outside 1..9.
    """
    if not 1.0 <= score <= 9.0:
        raise ValueError(f"SAM rating must be between 1 and 9, got {score!r}")
    return (float(score) - 5.0) / 4.0


def unit_to_sam(x: float) -> float:
    """Inverse of :func:`sam_to_unit`: a -1..+1 value as a SAM rating 1..9 (3 decimals)."""
    return round(5.0 + 4.0 * max(-1.0, min(1.0, float(x))), 3)


@dataclass(frozen=True)
class ModalityStatus:
    """Signal state of one modality at a tick.

    Attributes
    ----------
    quality : float
        Fraction of good data in the window, 0 to 1 (uncorrected beats, clean EEG).
    coverage_s : float
        Seconds of data the window features rest on.
    age_s : float
        Seconds since the newest sample; ``inf`` when none has arrived.
    """

    quality: float
    coverage_s: float
    age_s: float


@dataclass(frozen=True)
class AffectEstimate:
    """Where the listener is estimated to be.

    Attributes
    ----------
    arousal, valence : float
        Smoothed estimates in [-1, 1].
    confidence : float
        Arousal confidence in [0, 1]; the controller holds below its threshold.
    t : float
        Tick time, seconds.
    valence_confidence : float
        Valence confidence in [0, 1] (always lower-bounded by less evidence).
    relative : bool
        True when there was no intake rating: arousal and valence are the change from
        the baseline (0 = as during the baseline), not a place on the affect scale.
    valence_measured : bool
        True while valence confidence clears the hold threshold, so valence may be
        steered; otherwise the controller lets the valence cues follow the goal
        open-loop and reports "valence not measured".
    events : tuple of str
        Warnings raised by the estimator at this tick (short baseline, saturated or flat
        estimate).
    """

    arousal: float
    valence: float
    confidence: float
    t: float
    valence_confidence: float = 0.0
    relative: bool = False
    valence_measured: bool = False
    events: tuple[str, ...] = ()


class AffectEstimator:
    """Turn per-tick features into an :class:`AffectEstimate`.

    Until ``baseline_end_s`` the estimator collects each feature's values; at the end
    it fixes their median and MAD (robust: one premature beat or artifact, which the
    HRV and EEG stages leave out of their features anyway, moves neither by more than
    a few percent). Afterwards each available feature becomes a robust z and the fused
    z moves the estimate away from the intake state, ``arousal = prior + arousal_gain *
    fused_z``; without an intake rating the prior is 0 and the estimate is relative.

    Parameters
    ----------
    baseline_end_s : float
        Time at which the baseline phase ends, seconds.
    tick_s : float
        Control tick, seconds (sets the smoothing coefficients).
    prior_arousal, prior_valence : float or None
        The listener's own rating at intake (SAM mapped to [-1, 1] by
        :func:`sam_to_unit`); None for either: no intake rating, the estimate is the
        change from the baseline (``relative``).
    weights : mapping of str to float
        Fusion weights for ``hr_bpm``, ``ln_rmssd``, ``eeg_engagement_ln``,
        ``eeg_alpha_ln``, ``hf_ln`` (arousal), ``faa`` and optionally ``valence_hr``
        (valence: ``v = prior + gain (w_faa z(FAA) + w_vhr z(HR)) / (w_faa + w_vhr)``).
    arousal_gain, valence_gain : float
        Estimate units per fused z.
    arousal_tau_s, valence_tau_s : float
        Exponential smoothing time constants, seconds.
    stale_s : float
        A modality whose newest sample is older than this is left out.
    min_confidence : float, default 0.3
        The controller's hold threshold; valence is ``valence_measured`` only above it.
    min_baseline_s : float, default :data:`MIN_BASELINE_S`
        A shorter baseline raises a warning event when the baseline is fixed.
    """

    def __init__(
        self,
        *,
        baseline_end_s: float,
        tick_s: float,
        prior_arousal: float | None,
        prior_valence: float | None,
        weights: Mapping[str, float],
        arousal_gain: float,
        valence_gain: float,
        arousal_tau_s: float,
        valence_tau_s: float,
        stale_s: float,
        min_confidence: float = 0.3,
        min_baseline_s: float = MIN_BASELINE_S,
    ) -> None:
        self.baseline_end_s = baseline_end_s
        self.relative = prior_arousal is None or prior_valence is None
        pa = 0.0 if self.relative or prior_arousal is None else float(prior_arousal)
        pv = 0.0 if self.relative or prior_valence is None else float(prior_valence)
        self.prior = (pa, pv)
        self.weights = dict(weights)
        self.gains = (arousal_gain, valence_gain)
        self.alphas = (
            1.0 - np.exp(-tick_s / arousal_tau_s),
            1.0 - np.exp(-tick_s / valence_tau_s),
        )
        self.conf_alpha = 1.0 - np.exp(-tick_s / 2.0)
        self.flat_alpha = 1.0 - np.exp(-tick_s / FLAT_TAU_S)
        self.tick_s = tick_s
        self.stale_s = stale_s
        self.min_confidence = min_confidence
        self.min_baseline_s = min_baseline_s
        n = int(np.ceil(baseline_end_s / tick_s)) + 2
        self._base_values = {name: np.full(n, np.nan) for name in MODALITY}
        self._n_base = 0
        self._t_base0: float | None = None
        self._t_base1 = 0.0
        self.baseline_s = 0.0
        self.median: dict[str, float] = {}
        self.spread: dict[str, float] = {}
        self.mad: dict[str, float] = {}
        self._state = [pa, pv]
        self._conf = [0.0, 0.0]
        # where the estimate was last anchored (rating or baseline), its SD, and when
        self._anchor = pa
        self._anchor_sd = 0.0 if self.relative else ANCHOR_SD
        self._t_anchor = baseline_end_s
        self._smooth_z: dict[str, float] = {}  # arousal-signed z of each feature, smoothed
        self._evidence = pa  # prior + gain * fused z, unbounded, smoothed like the estimate
        self._last_z: float | None = None
        self._dz = 1.0  # running mean |change of fused z| per second (starts "moving")
        self._n_after = 0
        self._saturated = False
        self._flat = False

    @property
    def baseline_ready(self) -> bool:
        """True once the baseline statistics are fixed."""
        return bool(self.median)

    def _fix_baseline(self) -> tuple[str, ...]:
        n = self._n_base
        for name, values in self._base_values.items():
            v = values[:n][np.isfinite(values[:n])]
            if v.size >= 4:
                med = float(np.median(v))
                mad = 1.4826 * float(np.median(np.abs(v - med)))
                self.median[name] = med
                self.mad[name] = mad
                self.spread[name] = max(mad, SPREAD_FLOOR[name])
        if not self.median:  # no data at all in the baseline: mark ready, nothing usable
            self.median["_none"] = 0.0
        span = self._t_base1 - self._t_base0 if self._t_base0 is not None else 0.0
        self.baseline_s = span
        if span + self.tick_s < self.min_baseline_s:
            return (
                f"warning: baseline {span + self.tick_s:.0f} s is shorter than the "
                f"{self.min_baseline_s:.0f} s of rest the science supports: the spreads rest "
                "on their published floors and the estimate is coarse",
            )
        return ()

    def z(self, name: str, value: float | None) -> float | None:
        """Robust z-score of one feature against the baseline, clipped to +-3."""
        if value is None or name not in self.spread:
            return None
        return clip((value - self.median[name]) / self.spread[name], -Z_CLIP, Z_CLIP)

    def update(
        self,
        t: float,
        features: Mapping[str, float | None],
        status: Mapping[str, ModalityStatus],
        *,
        baseline: bool | None = None,
    ) -> AffectEstimate:
        """Fold one tick's features into the estimate.

        Parameters
        ----------
        t : float
            Tick time, seconds.
        features : mapping of str to float or None
            This tick's feature values; None where not available.
        status : mapping of str to ModalityStatus
            Per modality (``"hrv"``, ``"eeg"``) signal state. Only the modalities
            present are used: HRV-only and EEG-only sessions work (arousal from the
            modality at hand, its confidence without the cross-modal check; valence
            confidence low or 0 when it rests on little or nothing).
        baseline : bool, optional
            Whether the protocol is still in its baseline (the controller's protocol
            clock, which a therapist may pause or skip); default ``t <
            baseline_end_s``.

        Notes
        -----
        A modality is left out of the fusion when stale (no sample for ``stale_s``)
        or when its quality is 0 (e.g. the HRV stage found a rhythm, such as atrial
        fibrillation, that makes HRV meaningless: HRV-driven control is disabled).
        Arousal confidence is ``erf(TOLERANCE / sqrt(2 var))``, the chance that the
        estimate is within one SAM step of the truth, with ``var`` the summed error
        variances: the anchor (:data:`ANCHOR_SD`), the unknown personal gain times the
        distance travelled from the anchor (:data:`GAIN_CV`), drift since the anchor
        (:data:`DRIFT_SD`), the spread of the smoothed readings (:data:`READING_SD`),
        signal quality (:data:`QUALITY_SD`), a single modality, features at their z clip
        or evidence past the scale (:data:`SATURATED_SD`), and stopped features
        (:data:`FLAT_SD`).
        """
        fresh = {m: s.age_s <= self.stale_s and s.quality > 0.0 for m, s in status.items()}
        usable = {}  # the fused features only (a few of the tick's ~16)
        for name, modality in MODALITY.items():
            v = features.get(name)
            if v is not None and fresh.get(modality, False):
                usable[name] = v
        rel = self.relative
        if (t < self.baseline_end_s) if baseline is None else baseline:
            if self._t_base0 is None:
                self._t_base0 = t
            self._t_base1 = t
            if self._n_base < len(self._base_values["hr_bpm"]):
                for name, v in usable.items():
                    self._base_values[name][self._n_base] = v
                self._n_base += 1
            return AffectEstimate(self.prior[0], self.prior[1], 0.0, t, 0.0, rel, False)
        first = not self.baseline_ready
        events: tuple[str, ...] = ()
        if first:
            events = self._fix_baseline()
            self._t_anchor = self._t_base1 if self._t_base0 is not None else t

        # Arousal: fused signed z over available features, and per-modality weights.
        num = den = 0.0
        per_mod: dict[str, float] = {"hrv": 0.0, "eeg": 0.0}
        weights, spread, median = self.weights, self.spread, self.median
        clipped = 0.0
        alpha_a = self.alphas[0]
        smooth_z = self._smooth_z
        for name, sign in AROUSAL_SIGNS.items():
            w = weights.get(name, 0.0)
            value = usable.get(name)
            if value is None or w <= 0.0 or name not in spread:
                continue
            z = (value - median[name]) / spread[name]  # = self.z(name, value), inlined
            if z <= -Z_CLIP or z >= Z_CLIP:
                z = -Z_CLIP if z < 0.0 else Z_CLIP
                clipped += w
            num += w * sign * z
            den += w
            per_mod[MODALITY[name]] += w
            # each reading smoothed as the estimate is: their lasting disagreement
            prev = smooth_z.get(name)
            smooth_z[name] = (prev or 0.0) + alpha_a * (sign * z - (prev or 0.0))
        raw_conf_a = 0.0
        if den > 0.0:
            fused = num / den
            raw = self.prior[0] + self.gains[0] * fused
            raw_a = soft_bound(raw)
            self._state[0] += alpha_a * (raw_a - self._state[0])
            self._evidence += alpha_a * (raw - self._evidence)
            events += self._shape_checks(fused, self._evidence, t)
            var = self._arousal_variance(per_mod, status, usable, t)
            if clipped > 0.0:
                var += SATURATED_SD**2 * clipped / den
            raw_conf_a = math.erf(TOLERANCE / math.sqrt(2.0 * var))
        # Valence: frontal alpha asymmetry plus an optional small heart-rate term.
        terms = []  # (weight, z, modality)
        w_faa, w_vhr = self.weights.get("faa", 0.0), self.weights.get("valence_hr", 0.0)
        z_faa = self.z("faa", usable.get("faa"))
        if z_faa is not None and w_faa > 0.0:
            terms.append((w_faa, z_faa, "eeg"))
        z_hr = self.z("hr_bpm", usable.get("hr_bpm"))
        if z_hr is not None and w_vhr > 0.0:
            terms.append((w_vhr, z_hr, "hrv"))
        raw_conf_v = 0.0
        if terms:
            w_sum = sum(w for w, _, _ in terms)
            z_v = sum(w * z for w, z, _ in terms) / w_sum
            raw_v = soft_bound(self.prior[1] + self.gains[1] * z_v)
            self._state[1] += self.alphas[1] * (raw_v - self._state[1])
            qc = sum(w * status[m].quality * _coverage(status[m], m) for w, _, m in terms) / w_sum
            kind = "both" if len(terms) == 2 else ("faa" if terms[0][2] == "eeg" else "hr")
            raw_conf_v = VALENCE_PRIOR_RELIABILITY * qc * VALENCE_EVIDENCE[kind]
            if abs(self.prior[1] + self.gains[1] * z_v) >= 1.0:
                raw_conf_v *= VALENCE_SATURATED_FACTOR
        if first:  # start from the evidence at hand, not from zero
            self._conf = [raw_conf_a, raw_conf_v]
        self._conf[0] += self.conf_alpha * (raw_conf_a - self._conf[0])
        self._conf[1] += self.conf_alpha * (raw_conf_v - self._conf[1])
        return AffectEstimate(
            float(self._state[0]),
            float(self._state[1]),
            float(self._conf[0]),
            t,
            float(self._conf[1]),
            rel,
            bool(self._conf[1] >= self.min_confidence),
            events,
        )

    def self_report(self, t: float, kind: str, arousal: float, valence: float) -> tuple[str, ...]:
        """Take the listener's own rating into the estimate; return the events it raises.

        Parameters
        ----------
        t : float
            Session time, seconds.
        kind : {"pre", "during", "post"}
            ``post`` leaves the estimate alone (the session is over).
        arousal, valence : float
            The rating on the -1..+1 scale (:func:`sam_to_unit` of a SAM rating).

        Notes
        -----
        Before the baseline is fixed the rating is the intake state (the prior the
        estimate starts from). Afterwards it is an anchor: the prior becomes the value
        that puts the estimate at the rating with the features as they are now,
        ``prior = soft_bound^-1(rating) - gain * z_now``, so later changes of the
        features move the estimate away from the rating; the smoothed estimate jumps
        to the rating. Either way the estimate is absolute (not ``relative``) from then on.
        """
        if kind == "post":
            return ()
        a, v = float(np.clip(arousal, -1.0, 1.0)), float(np.clip(valence, -1.0, 1.0))
        was_relative = self.relative
        self.relative = False
        if not self.baseline_ready:
            self.prior = (a, v)
            self._state = [a, v]
            self._anchor, self._anchor_sd = a, ANCHOR_SD
            self._evidence = a
            return (
                f"info: intake self-report sets the starting point: arousal {a:+.2f}, "
                f"valence {v:+.2f}" + (" (absolute, no longer relative)" if was_relative else ""),
            )
        self.prior = (
            self.prior[0] + unsoft_bound(a) - unsoft_bound(self._state[0]),
            self.prior[1] + unsoft_bound(v) - unsoft_bound(self._state[1]),
        )
        before = self._state[0]
        self._state = [a, v]
        self._anchor, self._anchor_sd, self._t_anchor = a, ANCHOR_SD, t
        self._evidence = unsoft_bound(a)
        return (
            f"info: estimate anchored on the listener's self-report at {t:.1f} s: arousal "
            f"{a:+.2f} (estimate was {before:+.2f}), valence {v:+.2f}"
            + ("; absolute from here, no longer relative to the baseline" if was_relative else ""),
        )

    def _shape_checks(self, fused: float, raw: float, t: float) -> tuple[str, ...]:
        """Track flatness of the fused z and saturation of the smoothed evidence ``raw``.

        Returns the events raised when either state changes.
        """
        events: list[str] = []
        if self._last_z is not None:
            step = abs(fused - self._last_z) / self.tick_s
            self._dz += self.flat_alpha * (step - self._dz)
        self._last_z = fused
        self._n_after += 1
        saturated = abs(raw) >= 1.0
        if saturated != self._saturated:
            self._saturated = saturated
            events.append(
                f"warning: arousal estimate at the scale bound ({raw:+.2f}): confidence lowered"
                if saturated
                else "info: arousal estimate back inside the scale"
            )
        flat = self._n_after * self.tick_s >= FLAT_TAU_S and self._dz < FLAT_Z_PER_S
        if flat != self._flat:
            self._flat = flat
            events.append(
                "warning: features have stopped moving (stuck or repeated data): confidence lowered"
                if flat
                else "info: features moving again"
            )
        return tuple(events)

    def _arousal_variance(
        self,
        per_mod: Mapping[str, float],
        status: Mapping[str, ModalityStatus],
        usable: Mapping[str, float],
        t: float,
    ) -> float:
        """Return the expected squared error of arousal (arousal units squared).

        Sum of the signal-quality term, the missing cross-check of a single modality, the
        spread of the smoothed readings (pooled with its prior), the anchor's variance,
        the gain uncertainty of the distance travelled from the anchor, the set point's
        drift since the anchor, and the saturated and flat states (the constants above).
        Features at their z clip are added by the caller.
        """
        total_w = q_var = 0.0
        n_used = 0
        for m, w in per_mod.items():
            if w > 0.0:
                s = status[m]
                qc = min(1.0, s.quality / CLEAN_ENOUGH) * _coverage(s, m)
                total_w += w
                q_var += w * (1.0 / max(qc, 1e-3) - 1.0)
                n_used += 1
        var = QUALITY_SD**2 * q_var / total_w
        if n_used < 2:
            var += SINGLE_MODALITY_SD**2
        # spread of the smoothed readings over their effective number (variance of a mean)
        s0 = s1 = s2 = w2 = 0.0
        n = 0
        for name, z in self._smooth_z.items():
            w = self.weights.get(name, 0.0)
            if name in usable and w > 0.0:
                s0 += w
                s1 += w * z
                s2 += w * z * z
                w2 += w * w
                n += 1
        if s0 > 0.0:
            mean = s1 / s0
            spread2 = self.gains[0] ** 2 * max(0.0, s2 / s0 - mean * mean) * n / max(1, n - 1)
            dof = n - 1
            pooled = (READING_PRIOR_DOF * READING_SD**2 + dof * spread2) / (READING_PRIOR_DOF + dof)
            var += pooled * w2 / (s0 * s0)
        var += self._anchor_sd**2 + (GAIN_CV * (self._state[0] - self._anchor)) ** 2
        var += DRIFT_SD**2 * max(0.0, t - self._t_anchor) / DRIFT_REF_S
        if self._saturated:
            over = (abs(self._evidence) - 1.0) / SATURATED_SPAN
            var += SATURATED_SD**2 * min(1.0, max(0.0, over))
        if self._flat:
            var += FLAT_SD**2
        return var


def _coverage(s: ModalityStatus, modality: str) -> float:
    return float(min(1.0, s.coverage_s / FULL_COVERAGE_S[modality]))
