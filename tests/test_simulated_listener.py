"""Tests of the simulated listener (sensors/simulated_listener.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from attune.sensors.listener_response import ResponseTraits
from attune.sensors.simulated_listener import (
    DT_S,
    ListenerHistory,
    ListenerTraits,
    SimulatedListener,
)
from attune.sensors.types import SensorError
from attune.sessions.simulated_run import hear_music
from attune.synthesis.params import MusicParams

CALM = MusicParams(
    tempo_bpm=60.0,
    loudness_db=-34.0,
    density=0.1,
    register_st=-7.0,
    brightness=0.1,
    tension=0.1,
)
AROUSED = MusicParams(
    tempo_bpm=108.0,
    loudness_db=-21.0,
    density=0.8,
    register_st=4.0,
    brightness=0.8,
    tension=0.7,
)


def _steady(a: float, v: float = 0.0, **kw: float) -> ListenerTraits:
    """Traits of a quiet listener resting at (a, v) (no music, no variability)."""
    return ListenerTraits(arousal_mu=a, valence_mu=v, **kw).quiet()


def _rmssd_ms(bt: np.ndarray) -> float:
    rr = np.diff(bt) * 1e3
    return float(np.sqrt(np.mean(np.diff(rr) ** 2)))


def _pull_all(sim: SimulatedListener, t: float) -> tuple[np.ndarray, np.ndarray]:
    return sim.ecg.pull(t).data, sim.eeg.pull(t).data


def test_same_seed_identical_different_seed_differs() -> None:
    traits = ListenerTraits(ectopic_rate=0.02, blink_rate_hz=0.3, emg_rate_hz=0.1)
    e1, g1 = _pull_all(SimulatedListener(seed=5, traits=traits), 30.0)
    e2, g2 = _pull_all(SimulatedListener(seed=5, traits=traits), 30.0)
    e3, g3 = _pull_all(SimulatedListener(seed=6, traits=traits), 30.0)
    assert np.array_equal(e1, e2) and np.array_equal(g1, g2)
    assert not np.allclose(e1, e3) and not np.allclose(g1, g3)


def test_pull_pattern_invariance_with_music() -> None:
    traits = ListenerTraits(ectopic_rate=0.03, blink_rate_hz=0.3, emg_rate_hz=0.2, mains_mv=0.05)
    hear_at = [(0.0, AROUSED), (12.0, CALM), (25.0, None), (33.0, CALM)]
    t_end = 45.0
    rng = np.random.default_rng(0)

    def run(step: float | None) -> dict[str, np.ndarray]:
        sim = SimulatedListener(seed=11, traits=traits, t0=100.0)
        out: dict[str, list[np.ndarray]] = {"ecg": [], "eeg": [], "rr": [], "ts": []}
        t = 100.0
        bounds = [h for h, _ in hear_at[1:]] + [t_end]
        for (t_h, params), t_next in zip(hear_at, bounds, strict=True):
            hear_music(sim, 100.0 + t_h, params)
            target = 100.0 + t_next
            while t < target:
                dt = step if step is not None else float(rng.uniform(0.003, 4.0))
                t = t + dt if t + dt < target - 1e-6 else target
                ce, cg, cr = sim.ecg.pull(t), sim.eeg.pull(t), sim.rr.pull(t)
                assert ce.n_samples == 0 or ce.timestamps[-1] <= t
                out["ecg"].append(ce.data)
                out["eeg"].append(cg.data)
                out["rr"].append(cr.data)
                out["ts"].append(ce.timestamps)
        res = {k: np.concatenate(v, axis=-1) for k, v in out.items()}
        hist = sim.history
        n = int(round(t_end / DT_S))
        res["arousal"] = hist.arousal[:n]
        res["valence"] = hist.valence[:n]
        res["hr"] = hist.hr_bpm[:n]
        return res

    a, b = run(0.1), run(None)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    assert a["ecg"].shape == (1, int(t_end * 250) + 1)
    assert a["eeg"].shape == (4, int(t_end * 256) + 1)
    np.testing.assert_allclose(np.diff(a["ts"]), 1 / 250.0, atol=1e-9)
    assert a["ts"][0] == 100.0


def test_calm_music_lowers_arousal_vs_aroused_music() -> None:
    finals = {}
    for name, params in (("calm", CALM), ("aroused", AROUSED)):
        sim = SimulatedListener(seed=3, traits=_steady(0.6, sigma=0.0))
        hear_music(sim, 0.0, params)
        sim.state_at(300.0)
        hist = sim.history
        finals[name] = float(hist.arousal[hist.t >= 240.0].mean())
    # the default (moderate) responder: calm music displaces arousal by about -0.6
    # (saturated, partly habituated), aroused music by about +0.4 (up to the ceiling)
    assert finals["calm"] < 0.2
    assert finals["aroused"] > 0.8
    assert finals["aroused"] - finals["calm"] > 0.7


def test_silence_relaxes_to_set_point_and_reference_music_holds() -> None:
    sim = SimulatedListener(seed=4, arousal0=-0.5, traits=_steady(0.6, sigma=0.0))
    sim.state_at(400.0)
    assert sim.state_at(400.0)[0] > 0.5  # relaxed back to mu = 0.6 (tau 60 s)
    # Music at the listener's own references (tempo 95 bpm, -28 LUFS, medium density,
    # home register, default tension and brightness), neither liked nor disliked and
    # never growing familiar (fam_gain 0),
    # displaces nothing: arousal stays at the set point.
    resp = ResponseTraits(like0=0.0, like_mode=0.0, fam_gain=0.0)
    neutral = MusicParams(tempo_bpm=95.0, loudness_db=-28.0, density=0.5, register_st=0.0)
    sim = SimulatedListener(seed=4, traits=_steady(0.6, sigma=0.0), response=resp)
    hear_music(sim, 0.0, neutral)
    assert abs(sim.state_at(200.0)[0] - 0.6) < 1e-9
    assert np.all(np.abs(sim.history.response_arousal) < 1e-12)


def test_hr_changes_by_a_few_bpm_and_rmssd_falls_with_arousal() -> None:
    hr, rmssd = {}, {}
    for a in (0.6, -0.5):
        sim = SimulatedListener(seed=7, traits=_steady(a, sigma=0.0), arousal0=a)
        bt = sim.beat_times(300.0)
        hr[a] = 60.0 / float(np.mean(np.diff(bt)))
        rmssd[a] = _rmssd_ms(bt)
    assert 2.0 <= hr[0.6] - hr[-0.5] <= 8.0
    assert 20.0 <= rmssd[0.6] < rmssd[-0.5] <= 60.0
    # Calibration: RMSSD within 20% of rmssd0 * exp(-gain * A).
    for a in (0.6, -0.5):
        assert rmssd[a] == pytest.approx(40.0 * np.exp(-0.4 * a), rel=0.2)


def test_hr_lags_arousal_through_sympathetic_path() -> None:
    sim = SimulatedListener(seed=8, traits=_steady(0.6, sigma=0.0))
    hear_music(sim, 0.0, CALM)
    sim.state_at(200.0)
    h = sim.history
    # Arousal starts falling after lag_s (3 s); HR follows more slowly.
    i10 = int(10.0 / DT_S)
    drop_a = (h.arousal[0] - h.arousal[i10]) / (h.arousal[0] - h.arousal[-1])
    drop_hr = (h.hr_bpm[0] - h.hr_bpm[i10]) / (h.hr_bpm[0] - h.hr_bpm[-1])
    assert 0.0 < drop_hr < drop_a
    assert h.hr_bpm[0] - h.hr_bpm[-1] < 8.0


def test_alpha_power_higher_at_low_arousal_and_faa_follows_valence() -> None:
    fs = 256.0
    alpha, beta, faa = {}, {}, {}
    for a, v in ((0.6, -0.8), (-0.5, 0.8)):
        traits = _steady(a, v, sigma=0.0, faa_gain=1.0)
        sim = SimulatedListener(seed=9, traits=traits, arousal0=a, valence0=v)
        x = sim.eeg.pull(120.0).data
        f, p = signal.welch(x, fs=fs, nperseg=512, axis=-1)
        band = (f >= 8.0) & (f <= 12.0)
        pa = p[:, band].mean(axis=1)
        alpha[a] = float(pa[2])  # TP9: no asymmetry term
        beta[a] = float(p[:, (f >= 13.0) & (f <= 30.0)].mean())
        faa[v] = float(np.log(pa[1]) - np.log(pa[0]))  # ln alpha(AF8) - ln alpha(AF7)
        total_rms = x.std(axis=1)
        assert np.all((total_rms > 8.0) & (total_rms < 40.0))
    assert 1.3 * alpha[0.6] < alpha[-0.5] < 3.0 * alpha[0.6]  # modest, docs/science/listener.md
    assert 1.1 * beta[-0.5] < beta[0.6] < 2.0 * beta[-0.5]
    assert faa[0.8] > faa[-0.8] + 0.5  # 1.6 ln units of design difference


def test_ecg_r_peaks_found_at_expected_rate() -> None:
    fs = 250.0
    sim = SimulatedListener(seed=10, ecg_fs=fs)
    x = sim.ecg.pull(120.0).data[0]
    hp = signal.sosfiltfilt(signal.butter(2, 0.5, "highpass", fs=fs, output="sos"), x)
    peaks, _ = signal.find_peaks(hp, height=0.5, distance=int(0.3 * fs))
    bt = sim.beat_times(120.0)
    bt = bt[(bt > 0.5) & (bt < 119.5)]
    found = peaks / fs
    found = found[(found > 0.5) & (found < 119.5)]
    assert found.size == bt.size
    assert np.max(np.abs(found - bt)) < 0.01
    hr = 60.0 * found.size / 119.0
    assert 60.0 < hr < 90.0
    assert 0.8 < x.max() < 1.6  # R wave ~ 1 mV


def test_ectopic_missed_and_extra_beats_on_demand() -> None:
    sim = SimulatedListener(seed=12, traits=ListenerTraits(ectopic_rate=0.05))
    bt = sim.beat_times(300.0)
    kinds = sim.beat_kinds(300.0)
    assert kinds.shape == bt.shape
    assert (kinds == 1).sum() > 0 and (kinds == 2).sum() > 0
    rr = np.diff(bt)
    dev = np.abs(rr / np.median(rr) - 1.0) > 0.2  # Malik rule flags them
    assert 0.02 < dev.mean() < 0.2
    clean = SimulatedListener(seed=12).beat_times(300.0)
    assert np.all(np.abs(np.diff(clean) / np.median(np.diff(clean)) - 1.0) < 0.25)


def test_blinks_and_emg_on_demand() -> None:
    base = SimulatedListener(seed=13).eeg.pull(60.0).data
    art = (
        SimulatedListener(seed=13, traits=ListenerTraits(blink_rate_hz=0.3, emg_rate_hz=0.3))
        .eeg.pull(60.0)
        .data
    )
    assert np.abs(base).max() < 100.0
    assert np.abs(art[0]).max() > 100.0  # blink at AF7
    f, p0 = signal.welch(base, fs=256.0, nperseg=512)
    _, p1 = signal.welch(art, fs=256.0, nperseg=512)
    band = (f >= 30.0) & (f <= 45.0)
    assert np.all(p1[:, band].mean(axis=1) > 2.0 * p0[:, band].mean(axis=1))


def test_history_state_and_validation() -> None:
    sim = SimulatedListener(seed=1, arousal0=0.2, valence0=0.1, t0=5.0)
    a, v = sim.state_at(5.0)
    assert (a, v) == (0.2, 0.1)
    sim.state_at(15.0)
    h = sim.history
    assert isinstance(h, ListenerHistory)
    assert h.t[0] == 5.0 and h.t[-1] >= 15.0
    assert h.t.shape == h.arousal.shape == h.valence.shape == h.hr_bpm.shape
    assert len(sim.sources()) == 2
    assert sim.ecg.info.source_id == "sim-1-ecg" and sim.eeg.info.units == "uV"
    assert sim.ecg.pull(4.0).n_samples == 0
    hear_music(sim, 10.0, CALM)
    with pytest.raises(SensorError, match="t must not decrease"):
        hear_music(sim, 9.0, CALM)
    with pytest.raises(SensorError, match="lag_s"):
        ListenerTraits(lag_s=0.1)
    with pytest.raises(SensorError, match="seed"):
        SimulatedListener(seed=-1)


def test_draw_gives_plausible_people() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        tr = ListenerTraits.draw(rng)
        assert 30.0 <= tr.tau_s <= 180.0 and 1.0 <= tr.lag_s <= 10.0
        assert 0.08 <= tr.mayer_hz <= 0.12 and tr.vlf_slow_bpm > 0
    assert ListenerTraits.draw(rng, ectopic_rate=0.01).ectopic_rate == 0.01
    with pytest.raises(SensorError, match="unknown trait"):
        ListenerTraits.draw(rng, music_gain=3.0)


def test_600s_of_signals_have_every_sample() -> None:
    sim = SimulatedListener(seed=2)
    e, g = _pull_all(sim, 600.0)
    assert e.shape[1] == 150001 and g.shape[1] == 153601
