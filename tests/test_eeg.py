from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from attune.engine.eeg import DEFAULT_BANDS, EEG_FEATURES, EEGFeatures, EEGStage
from attune.sensors.montage import classify_channels
from attune.sensors.types import Chunk, StreamInfo

DATA = Path(__file__).parent / "data"
MUSE = ("TP9", "AF7", "AF8", "TP10")


def _feed(
    stage: EEGStage, info: StreamInfo, x: np.ndarray, sizes, t0: float = 0.0, every: bool = False
):
    ts = t0 + np.arange(x.shape[1]) / info.fs
    out: list[EEGFeatures] = []
    i = 0
    for n in sizes:
        if i >= x.shape[1]:
            break
        f = stage.update(Chunk(info, x[:, i : i + n], ts[i : i + n]))
        if every:
            out.append(f)
        i += n
    return out if every else f


def _random_sizes(seed: int, hi: int):
    rng = np.random.default_rng(seed)
    while True:
        yield int(rng.integers(1, hi))


def _fixed(n: int):
    while True:
        yield n


def _window_bounds(stage: EEGStage) -> tuple[int, int]:
    """Sample range [start, end) of the window of the newest completed segments."""
    end = (stage._n_seg - 1) * stage.hop + stage.nperseg
    k = min(stage._n_seg, stage.n_window)
    return end - ((k - 1) * stage.hop + stage.nperseg), end


@pytest.mark.parametrize("fs", [256.0, 125.0])
def test_cached_segments_equal_scipy_welch(fs):
    rng = np.random.default_rng(0)
    chans = ("C3", "C4", "Pz")
    x = rng.normal(0, 10, (3, int(23.3 * fs)))
    x[1] += 20 * np.sin(2 * np.pi * 10 * np.arange(x.shape[1]) / fs)  # alpha
    info = StreamInfo("eeg", "eeg", fs, chans, "uV")
    stage = EEGStage(fs=fs, channels=chans)
    sizes = _random_sizes(1, int(fs))
    ts = np.arange(x.shape[1]) / fs
    i = checked = 0
    while i < x.shape[1]:
        n = next(sizes)
        feats = stage.update(Chunk(info, x[:, i : i + n], ts[i : i + n]))
        i += n
        if stage._n_seg >= stage.n_window and (checked == 0 or i >= x.shape[1] or n % 5 == 0):
            start, end = _window_bounds(stage)
            f_ref, p_ref = scipy.signal.welch(
                x[:, start:end],
                fs=fs,
                window="hann",
                nperseg=stage.nperseg,
                noverlap=stage.noverlap,
                detrend="constant",
                scaling="density",
            )
            f, p = stage.psd()
            np.testing.assert_allclose(f, f_ref)
            np.testing.assert_allclose(p, p_ref, rtol=1e-9, atol=0)
            # band power = density integrated over the band bins
            lo, hi = DEFAULT_BANDS["alpha"]
            m = (f_ref >= lo) & (f_ref < hi)
            alpha_ref = p_ref[:, m].sum(axis=1) * (f_ref[1] - f_ref[0])
            np.testing.assert_allclose(
                feats.band_power[:, stage.bands.index("alpha")], alpha_ref, rtol=1e-9
            )
            checked += 1
    assert checked >= 3
    assert stage.n_window == 3 and feats.n_segments == 3 and feats.coverage_s == 4.0
    assert feats.clean_fraction == 1.0


def test_nothing_before_first_segment():
    info = StreamInfo("eeg", "eeg", 256.0, ("Cz",), "uV")
    stage = EEGStage(fs=256.0, channels=("Cz",))
    x = np.random.default_rng(0).normal(0, 10, (1, 511))
    f = _feed(stage, info, x, _fixed(64))
    assert f.n_segments == 0
    assert all(v is None for v in f.as_features().values())
    f = stage.update(Chunk(info, np.zeros((1, 1)) + 3.0, np.array([2.0])))
    assert f.n_segments == 1
    feats = f.as_features()
    assert all(v is not None and np.isfinite(v) for k, v in feats.items() if k != "faa")
    assert feats["faa"] is None


def _biosppy_uv(name: str) -> np.ndarray:
    """BioSPPy EEG in uV, shape (1, n).

    The files hold 10-bit ADC codes (0-1023). Assumed BITalino EEG sensor transfer
    function (the BioSPPy examples come from BITalino): uV = (code / 2**10 - 1/2) * 3.3 V /
    41782 * 1e6, a +-39.5 uV range; the relative alpha test does not depend on it.
    """
    x = np.loadtxt(DATA / "biosppy" / f"{name}.txt")
    return ((x / 1024.0 - 0.5) * 3.3 / 41782.0 * 1e6)[None, :]


def _relative_alpha(name: str, raw: bool = False) -> float:
    fs = 125.0
    if raw:  # ADC codes, units unknown: amplitude rules off, only flat and EMG rules
        x = np.loadtxt(DATA / "biosppy" / f"{name}.txt")[None, :]
        info = StreamInfo(name, "eeg", fs, ("EEG",), "au")
        stage = EEGStage(fs=fs, channels=("EEG",), max_abs_uv=None, max_ptp_uv=None)
    else:
        x = _biosppy_uv(name)
        info = StreamInfo(name, "eeg", fs, ("EEG",), "uV")
        stage = EEGStage(fs=fs, channels=("EEG",))
    feats = _feed(stage, info, x, _random_sizes(5, 60), every=True)
    rel = [f.alpha_rel for f in feats if f.n_segments == 3 and f.alpha_rel is not None]
    assert len(rel) > 0.9 * len(feats)
    return float(np.median(rel))


@pytest.mark.parametrize("raw", [False, True])
def test_eyes_closed_has_more_relative_alpha(raw):
    closed, opened = _relative_alpha("eeg_ec", raw), _relative_alpha("eeg_eo", raw)
    print(f"relative alpha (raw={raw}): eyes closed {closed:.3f}, eyes open {opened:.3f}")
    assert closed > 1.5 * opened


def _muse_signal(
    right_alpha: float, left_alpha: float, seconds: float = 20.0, fs: float = 256.0, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = rng.normal(0, 5, (4, n))
    x[1] += left_alpha * np.sin(2 * np.pi * 10 * t)
    x[2] += right_alpha * np.sin(2 * np.pi * 10 * t + 1.0)
    common = 15 * np.sin(2 * np.pi * 10 * t + 2.0)  # reference alpha seen by all sites
    x += common
    return x


def test_faa_sign_follows_the_side_with_more_alpha():
    fs = 256.0
    info = StreamInfo("muse", "eeg", fs, MUSE, "uV")
    right = _feed(EEGStage(fs=fs, channels=MUSE), info, _muse_signal(20.0, 5.0), _fixed(64))
    left = _feed(EEGStage(fs=fs, channels=MUSE), info, _muse_signal(5.0, 20.0), _fixed(64))
    assert right.faa is not None and right.faa > 0.5
    assert left.faa is not None and left.faa < -0.5
    # lower-case names work too
    lower = tuple(c.lower() for c in MUSE)
    info_l = StreamInfo("muse", "eeg", fs, lower, "uV")
    again = _feed(EEGStage(fs=fs, channels=lower), info_l, _muse_signal(20.0, 5.0), _fixed(64))
    assert again.faa == pytest.approx(right.faa)


def test_muse_rereference_to_mastoids():
    fs = 256.0
    x = _muse_signal(20.0, 5.0)
    info = StreamInfo("muse", "eeg", fs, MUSE, "uV")
    stage = EEGStage(fs=fs, channels=MUSE)
    _feed(stage, info, x, _random_sizes(2, 100))
    y = x.copy()
    y[1:3] -= x[[0, 3]].mean(axis=0)
    start, end = _window_bounds(stage)
    _, p_ref = scipy.signal.welch(
        y[:, start:end], fs=fs, nperseg=stage.nperseg, noverlap=stage.noverlap
    )
    np.testing.assert_allclose(stage.psd()[1], p_ref, rtol=1e-9)
    # without re-referencing the common alpha stays in AF7
    plain = EEGStage(fs=fs, channels=MUSE, reference=())
    _feed(plain, info, x, _fixed(64))
    assert plain.psd()[1][1, 20] > 2 * stage.psd()[1][1, 20]


def test_pop_artifact_is_flagged_and_left_out():
    fs = 256.0
    chans = ("F3", "F4")
    rng = np.random.default_rng(7)
    x = rng.normal(0, 10, (2, int(12 * fs)))
    pop_at = int(6.0 * fs)
    x[0, pop_at : pop_at + 5] += 500.0  # electrode pop on F3
    info = StreamInfo("eeg", "eeg", fs, chans, "uV")
    stage = EEGStage(fs=fs, channels=chans)
    feats = _feed(stage, info, x, _fixed(64), every=True)
    ts_pop = pop_at / fs
    # segments [5, 7) and [6, 8) s hold the pop: in the window from t = 7 s until t = 11 s
    during = [f for f in feats if ts_pop + 1.0 <= f.t < ts_pop + 5.0 - 0.01]
    assert len(during) >= 15
    assert during and all(f.clean_fraction < 1.0 for f in during)
    f = during[0]  # window [3, 7) s: the pop sits mid-segment in [5, 7)
    assert np.all(np.isfinite(f.band_power))
    # F3's band power comes from its clean segments only: no 500 uV energy in it
    assert f.band_power[0].sum() < 3 * f.band_power[1].sum()
    assert f.as_features()["eeg_quality"] == f.clean_fraction
    assert feats[-1].clean_fraction == 1.0  # pop has left the window
    # with the rules disabled the pop dominates F3's power
    loose = EEGStage(fs=fs, channels=chans, max_abs_uv=None, max_ptp_uv=None, blink_uv=None)
    g = [h for h in _feed(loose, info, x, _fixed(64), every=True) if h.t == f.t][0]
    assert g.clean_fraction == 1.0
    assert g.band_power[0].sum() > 3 * g.band_power[1].sum()


def test_flat_channel_is_bad():
    fs = 128.0
    chans = ("F7", "F8")
    x = np.random.default_rng(3).normal(0, 10, (2, int(8 * fs)))
    x[1] = 0.01 * x[1] + 800.0  # flat (disconnected) channel with DC offset
    info = StreamInfo("eeg", "eeg", fs, chans, "uV")
    f = _feed(EEGStage(fs=fs, channels=chans), info, x, _fixed(32))
    assert f.clean_fraction == 0.5
    assert np.all(np.isnan(f.band_power[1])) and np.all(np.isfinite(f.band_power[0]))
    assert f.faa is None  # F8 has no clean data
    assert f.alpha_ln == pytest.approx(np.log(f.band_power[0, 2]))


def test_bad_configuration_is_reported():
    with pytest.raises(ValueError, match="window_s"):
        EEGStage(fs=256.0, channels=("Cz",), window_s=1.0)
    with pytest.raises(ValueError, match="reference"):
        EEGStage(fs=256.0, channels=("Cz", "Pz"), reference=("M1",))
    stage = EEGStage(fs=256.0, channels=("Cz",))
    with pytest.raises(ValueError, match="fs"):
        stage.update(
            Chunk(StreamInfo("e", "eeg", 250.0, ("Cz",), "uV"), np.zeros((1, 4)), np.arange(4.0))
        )


# ---------------------------------------------------------------------- issue 5 additions


def _welch_band_powers(x, fs, nperseg, noverlap, bands):
    f, p = scipy.signal.welch(
        x, fs=fs, window="hann", nperseg=nperseg, noverlap=noverlap, detrend="constant"
    )
    df = f[1] - f[0]
    return p, np.stack([p[:, (f >= lo) & (f < hi)].sum(axis=1) * df for lo, hi in bands], 1)


@pytest.mark.parametrize(
    ("fs", "hop_s", "seed"), [(256.0, 0.25, 1), (500.0, 0.25, 2), (128.0, 1.0, 3)]
)
def test_band_powers_equal_scipy_welch_random_chunks(fs, hop_s, seed):
    """Must-show 1: band powers == scipy.signal.welch(noverlap = nperseg - hop), 1e-9."""
    rng = np.random.default_rng(seed)
    chans = ("Fp1", "F3", "F4", "Cz", "O1", "O2")
    n = int(17.7 * fs)
    t = np.arange(n) / fs
    x = rng.normal(0, 10, (len(chans), n)) + 15 * np.sin(2 * np.pi * 10.2 * t)
    x = np.cumsum(x, axis=1) * 0.05 + x  # some 1/f-like drift
    bands = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "low_beta": (13, 20)}
    stage = EEGStage(
        fs=fs,
        channels=chans,
        segment_hop_s=hop_s,
        bands=bands,
        max_abs_uv=None,
        max_ptp_uv=None,
        blink_uv=None,
        emg_sd=None,
        emg_rel=None,
    )
    info = StreamInfo("eeg", "eeg", fs, chans, "uV")
    sizes = _random_sizes(seed, int(0.7 * fs))
    i = checked = 0
    while i < n:
        k = next(sizes)
        feats = stage.update(Chunk(info, x[:, i : i + k], t[i : i + k]))
        i += k
        if stage._n_seg >= stage.n_window:
            start, end = _window_bounds(stage)
            p_ref, bp_ref = _welch_band_powers(
                x[:, start:end], fs, stage.nperseg, stage.noverlap, bands.values()
            )
            np.testing.assert_allclose(stage.psd()[1], p_ref, rtol=1e-9, atol=0)
            np.testing.assert_allclose(feats.band_power, bp_ref, rtol=1e-9, atol=0)
            np.testing.assert_allclose(
                feats.rel_power, bp_ref / bp_ref.sum(1, keepdims=True), rtol=1e-9
            )
            checked += 1
    assert checked >= 10
    assert stage.n_window == int(round((4.0 - 2.0) / hop_s)) + 1
    assert feats.coverage_s == pytest.approx(4.0)


def _sim(chans, fs, seconds, seed=0, alpha_hz=10.0):
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = rng.normal(0, 5, (len(chans), n))
    x += 10 * np.sin(2 * np.pi * alpha_hz * t + rng.uniform(0, 6, (len(chans), 1)))
    return x


def test_filtered_chunked_equals_whole_and_units_volts():
    fs = 250.0
    chans = ("F3", "F4", "EOG", "Status")
    x = _sim(chans, fs, 12.0) + 300.0  # DC offset
    x += 8 * np.sin(2 * np.pi * 50 * np.arange(x.shape[1]) / fs)  # mains
    kw = dict(fs=fs, channels=chans, notch_hz=50, highpass_hz=0.5)
    info_uv = StreamInfo("eeg", "eeg", fs, chans, "uV")
    whole = _feed(EEGStage(**kw), info_uv, x, _fixed(x.shape[1]))
    chunked_stage = EEGStage(**kw)
    chunked = _feed(chunked_stage, info_uv, x, _random_sizes(4, 90))
    np.testing.assert_allclose(chunked.band_power, whole.band_power, rtol=1e-9)
    assert chunked.channels == ("F3", "F4")  # EOG and Status excluded
    # mains removed: 50 Hz bin far below the unfiltered one
    plain = EEGStage(fs=fs, channels=chans)
    _feed(plain, info_uv, x, _fixed(64))
    k50 = int(50 / chunked_stage.df)
    assert chunked_stage.psd()[1][0, k50] < 1e-3 * plain.psd()[1][0, k50]
    # volts: declared by metadata, or detected from amplitude with an event
    info_v = StreamInfo("eeg", "eeg", fs, chans, "V")
    in_v = _feed(EEGStage(**kw), info_v, x * 1e-6, _random_sizes(4, 90))
    np.testing.assert_allclose(in_v.band_power, whole.band_power, rtol=1e-9)
    info_au = StreamInfo("eeg", "eeg", fs, chans, "au")
    stage = EEGStage(**kw)
    first = stage.update(Chunk(info_au, x[:, :100] * 1e-6, np.arange(100) / fs))
    assert any("assuming volts" in e for e in first.events)
    assert stage._to_uv == 1e6
    forced = EEGStage(fs=fs, channels=chans, units="V")
    forced.update(Chunk(info_uv, x[:, :10] * 1e-6, np.arange(10) / fs))
    assert forced._to_uv == 1e6


def test_iapf_ratios_and_all_faa_pairs():
    fs = 256.0
    chans = ("F3", "F4", "F7", "F8", "Pz")
    x = _sim(chans, fs, 10.0, alpha_hz=10.3)
    x[1] *= 2.0  # more alpha (and everything) on F4
    stage = EEGStage(fs=fs, channels=chans)
    f = _feed(stage, StreamInfo("e", "eeg", fs, chans, "uV"), x, _fixed(64))
    assert f.iapf_hz == pytest.approx(10.3, abs=0.15)
    assert [p[:2] for p in f.faa_pairs] == [("F4", "F3"), ("F8", "F7")]
    assert f.faa == f.faa_pairs[0][2] and f.faa == pytest.approx(np.log(4.0), abs=0.2)
    assert abs(f.faa_pairs[1][2]) < 0.2
    b = {n: i for i, n in enumerate(f.bands)}
    bp = f.band_power
    assert f.beta_alpha_ln == pytest.approx(np.mean(np.log(bp[:, b["beta"]] / bp[:, b["alpha"]])))
    assert f.engagement_ln == pytest.approx(
        np.mean(np.log(bp[:, b["beta"]] / (bp[:, b["alpha"]] + bp[:, b["theta"]])))
    )
    assert set(f.as_features()) == set(EEG_FEATURES)
    assert all(np.isfinite(v) for v in f.as_features().values())


def test_channel_bad_for_long_is_dropped_and_reported():
    fs = 128.0
    chans = ("C3", "C4", "Pz")
    x = _sim(chans, fs, 40.0, seed=5)
    x[2, int(5 * fs) : int(25 * fs)] = 12.0  # Pz disconnected (flat) from 5 to 25 s
    stage = EEGStage(fs=fs, channels=chans, drop_after_s=10.0)
    feats = _feed(stage, StreamInfo("e", "eeg", fs, chans, "uV"), x, _fixed(32), every=True)
    events = [(f.t, e) for f in feats for e in f.events]
    assert [e for _, e in events] == [
        "eeg: channel Pz dropped (bad for 10.0 s)",
        "eeg: channel Pz restored",
    ]
    t_drop, t_back = events[0][0], events[1][0]
    assert 14.9 <= t_drop <= 16.5 and 27.0 <= t_back <= 30.0
    mid = [f for f in feats if t_drop <= f.t < t_back]
    assert all(f.dropped == ("Pz",) for f in mid)
    # a dropped channel no longer lowers quality; per-channel quality shows it
    assert all(f.clean_fraction == 1.0 for f in mid if f.t > 20.0)
    assert all(f.channel_quality[2] == 0.0 for f in mid if 20.0 < f.t < 25.0)
    assert feats[-1].dropped == () and feats[-1].clean_fraction == 1.0


def test_no_eeg_channels_is_not_an_error():
    fs = 100.0
    chans = ("AUX1", "AUX2", "TRIGGER")
    stage = EEGStage(fs=fs, channels=chans)
    f = _feed(stage, StreamInfo("a", "eeg", fs, chans, "V"), np.ones((3, 800)), _fixed(25))
    assert f.channels == () and all(v is None for v in f.as_features().values())
    assert stage.excluded == chans


# ---------------------------------------------------------------------- artifact recall


def _edf_uv():
    import mne

    raw = mne.io.read_raw(DATA / "eeg_mne" / "test_edf_stim_channel.edf", verbose="ERROR")
    raw.pick("eeg", exclude=["REF_EEG REF_EEG"]).load_data(verbose="ERROR")
    names = tuple(n.replace("EEG ", "") for n in raw.ch_names)
    return raw.get_data() * 1e6, raw.info["sfreq"], names


def _recordings():
    """Real EEG in uV: BioSPPy eyes closed/open (taken as a forehead Fp1 site) and the EDF.

    Of the EDF, only the 16 working channels and the first 6 s: F8, P4 and T6 are broken
    (1900, 150 and 21000 uV standard deviation) and every channel is flat from ~6.2 s.
    """
    x, fs, names = _edf_uv()
    eeg = [c.kind == "eeg" for c in classify_channels(names)]
    keep = [i for i, c in enumerate(names) if eeg[i] and c not in ("F8", "P4", "T6")]
    edf = (x[keep, : int(6.0 * fs)], fs, tuple(names[i] for i in keep))
    return [(_biosppy_uv("eeg_ec"), 125.0, ("Fp1",)), (_biosppy_uv("eeg_eo"), 125.0, ("Fp1",)), edf]


def _run_flags(x, fs, chans):
    """Per (segment, channel) bad flags, shape (n_segments, n_channels), fed in 0.25 s chunks."""
    stage = EEGStage(fs=fs, channels=chans, drop_after_s=None)
    info = StreamInfo("eeg", "eeg", fs, chans, "uV")
    flags = []
    step = int(0.25 * fs)
    ts = np.arange(x.shape[1]) / fs
    for i in range(0, x.shape[1], step):
        before = stage._n_seg
        stage.update(Chunk(info, x[:, i : i + step], ts[i : i + step]))
        for s in range(before, stage._n_seg):
            flags.append(stage._flags[s % stage.n_window].copy())
    return np.array(flags), stage.nperseg, stage.hop


def _inject(x, fs, chans, kind, rng):
    """Add artifacts every ~10 s; return the copy and the truth (onset, end, channel rows)."""
    y = x.copy()
    n = x.shape[1]
    truth = []
    frontal = [i for i, c in enumerate(chans) if c.startswith(("Fp", "AF"))]
    for t0 in np.arange(2.0, n / fs - 3.0, 10.0) + rng.uniform(0, 1.5, 1):
        a = int(t0 * fs)
        if kind == "blink":  # 150 uV, 0.4 s raised cosine at the frontal poles
            w = int(0.4 * fs)
            y[frontal, a : a + w] += 150.0 * np.hanning(w)
            truth.append((a + w // 2, a + w // 2 + 1, frontal))
        elif kind == "emg":  # 1 s burst of 20-55 Hz noise, 20 uV rms, one channel
            c = int(rng.integers(len(chans)))
            w = int(1.0 * fs)
            sos = scipy.signal.butter(4, [20.0, 55.0], "bandpass", fs=fs, output="sos")
            b = scipy.signal.sosfilt(sos, rng.normal(size=w + 200))[200:]
            y[c, a : a + w] += 20.0 * b / b.std()
            truth.append((a, a + w, [c]))
        elif kind == "pop":  # 500 uV step decaying with 0.2 s time constant, one channel
            c = int(rng.integers(len(chans)))
            w = int(1.0 * fs)
            y[c, a : a + w] += 500.0 * np.exp(-np.arange(w) / (0.2 * fs))
            truth.append((a, a + 1, [c]))
    return y, truth


@pytest.mark.parametrize("kind", ["blink", "emg", "pop", "flat"])
def test_injected_artifacts_are_flagged(kind):
    """Must-show 4: >= 95% recall on injected artifacts."""
    rng = np.random.default_rng(11)
    hit = total = 0
    for x, fs, chans in _recordings():
        if kind == "flat":  # one channel disconnected for the whole recording
            y = x.copy()
            c = len(chans) // 2
            y[c] = 3.0 + rng.normal(0, 0.1, x.shape[1])
            flags, nper, hop = _run_flags(y, fs, chans)
            hit += int(np.count_nonzero(flags[:, c]))
            total += flags.shape[0]
            continue
        y, truth = _inject(x, fs, chans, kind, rng)
        if not truth:
            continue
        flags, nper, hop = _run_flags(y, fs, chans)
        starts = np.arange(flags.shape[0]) * hop
        for a, b, rows in truth:
            # segments that contain the whole artifact span [a, b)
            segs = np.flatnonzero((starts <= a) & (starts + nper >= b))
            for s in segs:
                hit += int(np.count_nonzero(flags[s, rows]))
                total += len(rows)
    recall = hit / total
    print(f"{kind}: recall {recall:.3f} of {total} (segment, channel) pairs")
    assert total >= 40
    assert recall >= 0.95


def test_clean_real_eeg_is_rarely_flagged():
    """Must-show 4: < 5% of clean real-EEG segments flagged."""
    bad = total = 0
    for x, fs, chans in _recordings():
        flags, _, _ = _run_flags(x, fs, chans)
        bad += int(np.count_nonzero(flags))
        total += flags.size
    print(f"clean real EEG: {bad} of {total} (segment, channel) pairs flagged = {bad / total:.3f}")
    assert total >= 500
    assert bad / total < 0.05


def test_rereferenced_small_chunks_equal_one_chunk_bit_for_bit():
    """Ticks that complete no segment re-reference in the segment buffer: same samples."""
    fs = 256.0
    info = StreamInfo("muse", "eeg", fs, MUSE, "uV")
    x = _muse_signal(20.0, 5.0, seconds=12.0)
    whole = _feed(EEGStage(fs=fs, channels=MUSE), info, x, _fixed(x.shape[1]))
    small = _feed(EEGStage(fs=fs, channels=MUSE), info, x, _random_sizes(3, 40))
    np.testing.assert_array_equal(small.band_power, whole.band_power)
    assert small.faa == whole.faa and small.alpha_ln == whole.alpha_ln


def test_median_rows_equals_numpy_bit_for_bit():
    from attune.engine.eeg import _median_rows

    rng = np.random.default_rng(0)
    for n_cols in (1, 2, 7, 60, 61):
        a = rng.lognormal(2.0, 1.0, (16, n_cols))
        np.testing.assert_array_equal(_median_rows(a), np.median(a, axis=1))
