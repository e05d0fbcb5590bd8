import numpy as np
import pytest

from attune.engine.affect import ModalityStatus
from attune.sessions.build import make_estimator
from attune.sessions.config import SessionConfig

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


def test_eeg_only_session_tracks_arousal_and_valence_confidence_stays_low():
    est = make_estimator(CFG)
    only = {"eeg": OK["eeg"]}

    def eeg_feats(t):
        f = base_features(t) if t < 60 else base_features(t, eng=-1.3, alpha=2.9, faa=0.1)
        return {k: f[k] for k in ("eeg_engagement_ln", "eeg_alpha_ln", "faa")}

    out = feed(est, eeg_feats, lambda t: only)
    # more alpha, less engagement: calmer than the prior, with usable confidence
    assert out[-1].arousal < CFG.estimator.prior_arousal - 0.3
    assert out[-1].confidence > CFG.estimator.min_confidence
    # valence rests on one electrode pair's asymmetry: well below the arousal confidence
    assert 0.0 < out[-1].valence_confidence <= 0.5 * 0.6 + 1e-9
    assert out[-1].valence_confidence < out[-1].confidence


def test_valence_confidence_rises_with_a_second_cue():
    def conf(w_vhr):
        es = CFG.estimator.model_copy(update={"w_valence_hr": w_vhr})
        est = make_estimator(CFG.model_copy(update={"estimator": es}))
        return feed(est, base_features)[-1].valence_confidence

    assert conf(0.3) > conf(0.0) > 0.0


def test_a_modality_with_zero_quality_is_left_out():
    """E.g. atrial fibrillation: the HRV stage reports quality 0, HRV stops steering."""
    est = make_estimator(CFG)
    af = {"hrv": ModalityStatus(0.0, 60.0, 0.1), "eeg": OK["eeg"]}
    # after the baseline the heart races (AF) but the EEG says nothing changed
    out = feed(
        est,
        lambda t: base_features(t) if t < 60 else base_features(t, hr=110.0, lnr=2.5),
        lambda t: OK if t < 60 else af,
    )
    assert abs(out[-1].arousal - CFG.estimator.prior_arousal) < 0.1
    assert out[-1].confidence > 0.0


def test_baseline_flag_overrides_the_configured_baseline_end():
    est = make_estimator(CFG)
    for i in range(int(10 / CFG.tick_s)):
        t = i * CFG.tick_s
        est.update(t, base_features(t), OK, baseline=True)
    assert not est.baseline_ready
    e = est.update(10.0, base_features(10.0), OK, baseline=False)
    assert est.baseline_ready and e.confidence > 0.0
