import numpy as np
import pytest

from engine.affect import ModalityStatus
from sessions.build import make_estimator
from sessions.config import SessionConfig

CFG = SessionConfig()
OK = {"hrv": ModalityStatus(1.0, 60.0, 0.1), "eeg": ModalityStatus(1.0, 4.0, 0.1)}


def feed(est, feats_of_t, status_of_t=lambda t: OK, until=200.0):
    out = []
    for i in range(int(until / CFG.tick_s)):
        t = i * CFG.tick_s
        out.append(est.update(t, feats_of_t(t), status_of_t(t)))
    return out


def base_features(t, hr=70.0, lnr=3.6, eng=-1.0, alpha=2.5, faa=0.0):
    rng = np.random.default_rng(int(t * 4))
    return {
        "hr_bpm": hr + rng.normal(0, 0.5),
        "ln_rmssd": lnr + rng.normal(0, 0.05),
        "eeg_engagement_ln": eng + rng.normal(0, 0.05),
        "eeg_alpha_ln": alpha + rng.normal(0, 0.05),
        "faa": faa + rng.normal(0, 0.03),
    }


def test_prior_during_baseline_then_tracks_feature_changes():
    est = make_estimator(CFG)
    out = feed(est, lambda t: base_features(t) if t < 60 else base_features(t, hr=64.0, lnr=3.9))
    assert out[10].arousal == CFG.estimator.prior_arousal and out[10].confidence == 0.0
    at_60 = out[int(59 / CFG.tick_s)].arousal
    assert at_60 == pytest.approx(CFG.estimator.prior_arousal, abs=0.1)
    # slower heart, higher RMSSD: arousal falls below the prior
    assert out[-1].arousal < CFG.estimator.prior_arousal - 0.3
    assert out[-1].confidence > CFG.estimator.min_confidence


def test_stale_modalities_lower_confidence_and_hold_the_estimate():
    est = make_estimator(CFG)
    stale = {"hrv": ModalityStatus(1.0, 60.0, 10.0), "eeg": ModalityStatus(1.0, 4.0, 10.0)}
    out = feed(est, base_features, lambda t: stale if 100 <= t < 150 else OK)
    before = out[int(99 / CFG.tick_s)]
    during = out[int(149 / CFG.tick_s)]
    assert during.confidence < 0.05 < before.confidence
    assert during.arousal == pytest.approx(out[int(101 / CFG.tick_s)].arousal, abs=0.02)
    assert out[-1].confidence > CFG.estimator.min_confidence


def test_hrv_only_session_has_low_valence_confidence():
    est = make_estimator(CFG)
    only = {"hrv": OK["hrv"]}

    def hrv_feats(t):
        f = base_features(t)
        return {k: f[k] for k in ("hr_bpm", "ln_rmssd")}

    out = feed(est, hrv_feats, lambda t: only)
    assert out[-1].confidence > CFG.estimator.min_confidence
    assert out[-1].valence_confidence == 0.0
    assert np.isfinite(out[-1].arousal) and np.isfinite(out[-1].valence)


def test_disagreeing_modalities_lower_confidence():
    agree = feed(
        make_estimator(CFG),
        lambda t: base_features(t) if t < 60 else base_features(t, hr=64.0, alpha=2.9),
    )
    disagree = feed(
        make_estimator(CFG),
        lambda t: base_features(t) if t < 60 else base_features(t, hr=64.0, alpha=2.1, eng=-0.6),
    )
    assert disagree[-1].confidence < agree[-1].confidence
