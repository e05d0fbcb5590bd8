"""Recording readers: every shared recording, expected values, and each kind of bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from muse_csv import muse_lsl_csv
from xdf_writer import write_xdf

from attune.sensors.readers import read_recording, select_streams
from attune.sensors.types import SensorError

DATA = Path(__file__).parent / "data"

# file, read_recording kwargs, expected {kind: fs}
SHARED = [
    ("biosppy/ecg.txt", {}, {"ecg": 1000.0}),
    ("biosppy/ppg.txt", {}, {"ppg": 1000.0}),
    ("biosppy/eeg_ec.txt", {}, {"eeg": 125.0}),
    ("biosppy/eeg_eo.txt", {"fs": 125.0, "kind": "eeg"}, {"eeg": 125.0}),
    ("neurokit2/bio_resting_5min_100hz.csv", {"fs": 100.0}, {"ecg": 100.0, "ppg": 100.0}),
    ("neurokit2/bio_resting_8min_100hz.csv", {"fs": 100.0}, {"ecg": 100.0}),
    ("neurokit2/bio_eventrelated_100hz.csv", {"fs": 100.0}, {"ecg": 100.0}),
    ("neurokit2/ecg_1000hz.csv", {"fs": 1000.0}, {"ecg": 1000.0}),
    ("polar/polar_h10_converted.csv", {}, {"ecg": 130.161, "rr": 0.0, "hr": 0.0}),
    ("eeg_mne/sample-ant-aux-raw.fif", {"columns": ["AUX2"], "kind": "ecg"}, {"ecg": 1024.0}),
    ("eeg_mne/sample-eeg-ant-raw.fif", {}, {"eeg": 1024.0, "ecg": 1024.0}),
    ("eeg_mne/test_edf_stim_channel.edf", {}, {"eeg": 128.0, "ecg": 128.0, "markers": 0.0}),
    ("eeg_mne/test_bdf_stim_channel.bdf", {}, {"eeg": 500.0, "markers": 0.0}),
    ("eeg_mne/test.bdf", {}, {"eeg": 2048.0, "markers": 0.0}),
    ("xdf/clock_resets.xdf", {}, {"eeg": 100.0, "markers": 0.0}),
    ("xdf/minimal.xdf", {}, {"eeg": 10.0, "markers": 0.0}),
]
UNITS = {"eeg": "uV", "ecg": "mV", "ppg": "au", "rr": "ms", "hr": "bpm", "markers": ""}


@pytest.mark.parametrize(("name", "kwargs", "expected"), SHARED, ids=[s[0] for s in SHARED])
def test_every_shared_recording_reads(name, kwargs, expected):
    rec = read_recording(DATA / name, **kwargs)
    got = {s.info.kind: round(s.info.fs, 3) for s in rec.streams}
    assert got == expected
    for s in rec.streams:
        assert s.info.units == UNITS[s.info.kind]
        assert s.data.dtype == np.float64 and np.isfinite(s.data).all()
        assert np.all(np.diff(s.timestamps) >= 0)
        assert s.n_samples > 0
        if s.dtype == "float32":  # republishing as float32 is bit-exact
            assert np.array_equal(s.data.astype(np.float32).astype(np.float64), s.data)


def test_minimal_xdf_expected_values(capfd):
    rec = read_recording(DATA / "xdf/minimal.xdf")
    eeg, mk = select_streams(rec, kinds=["eeg"])[0], select_streams(rec, kinds=["markers"])[0]
    assert eeg.dtype == "int16" and eeg.info.fs == 10.0 and eeg.n_samples == 9
    np.testing.assert_array_equal(eeg.data[:, :3].T, [[192, 255, 238], [12, 22, 32], [13, 23, 33]])
    np.testing.assert_allclose(np.diff(eeg.timestamps), 0.1, rtol=1e-9)
    assert mk.labels[1:3] == ("Hello", "World") and mk.n_samples == 9
    assert any("Segments and clock-segments differ" in w for w in rec.warnings)
    out = capfd.readouterr()
    assert "Segments" not in out.out + out.err  # pyxdf's log is captured, not printed


def test_xdf_clock_reset_and_gap_handled():
    rec = read_recording(DATA / "xdf/clock_resets.xdf")
    eeg = select_streams(rec, names=["BioSemi"])[0]
    assert eeg.dtype == "float32" and eeg.info.n_channels == 8
    assert any("clock reset" in w for w in rec.warnings)
    assert any("time gap" in w and "stale" in w for w in rec.warnings)
    assert any("effective rate" in w for w in rec.warnings)


def test_xdf_empty_streams_skipped_with_warning():
    with pytest.raises(SensorError, match="no EEG, ECG, PPG or RR signal"):
        read_recording(DATA / "xdf/empty_streams.xdf")
    rec = read_recording(DATA / "xdf/empty_streams.xdf", kind="markers")
    assert [s.info.name for s in rec.streams] == ["ctrl"]
    assert sum("no samples; skipped" in w for w in rec.warnings) == 2


def test_xdfz_and_labrecorder_eeg_with_ecg_channel_and_markers(tmp_path):
    fs, n = 250.0, 2500
    t = 100 + np.arange(n) / fs
    x = np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)
    p = write_xdf(
        tmp_path / "lr.xdf",
        [
            dict(name="BrainAmp", type="EEG", fmt="float32", srate=fs, times=t, values=x,
                 channels=[("Fp1", "EEG", "microvolts"), ("AF7", "EEG", "microvolts"),
                           ("vEOG", "EOG", "microvolts"), ("ECG", "ECG", "microvolts")]),
            dict(name="Markers", type="Markers", fmt="string", srate=0, times=[101.0, 102.5],
                 values=["start", "stop"]),
        ],
    )  # fmt: skip
    gz = tmp_path / "lr.xdfz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    for path in (p, gz):
        rec = read_recording(path)
        eeg, ecg, mk = (select_streams(rec, kinds=[k])[0] for k in ("eeg", "ecg", "markers"))
        assert eeg.info.channels == ("Fp1", "AF7") and eeg.dtype == "float32"
        np.testing.assert_array_equal(eeg.data, x[:, :2].T)  # bit-exact
        assert ecg.info.name == "BrainAmp/ecg" and ecg.info.units == "mV"
        np.testing.assert_allclose(ecg.data[0], x[:, 3] * 1e-3, rtol=1e-6)
        assert mk.labels == ("start", "stop")
        np.testing.assert_allclose(np.diff(eeg.timestamps), 1 / fs, rtol=1e-6)
        assert any("vEOG (eog)" in w for w in rec.warnings)


def test_mne_units_and_markers():
    import mne

    raw = mne.io.read_raw(DATA / "eeg_mne/sample-eeg-ant-raw.fif", preload=True, verbose="error")
    rec = read_recording(DATA / "eeg_mne/sample-eeg-ant-raw.fif")
    eeg, ecg = select_streams(rec, kinds=["eeg"])[0], select_streams(rec, kinds=["ecg"])[0]
    assert "vEOG" not in eeg.info.channels and "M1" not in eeg.info.channels
    np.testing.assert_allclose(eeg.data[0], raw.get_data(picks=["Fp1"])[0] * 1e6, rtol=1e-6)
    np.testing.assert_allclose(ecg.data[0], raw.get_data(picks=["ECG"])[0] * 1e3, rtol=1e-6)
    np.testing.assert_allclose(eeg.timestamps[:3], [0, 1 / 1024, 2 / 1024])
    bdf = read_recording(DATA / "eeg_mne/test_bdf_stim_channel.bdf")
    mk = select_streams(bdf, kinds=["markers"])[0]
    assert mk.n_samples == 9 and set(mk.labels) <= {"1", "2", "3", "4"}


def test_ant_aux_channel_as_ecg():
    with pytest.raises(SensorError, match=r"AUX2 \(misc\).*--column NAME --kind KIND"):
        read_recording(DATA / "eeg_mne/sample-ant-aux-raw.fif")
    rec = read_recording(DATA / "eeg_mne/sample-ant-aux-raw.fif", columns=["aux2"], kind="ecg")
    (s,) = rec.streams
    assert s.info.channels == ("AUX2",) and s.info.units == "mV" and s.n_samples == 153603


def test_brainvision(tmp_path):
    fs, n = 500.0, 1000
    x = np.random.default_rng(1).normal(scale=10.0, size=(2, n)).astype(np.float32)  # uV
    (tmp_path / "rec.eeg").write_bytes(x.T.astype("<f4").tobytes())
    (tmp_path / "rec.vhdr").write_text(
        "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        "DataFile=rec.eeg\nMarkerFile=rec.vmrk\nDataFormat=BINARY\nDataOrientation=MULTIPLEXED\n"
        f"NumberOfChannels=2\nSamplingInterval={1e6 / fs:g}\n[Binary Infos]\n"
        "BinaryFormat=IEEE_FLOAT_32\n[Channel Infos]\nCh1=Cz,,1,µV\nCh2=EKG,,1,µV\n"
    )
    (tmp_path / "rec.vmrk").write_text(
        "Brain Vision Data Exchange Marker File, Version 1.0\n[Common Infos]\nCodepage=UTF-8\n"
        "DataFile=rec.eeg\n[Marker Infos]\nMk1=Stimulus,S  1,200,1,0\n"
    )
    rec = read_recording(tmp_path / "rec.vhdr")
    eeg, ecg, mk = (select_streams(rec, kinds=[k])[0] for k in ("eeg", "ecg", "markers"))
    np.testing.assert_allclose(eeg.data[0], x[0], rtol=1e-5)
    np.testing.assert_allclose(ecg.data[0], x[1] * 1e-3, rtol=1e-5)
    assert mk.labels == ("Stimulus/S  1",)
    np.testing.assert_allclose(mk.timestamps, [199 / fs])


def test_polar_h10_rr_hr_and_ecg_on_its_real_rate():
    rec = read_recording(DATA / "polar/polar_h10_converted.csv")
    ecg, rr, hr = (select_streams(rec, kinds=[k])[0] for k in ("ecg", "rr", "hr"))
    raw = np.genfromtxt(DATA / "polar/polar_h10_converted.csv", delimiter=",", names=True)
    have = ~np.isnan(raw["rr_ms"])
    np.testing.assert_array_equal(rr.data[0], raw["rr_ms"][have])
    assert rr.info.fs == 0.0 and 375 <= rr.data.min() and rr.data.max() <= 1417
    # Beat times move with the ECG's dejittered grid (the file's clock wanders by ms).
    np.testing.assert_allclose(rr.timestamps, raw["time_ns"][have] * 1e-9, rtol=0, atol=0.01)
    np.testing.assert_array_equal(ecg.data[0], raw["ecg_mV"])  # dejittered, not resampled
    t = raw["time_ns"] * 1e-9
    real = (t.size - 1) / (t[-1] - t[0])
    assert abs(ecg.info.fs - real) < 1e-3 and ecg.info.fs != 130.0  # 130.161 Hz, not 130
    np.testing.assert_allclose(np.diff(ecg.timestamps), 1 / ecg.info.fs, atol=1e-6)  # epoch s
    assert any("130.161 Hz estimated" in w for w in rec.warnings)
    # The strap's own heart rate is a stream too, for the engine to cross-check.
    hr_have = ~np.isnan(raw["hr_bpm"])
    np.testing.assert_array_equal(hr.data[0], raw["hr_bpm"][hr_have])
    assert hr.info.units == "bpm" and hr.info.channels == ("hr_bpm",)
    # The RR intervals and the span of the file agree on the mean heart rate (~80 bpm).
    assert abs(60e3 / rr.data[0].mean() - 798 / (t[-1] - t[0]) * 60) < 2.0


def test_muse_lsl_csv(tmp_path):
    fs, n = 256.0, 2560
    t = 1.6e9 + np.arange(n) / fs + np.random.default_rng(2).uniform(0, 1e-4, n)
    x = np.random.default_rng(3).normal(size=(n, 5))
    p = tmp_path / "muse.csv"
    np.savetxt(p, np.column_stack([t, x]), delimiter=",", fmt="%.6f",
               header="timestamps,TP9,AF7,AF8,TP10,Right AUX", comments="")  # fmt: skip
    rec = read_recording(p)
    (s,) = rec.streams
    assert s.info.kind == "eeg" and s.info.channels == ("TP9", "AF7", "AF8", "TP10")
    assert s.info.fs == 256.0
    assert any("Right AUX" in w for w in rec.warnings)


def test_mind_monitor_csv(tmp_path):
    lines = ["TimeStamp,Delta_TP9,RAW_TP9,RAW_AF7,RAW_AF8,RAW_TP10,AUX_RIGHT,HSI_TP9,Elements"]
    for k in range(600):
        ms = k * 1000 // 256  # ms resolution, as written by Mind Monitor
        ts = f"2023-01-02 10:00:{ms // 1000:02d}.{ms % 1000:03d}"
        lines.append(f"{ts},0.5,{800 + k % 7},{801},{802},{803 + k % 3},0,1,")
        if k == 300:
            lines.append(f"{ts},,,,,,,,/muse/elements/blink")
    p = tmp_path / "mindmonitor.csv"
    p.write_text("\n".join(lines) + "\n")
    rec = read_recording(p)
    eeg, mk = select_streams(rec, kinds=["eeg"])[0], select_streams(rec, kinds=["markers"])[0]
    assert eeg.info.channels == ("RAW_TP9", "RAW_AF7", "RAW_AF8", "RAW_TP10")
    assert eeg.n_samples == 600 and eeg.info.fs == 256.0
    assert mk.labels == ("/muse/elements/blink",)


def test_single_column_ecg_csv_with_fs_kind_column(tmp_path):
    p = tmp_path / "mitdb.csv"
    x = np.sin(np.arange(3600) / 50.0)
    p.write_text("MLII,V5\n" + "\n".join(f"{v:.5f},{-v:.5f}" for v in x) + "\n")
    rec = read_recording(p, fs=360.0, kind="ecg", columns=["MLII"])
    (s,) = rec.streams
    assert s.info.kind == "ecg" and s.info.fs == 360.0 and s.info.channels == ("MLII",)
    np.testing.assert_allclose(s.data[0], np.round(x, 5))
    np.testing.assert_allclose(s.timestamps[:2], [0, 1 / 360])


def test_select_streams():
    rec = read_recording(DATA / "eeg_mne/test_edf_stim_channel.edf")
    (e,) = select_streams(rec, kinds=["eeg"], channels=["eeg fp2", "EEG Fp1"])
    assert e.info.channels == ("EEG Fp2", "EEG Fp1") and e.data.shape == (2, 1228)
    assert len(select_streams(rec, names=["test_edf_stim_channel"])) == 3
    with pytest.raises(
        SensorError, match="no stream matches.*'test_edf_stim_channel/eeg' \\(eeg\\)"
    ):
        select_streams(rec, kinds=["rr"])
    with pytest.raises(SensorError, match="no channel 'Oz'"):
        select_streams(rec, kinds=["eeg"], channels=["Oz"])


# ---------------------------------------------------------------- bad input (README table)
def test_bad_missing_file(tmp_path):
    with pytest.raises(SensorError, match=r"nope\.xdf: no such file"):
        read_recording(tmp_path / "nope.xdf")


def test_bad_unknown_format(tmp_path):
    p = tmp_path / "rec.mat"
    p.write_bytes(b"x")
    with pytest.raises(SensorError, match=r"rec\.mat: unknown format '\.mat'; Attune reads"):
        read_recording(p)


def test_bad_truncated_xdf(tmp_path):
    src = (DATA / "xdf/clock_resets.xdf").read_bytes()
    half = tmp_path / "half.xdf"
    half.write_bytes(src[: len(src) // 2])
    rec = read_recording(half)  # what was recorded is kept
    eeg = select_streams(rec, kinds=["eeg"])[0]
    assert 1000 < eeg.n_samples < 27815
    assert any("truncated or corrupt" in w for w in rec.warnings)
    stub = tmp_path / "stub.xdf"
    stub.write_bytes(src[:100])
    with pytest.raises(SensorError, match=r"stub\.xdf: not a readable XDF file"):
        read_recording(stub)


def test_bad_corrupt_bytes(tmp_path):
    p = tmp_path / "garbage.xdf"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(SensorError, match=r"garbage\.xdf: not a readable XDF file"):
        read_recording(p)
    f = tmp_path / "garbage.edf"
    f.write_bytes(b"0       " + bytes(300))
    with pytest.raises(SensorError, match=r"garbage\.edf: cannot read as EDF"):
        read_recording(f)
    c = tmp_path / "garbage.csv"
    c.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(SensorError, match=r"garbage\.csv: binary content"):
        read_recording(c)


def test_bad_string_typed_eeg(tmp_path):
    p = write_xdf(tmp_path / "s.xdf", [dict(name="BadEEG", type="EEG", fmt="string", srate=250,
                                            times=[1.0, 1.004], values=["1", "2"])])  # fmt: skip
    with pytest.raises(SensorError, match="'BadEEG' .*strings; expected numeric samples"):
        read_recording(p)
    c = tmp_path / "s.csv"
    c.write_text("time,ECG\n0,1.0\n0.01,abc\n")
    with pytest.raises(SensorError, match=r"column 'ECG' row 3 holds 'abc'; expected numbers"):
        read_recording(c)


def test_bad_channel_count(tmp_path):
    with pytest.raises(SensorError, match=r"no channel 'PPG' \(asked for 2 channels: ECG, PPG"):
        read_recording(DATA / "neurokit2/ecg_1000hz.csv", fs=1000.0, columns=["ECG", "PPG"])


def test_bad_no_sampling_rate():
    with pytest.raises(SensorError, match=r"no time column .* --fs HZ"):
        read_recording(DATA / "neurokit2/bio_resting_5min_100hz.csv")
    with pytest.raises(SensorError, match="stores fs=1024 Hz but fs=100 Hz"):
        read_recording(DATA / "eeg_mne/sample-eeg-ant-raw.fif", fs=100.0)


def _csv(tmp_path, x, name="n.csv"):
    p = tmp_path / name
    p.write_text("ECG\n" + "\n".join("" if np.isnan(v) else f"{v:.6f}" for v in x) + "\n")
    return p


def test_nan_short_run_interpolated(tmp_path):
    x = np.linspace(0, 1, 1000)
    y = x.copy()
    y[100:120] = np.nan  # 0.2 s at 100 Hz
    rec = read_recording(_csv(tmp_path, y), fs=100.0)
    (s,) = rec.streams
    assert s.n_samples == 1000
    np.testing.assert_allclose(s.data[0], x, atol=1e-6)
    assert any("1 NaN run(s) shorter than 0.5 s (20 samples) linearly interpolated" in w
               for w in rec.warnings)  # fmt: skip


def test_nan_long_run_cut_leaving_gap(tmp_path):
    y = np.linspace(0, 1, 1000)
    y[100:300] = np.nan  # 2 s
    y[:5] = np.nan  # edge run
    rec = read_recording(_csv(tmp_path, y), fs=100.0)
    (s,) = rec.streams
    assert s.n_samples == 795 and np.isfinite(s.data).all()
    assert np.isclose(np.diff(s.timestamps).max(), 2.01) and np.isclose(s.timestamps[0], 0.05)
    assert any("2 longer or edge NaN run(s) (205 samples) cut out" in w for w in rec.warnings)
    assert any("time gap" in w for w in rec.warnings)
    allnan = tmp_path / "all.csv"
    allnan.write_text("ECG\n" + "nan\n" * 50)
    with pytest.raises(SensorError, match="no EEG, ECG, PPG or RR signal"):
        read_recording(allnan, fs=100.0)


def test_timestamps_backwards(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("time,ECG\n" + "".join(f"{k / 100:.2f},{k}\n" for k in range(20))
                 + "0.05,99\n")  # fmt: skip
    with pytest.raises(
        SensorError, match=r"b\.csv: time column 'time' goes backwards at data row 21 .*140 ms"
    ):
        read_recording(p)
    jitter = tmp_path / "j.csv"  # a 5 ms step back at 100 Hz is jitter, not a reversal
    t = np.arange(100) / 100.0
    t[3] = 0.015  # 5 ms before the sample it follows
    jitter.write_text("time,ECG\n" + "".join(f"{a:.3f},{k}\n" for k, a in enumerate(t)))
    rec = read_recording(jitter)
    assert rec.streams[0].info.fs == 100.0
    assert any("1 backward timestamp step(s) (largest 5.0 ms)" in w for w in rec.warnings)
    np.testing.assert_allclose(np.diff(rec.streams[0].timestamps), 0.01)
    t = 10 + np.arange(100) / 100.0
    t[50:] -= 1.0
    x = write_xdf(tmp_path / "b.xdf", [dict(name="E", type="EEG", fmt="float32", srate=100,
                                            times=t, values=np.ones((100, 2)))])  # fmt: skip
    with pytest.raises(
        SensorError, match=r"b\.xdf: stream 'E': timestamps go backwards at sample \d+"
    ):
        read_recording(x)


def test_timestamps_jump_kept_with_warning(tmp_path):
    t = np.arange(200) / 100.0
    t[100:] += 5.0
    p = tmp_path / "j.csv"
    p.write_text("time_s,ECG\n" + "\n".join(f"{a:.3f},{a:.3f}" for a in t) + "\n")
    rec = read_recording(p, fs=100.0)
    (s,) = rec.streams
    np.testing.assert_allclose(s.timestamps, t)
    assert any("1 time gap(s)" in w and "5.010 s" in w for w in rec.warnings)


def test_copies_are_unchanged():
    shared = Path("/work/shared/data")
    if not shared.exists():
        pytest.skip("shared data not present")
    for name, _, _ in SHARED[:3]:
        assert (DATA / name).read_bytes() == (shared / name).read_bytes()


def test_module_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, attune.sensors.readers, attune.sensors.file_source; "
        "print('mne' in sys.modules, 'pyxdf' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_muse_lsl_jittered_timestamps_and_marker_column(tmp_path):
    p = tmp_path / "muse.csv"
    true_t, eeg_w, rows, codes, t = muse_lsl_csv(p)
    n_back = int((np.diff(t) < 0).sum())
    assert n_back > 20 and np.diff(t).min() < -0.008  # real muse-lsl jitter
    rec = read_recording(p)
    eeg, mk = select_streams(rec, kinds=["eeg"])[0], select_streams(rec, kinds=["markers"])[0]
    assert eeg.info.fs == 256.0 and eeg.info.channels == ("TP9", "AF7", "AF8", "TP10")
    np.testing.assert_array_equal(eeg.data, eeg_w.T)  # samples kept, only times fixed
    d = np.diff(eeg.timestamps)
    np.testing.assert_allclose(d, 1 / 256.0, atol=1e-6)
    # The grid recovers the true times up to a constant latency (< 1 sample of error).
    err = eeg.timestamps - true_t
    assert np.ptp(err) < 1e-3
    assert any(f"{n_back} backward timestamp step(s)" in w and "dejittered" in w
               for w in rec.warnings)  # fmt: skip
    assert mk.labels == tuple(str(c) for c in codes)
    np.testing.assert_allclose(mk.timestamps, eeg.timestamps[rows])
    assert any("Right AUX" in w for w in rec.warnings)


def test_muse_csv_column_variants(tmp_path):
    """Other muse-lsl/LabRecorder-export spellings: time unit, AUX, marker names."""
    n = 600
    t_ms = 1000 * (5.0 + np.arange(n) / 256.0) + np.tile([0, 0, 3.0, -2.0], n // 4)
    x = np.random.default_rng(4).normal(size=(n, 4))
    mk = np.where(np.arange(n) == 300, 7, 0)
    p = tmp_path / "m.csv"
    with open(p, "w") as f:
        f.write("timestamp_ms,TP9,AF7,AF8,TP10,AUX_RIGHT,Markers 0\n")
        for k in range(n):
            f.write(f"{t_ms[k]:.3f}," + ",".join(f"{v:.4f}" for v in x[k]) + f",0,{mk[k]}\n")
    rec = read_recording(p)
    eeg, m = select_streams(rec, kinds=["eeg"])[0], select_streams(rec, kinds=["markers"])[0]
    assert eeg.info.fs == 256.0 and eeg.n_samples == n and m.labels == ("7",)
    np.testing.assert_allclose(m.timestamps[0], 5.0 + 300 / 256.0, atol=1e-3)


def irregular_ecg_csv(path: Path, fs: float = 130.0, jitter: float = 0.3, seed: int = 1):
    """Sample a real 1000 Hz ECG (NeuroKit2) at irregular times around ``fs``: Polar layout."""
    x = np.loadtxt(DATA / "neurokit2/ecg_1000hz.csv", skiprows=1)
    t_src = np.arange(x.size) / 1000.0
    rng = np.random.default_rng(seed)
    steps = (1 + rng.uniform(-jitter, jitter, int(x.size / 1000 * fs))) / fs
    t = np.cumsum(steps)
    t = t[t < t_src[-1]]
    y = np.interp(t, t_src, x)
    ns = (1.7e18 + t * 1e9).astype(np.int64)
    path.write_text(
        "time_ns,ecg_mV\n" + "".join(f"{a},{b:.5f}\n" for a, b in zip(ns, y, strict=True))
    )
    return t_src, x, t, y


def test_irregular_ecg_resampled_onto_its_real_rate(tmp_path):
    p = tmp_path / "polar_irregular.csv"
    t_src, x, t, y = irregular_ecg_csv(p)
    real = (t.size - 1) / (t[-1] - t[0])
    rec = read_recording(p)
    (ecg,) = rec.streams
    assert abs(ecg.info.fs - real) < 0.005 * real
    assert any("irregular sampling" in w and "resampled" in w for w in rec.warnings)
    np.testing.assert_allclose(np.diff(ecg.timestamps), 1 / ecg.info.fs, atol=1e-6)
    # On its grid the signal follows the real ECG; taken as uniform it would drift away.
    truth = np.interp(ecg.timestamps - ecg.timestamps[0] + t[0], t_src, x)
    assert np.corrcoef(ecg.data[0], truth)[0, 1] > 0.97
    m = min(y.size, truth.size)
    assert np.corrcoef(y[:m], truth[:m])[0, 1] < 0.5


# ------------------------------------------------- inputs that claim too much (issue 14)
def test_xdf_header_claiming_2e9_channels_fails_fast(tmp_path):
    import resource

    p = write_xdf(tmp_path / "claim.xdf", [dict(name="EEG", type="EEG", fmt="float32",
                  srate=250, times=[1.0, 1.004], values=np.zeros((2, 2)),
                  channel_count=2_000_000_000)])  # fmt: skip
    assert p.stat().st_size < 1000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    msg = r"claim\.xdf: XDF stream 'EEG': header claims 2000000000 channels, more than the file"
    with pytest.raises(SensorError, match=msg):
        read_recording(p)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB
    # A sample chunk claiming more samples than it holds is refused the same way.
    src = write_xdf(tmp_path / "ok.xdf", [dict(name="E", type="EEG", fmt="float32", srate=10,
                    times=np.arange(5) / 10, values=np.zeros((5, 2)))]).read_bytes()  # fmt: skip
    i = src.index(b"\x01\x05" + b"\x08")  # varlen n_samples = 5, then the first sample
    bad = tmp_path / "many.xdf"
    bad.write_bytes(src[:i] + b"\x04" + (10**9).to_bytes(4, "little") + src[i + 2 :])
    with pytest.raises(SensorError, match=r"many\.xdf: XDF stream 'E': a chunk claims"):
        read_recording(bad)


def _edf(path: Path, n_records: int, fs: int = 64, claim: int | None = None) -> np.ndarray:
    from attune.benchmarks.bench_replay_memory import write_edf

    rng = np.random.default_rng(0)
    x = rng.normal(0, 20e-6, size=(2, n_records * fs))
    write_edf(path, ["EEG Cz", "ECG"], fs, n_records, lambda r0, r1: x[:, r0 * fs : r1 * fs])
    if claim is not None:
        b = bytearray(path.read_bytes())
        b[236:244] = f"{claim:<8d}".encode()
        path.write_bytes(bytes(b))
    return x


def test_truncated_and_over_claiming_edf_replay_what_is_there(tmp_path):
    p = tmp_path / "t.edf"
    _edf(p, 20)
    full = read_recording(p)
    assert select_streams(full, kinds=["eeg"])[0].n_samples == 20 * 64 and not [
        w for w in full.warnings if "record" in w
    ]
    cut = tmp_path / "cut.edf"
    cut.write_bytes(p.read_bytes()[: -(64 * 2 * 2 * 5 + 100)])  # 5.4 records missing
    rec = read_recording(cut)
    eeg = select_streams(rec, kinds=["eeg"])[0]
    assert eeg.n_samples == 14 * 64
    assert any("claims 20 data records, the file holds 14" in w for w in rec.warnings)
    np.testing.assert_array_equal(eeg.data, select_streams(full, kinds=["eeg"])[0].data[:, :896])
    over = tmp_path / "over.edf"
    _edf(over, 3, claim=99_999_999)
    rec = read_recording(over)
    assert select_streams(rec, kinds=["eeg"])[0].n_samples == 3 * 64
    assert any("claims 99999999 data records, the file holds 3" in w for w in rec.warnings)
    bad = tmp_path / "signals.edf"
    b = bytearray(p.read_bytes()[:600])
    b[252:256] = b"9999"
    bad.write_bytes(bytes(b))
    with pytest.raises(SensorError, match=r"signals\.edf: header claims 9999 signals"):
        read_recording(bad)


def test_absurd_rates_refused(tmp_path):
    p = _csv(tmp_path, np.sin(np.arange(500) / 10))
    for fs in (0.001, 1e9, float("nan"), float("inf"), -5.0):
        with pytest.raises(SensorError, match=r"n\.csv: fs: sampling rate .* not plausible"):
            read_recording(p, fs=fs)
    ms = tmp_path / "ms.csv"  # milliseconds in a column named "time": 0.1 Hz
    ms.write_text("time,ECG\n" + "".join(f"{k * 10},{k % 7}\n" for k in range(300)))
    with pytest.raises(SensorError, match=r"rate of the time column 'time'.*not plausible"):
        read_recording(ms)


def test_unreadable_csv_one_line(tmp_path):
    import os

    p = _csv(tmp_path, np.zeros(10))
    os.chmod(p, 0)
    if os.access(p, os.R_OK):  # root reads anything: a directory named .csv instead
        p = tmp_path / "dir.csv"
        p.mkdir()
        with pytest.raises(SensorError, match=r"dir\.csv: not a file"):
            read_recording(p, fs=100.0)
    else:
        with pytest.raises(SensorError, match=r"n\.csv: cannot read \(Permission denied\)"):
            read_recording(p, fs=100.0)


def test_time_jump_becomes_a_short_gap(tmp_path):
    t = np.arange(12000) / 100.0  # 2 minutes at 100 Hz
    t[6000:] += 1e7
    p = tmp_path / "jump.csv"
    x = np.sin(t)
    rows = [
        f"{a:.3f},{b:.4f},{int(k == 9000)}\n" for k, (a, b) in enumerate(zip(t, x, strict=True))
    ]
    p.write_text("time_s,ECG,Marker\n" + "".join(rows))
    rec = read_recording(p)
    ecg, mk = select_streams(rec, kinds=["ecg"])[0], select_streams(rec, kinds=["markers"])[0]
    assert ecg.duration_s < 120 + 61
    d = np.diff(ecg.timestamps)
    assert np.isclose(d.max(), 60.0) and (d > 1).sum() == 1
    np.testing.assert_allclose(mk.timestamps, ecg.timestamps[9000])  # markers move too
    assert any("1 time jump(s) longer than 60 s" in w and "no ticks invented" in w
               for w in rec.warnings)  # fmt: skip


def test_large_text_file_streams_from_disk_identically(tmp_path, monkeypatch):
    """Above SPILL_BYTES the numeric columns go to a temporary file, read in blocks."""
    import attune.sensors.read_text as read_text

    p = tmp_path / "muse.csv"
    muse_lsl_csv(p, seconds=20.0)
    t = np.arange(3000) / 100.0
    t[1500:] += 1e6
    jump = tmp_path / "jump.csv"
    jump.write_text("time_s,ECG\n" + "".join(f"{a:.3f},{np.sin(a):.4f}\n" for a in t))
    for path in (p, jump):
        mem = read_recording(path)
        monkeypatch.setattr(read_text, "SPILL_BYTES", 0)
        disk = read_recording(path)
        monkeypatch.undo()
        assert mem.warnings == disk.warnings
        for a, b in zip(mem.streams, disk.streams, strict=True):
            assert a.info == b.info and not a.lazy
            assert b.lazy == (b.info.kind != "markers")
            np.testing.assert_array_equal(a.timestamps, b.timestamps)
            np.testing.assert_array_equal(a.read(7, 1234)[0], b.read(7, 1234)[0])
            np.testing.assert_array_equal(a.data, b.data)


def test_muse_time_column_spellings_and_epoch_units(tmp_path):
    n = 2560
    t = 1.7e9 + np.arange(n) / 256.0
    x = np.random.default_rng(6).normal(size=(n, 4))
    for head, scale in (("Timestamp (ms)", 1e3), ("LSL Timestamp", 1.0), ("timestamps", 1e3)):
        p = tmp_path / "bm.csv"
        with open(p, "w") as f:
            f.write(f"{head},TP9,AF7,AF8,TP10,Right AUX\n")
            for k in range(n):
                f.write(f"{t[k] * scale:.3f}," + ",".join(f"{v:.3f}" for v in x[k]) + ",0\n")
        rec = read_recording(p)
        (eeg,) = rec.streams
        assert eeg.info.fs == 256.0 and eeg.info.channels == ("TP9", "AF7", "AF8", "TP10")
        np.testing.assert_allclose(eeg.timestamps, t, atol=1e-4)
    assert any("epoch times in ms" in w for w in rec.warnings)  # ms under a seconds name


def test_muse_lsl_xdf_right_aux_left_out(tmp_path):
    """muse-lsl's LSL stream, recorded by LabRecorder, types every channel as EEG."""
    n = 2560
    t = 50 + np.arange(n) / 256.0
    x = np.random.default_rng(7).normal(size=(n, 5)).astype(np.float32)
    chans = [(c, "EEG", "microvolts") for c in ("TP9", "AF7", "AF8", "TP10", "Right AUX")]
    p = write_xdf(tmp_path / "muse.xdf", [dict(name="Muse", type="EEG", fmt="float32",
                  srate=256, times=t, values=x, channels=chans)])  # fmt: skip
    rec = read_recording(p)
    (eeg,) = rec.streams
    assert eeg.info.channels == ("TP9", "AF7", "AF8", "TP10") and eeg.info.fs == 256.0
    assert any("Right AUX" in w for w in rec.warnings)


def test_given_rate_that_the_timestamps_contradict(tmp_path):
    t = 3.0 + np.arange(2560) / 256.0
    p = tmp_path / "r.csv"
    p.write_text("time,EEG Cz\n" + "".join(f"{a:.6f},{np.sin(a):.4f}\n" for a in t))
    rec = read_recording(p, fs=250.0)
    (eeg,) = rec.streams
    assert eeg.info.fs == 256.0
    assert any("run at 256 Hz, not the given 250 Hz" in w for w in rec.warnings)
    assert read_recording(p, fs=256.0).streams[0].info.fs == 256.0


def test_polar_sensor_logger_layout(tmp_path):
    """Polar Sensor Logger's ECG export: semicolons, ISO phone time, ms and ns columns, uV."""
    raw = np.genfromtxt(DATA / "polar/polar_h10_converted.csv", delimiter=",", names=True)
    n = 3000
    t_ns = raw["time_ns"][:n] - raw["time_ns"][0]
    uv = np.round(raw["ecg_mV"][:n] * 1000).astype(int)
    phone = np.datetime64("2024-05-05T13:52:18.000") + (t_ns // 10**6).astype("timedelta64[ms]")
    p = tmp_path / "Polar_H10_ECG.txt"
    with open(p, "w") as f:
        f.write("Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]\n")
        for k in range(n):
            f.write(f"{phone[k]};{599_000_000_000 + t_ns[k]};{t_ns[k] // 10**6};{uv[k]}\n")
    rec = read_recording(p)
    (ecg,) = rec.streams
    assert ecg.info.kind == "ecg" and ecg.info.units == "mV"
    real = (n - 1) / (t_ns[-1] - t_ns[0]) * 1e9
    assert abs(ecg.info.fs - real) < 0.002  # from the sensor's ns clock, not the ms one
    np.testing.assert_allclose(ecg.data[0], uv / 1000.0)
    np.testing.assert_allclose(np.diff(ecg.timestamps), 1 / ecg.info.fs, atol=1e-9)


def test_truncated_bdf_replays_its_complete_records(tmp_path):
    src = (DATA / "eeg_mne/test_bdf_stim_channel.bdf").read_bytes()  # 10 records of 1 s
    cut = tmp_path / "cut.bdf"
    cut.write_bytes(src[: 1280 + 6 * 6000 + 1000])  # 6 whole records and a part
    rec = read_recording(cut)
    eeg = select_streams(rec, kinds=["eeg"])[0]
    assert eeg.n_samples == 6 * 500
    assert any("claims 10 data records, the file holds 6" in w for w in rec.warnings)
    full = select_streams(read_recording(DATA / "eeg_mne/test_bdf_stim_channel.bdf"), kinds=["eeg"])
    np.testing.assert_array_equal(eeg.data, full[0].data[:, : 6 * 500])
