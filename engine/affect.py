"""Affect estimation: per-person baseline z-scores, linear fusion, smoothing, confidence.

docs/science/affect.md: robust z = (x - median_baseline) / (1.4826 MAD_baseline), clipped
to +-3; arousal = w1 z(HR) - w2 z(lnRMSSD) + w3 z(engagement) - w4 z(alpha); valence from
z(FAA); exponential smoothing (tau 10-20 s arousal, 20-40 s valence); confidence per
axis from signal quality x window coverage x agreement of modalities x prior reliability.
"""

from __future__ import annotations

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
#: [E] Smallest spread used for z-scores (feature units): a short, calm baseline
#: otherwise yields a tiny MAD and z-scores that saturate on noise.
SPREAD_FLOOR: dict[str, float] = {
    "hr_bpm": 2.0,
    "ln_rmssd": 0.15,
    "eeg_engagement_ln": 0.15,
    "eeg_alpha_ln": 0.2,
    "faa": 0.1,
    "hf_ln": 0.3,
}
#: [E] Prior reliability of each axis (arousal is far better supported than valence).
PRIOR_RELIABILITY = {"arousal": 0.9, "valence": 0.5}
#: [E] Evidence behind valence: frontal alpha asymmetry alone rests on one electrode
#: pair and shifts by only 0.05-0.2 ln units within session noise (docs/science/eeg.md);
#: the heart-rate term is a weak valence cue on its own.
VALENCE_EVIDENCE = {"faa": 0.6, "hr": 0.3, "both": 1.0}
#: [E] Window a modality needs for full coverage, seconds (HRV 60 s, EEG Welch 4 s).
FULL_COVERAGE_S = {"hrv": 60.0, "eeg": 4.0}
Z_CLIP = 3.0


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
    """

    arousal: float
    valence: float
    confidence: float
    t: float
    valence_confidence: float = 0.0


class AffectEstimator:
    """Turn per-tick features into an :class:`AffectEstimate`.

    Until ``baseline_end_s`` the estimator collects each feature's values; at the end
    it fixes their median and MAD. Afterwards each available feature becomes a robust z
    and the fused z moves the estimate away from the prior (the listener's state at
    intake), ``arousal = prior + arousal_gain * fused_z``.

    Parameters
    ----------
    baseline_end_s : float
        Time at which the baseline phase ends, seconds.
    tick_s : float
        Control tick, seconds (sets the smoothing coefficients).
    prior_arousal, prior_valence : float
        The listener's state during the baseline, in [-1, 1].
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
    """

    def __init__(
        self,
        *,
        baseline_end_s: float,
        tick_s: float,
        prior_arousal: float,
        prior_valence: float,
        weights: Mapping[str, float],
        arousal_gain: float,
        valence_gain: float,
        arousal_tau_s: float,
        valence_tau_s: float,
        stale_s: float,
    ) -> None:
        self.baseline_end_s = baseline_end_s
        self.prior = (prior_arousal, prior_valence)
        self.weights = dict(weights)
        self.gains = (arousal_gain, valence_gain)
        self.alphas = (
            1.0 - np.exp(-tick_s / arousal_tau_s),
            1.0 - np.exp(-tick_s / valence_tau_s),
        )
        self.conf_alpha = 1.0 - np.exp(-tick_s / 2.0)
        self.stale_s = stale_s
        n = int(np.ceil(baseline_end_s / tick_s)) + 2
        self._base_values = {name: np.full(n, np.nan) for name in MODALITY}
        self._n_base = 0
        self.median: dict[str, float] = {}
        self.spread: dict[str, float] = {}
        self._state = [prior_arousal, prior_valence]
        self._conf = [0.0, 0.0]

    @property
    def baseline_ready(self) -> bool:
        """True once the baseline statistics are fixed."""
        return bool(self.median)

    def _fix_baseline(self) -> None:
        n = self._n_base
        for name, values in self._base_values.items():
            v = values[:n][np.isfinite(values[:n])]
            if v.size >= 4:
                med = float(np.median(v))
                mad = 1.4826 * float(np.median(np.abs(v - med)))
                self.median[name] = med
                self.spread[name] = max(mad, SPREAD_FLOOR[name])
        if not self.median:  # no data at all in the baseline: mark ready, nothing usable
            self.median["_none"] = 0.0

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
        """
        fresh = {m: s.age_s <= self.stale_s and s.quality > 0.0 for m, s in status.items()}
        usable = {}  # the fused features only (a few of the tick's ~16)
        for name, modality in MODALITY.items():
            v = features.get(name)
            if v is not None and fresh.get(modality, False):
                usable[name] = v
        if (t < self.baseline_end_s) if baseline is None else baseline:
            if self._n_base < len(self._base_values["hr_bpm"]):
                for name, v in usable.items():
                    self._base_values[name][self._n_base] = v
                self._n_base += 1
            return AffectEstimate(self.prior[0], self.prior[1], 0.0, t, 0.0)
        first = not self.baseline_ready
        if first:
            self._fix_baseline()

        # Arousal: fused signed z over available features, and per-modality means.
        num = den = 0.0
        per_mod: dict[str, list[float]] = {"hrv": [0.0, 0.0], "eeg": [0.0, 0.0]}
        weights, spread, median = self.weights, self.spread, self.median
        for name, sign in AROUSAL_SIGNS.items():
            w = weights.get(name, 0.0)
            value = usable.get(name)
            if value is None or w <= 0.0 or name not in spread:
                continue
            z = (value - median[name]) / spread[name]  # = self.z(name, value), inlined
            z = -Z_CLIP if z < -Z_CLIP else Z_CLIP if z > Z_CLIP else z
            num += w * sign * z
            den += w
            acc = per_mod[MODALITY[name]]
            acc[0] += w * sign * z
            acc[1] += w
        raw_conf_a = 0.0
        if den > 0.0:
            raw_a = clip(self.prior[0] + self.gains[0] * num / den, -1.0, 1.0)
            self._state[0] += self.alphas[0] * (raw_a - self._state[0])
            raw_conf_a = PRIOR_RELIABILITY["arousal"] * self._signal_term(per_mod, status)
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
            raw_v = clip(self.prior[1] + self.gains[1] * z_v, -1.0, 1.0)
            self._state[1] += self.alphas[1] * (raw_v - self._state[1])
            qc = sum(w * status[m].quality * _coverage(status[m], m) for w, _, m in terms) / w_sum
            kind = "both" if len(terms) == 2 else ("faa" if terms[0][2] == "eeg" else "hr")
            raw_conf_v = PRIOR_RELIABILITY["valence"] * qc * VALENCE_EVIDENCE[kind]
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
        )

    def _signal_term(
        self, per_mod: Mapping[str, list[float]], status: Mapping[str, ModalityStatus]
    ) -> float:
        """Quality x coverage, weighted over modalities, x their agreement (0 to 1)."""
        total_w = acc = 0  # summed in modality order from 0, as sum() over them did
        n_used = 0
        for m, (_, w) in per_mod.items():
            if w > 0.0:
                s = status[m]
                total_w += w
                acc += w * s.quality * _coverage(s, m)
                n_used += 1
        qc = acc / total_w
        if n_used == 2:
            z_h = per_mod["hrv"][0] / per_mod["hrv"][1]
            z_e = per_mod["eeg"][0] / per_mod["eeg"][1]
            agreement = 1.0 - 0.5 * min(1.0, abs(z_h - z_e) / (2.0 * Z_CLIP / 3.0))
        else:
            agreement = 0.8  # one modality: nothing to cross-check
        return float(qc * agreement)


def _coverage(s: ModalityStatus, modality: str) -> float:
    return float(min(1.0, s.coverage_s / FULL_COVERAGE_S[modality]))
