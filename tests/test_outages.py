"""Outages in the data (issue 14): stale modalities are NULL, no RR interval spans a gap.

A real 5-minute ECG (neurokit2's resting recording, 100 Hz) with 90 s cut out of its
middle: the samples after the cut keep their times, so the stream has a 90 s outage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attune.engine.clocks import VirtualClock
from attune.sensors.file_source import file_sources
from attune.sensors.readers import read_recording
from attune.sensors.recording import RecordedStream
from attune.sessions.config import SessionConfig
from attune.sessions.runner import run_session
from attune.sessions.store import load_session

DATA = Path(__file__).parent / "data"
CUT = (120.0, 210.0)  # the outage, seconds of the recording


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    rec = read_recording(DATA / "neurokit2" / "bio_resting_5min_100hz.csv", fs=100)
    (ecg,) = [s for s in rec.streams if s.info.kind == "ecg"]
    t = ecg.timestamps - ecg.timestamps[0]
    keep = (t < CUT[0]) | (t >= CUT[1])
    cut = RecordedStream(info=ecg.info, data=ecg.data[:, keep], timestamps=t[keep], dtype="float64")
    cfg = SessionConfig(output_dir=tmp_path_factory.mktemp("outage"), render_audio=False)
    cfg = cfg.model_copy(
        update={"control": cfg.control.model_copy(update={"command_channel": False})}
    )
    out = run_session(
        cfg,
        mode="replay",
        sources=file_sources([cut]),
        clock=VirtualClock(tick_s=cfg.tick_s),
        n_ticks=int(t[-1] / cfg.tick_s),
    )
    return load_session(out.folder), cfg


def test_stale_modality_is_recorded_as_null_not_frozen(outage):
    data, cfg = outage
    t = data.ticks["t_s"]
    stale_s = cfg.estimator.stale_s
    during = (t > CUT[0] + stale_s + cfg.tick_s) & (t < CUT[1])
    before = (t > 90.0) & (t < CUT[0])
    assert during.sum() > 300  # ~84 s of ticks
    for name in ("hr_bpm", "hrv_quality", "ln_rmssd", "sdnn_ms"):
        col = data.ticks[name]
        assert np.isfinite(col[before]).all(), name  # valid before the outage
        assert np.isnan(col[during]).all(), name  # missing, not 75 bpm and 0.98 quality
    after = t > CUT[1] + 30.0
    assert np.isfinite(data.ticks["hr_bpm"][after]).all()  # and back after it


def test_no_rr_interval_spans_the_gap(outage):
    data, _ = outage
    bt, rr = data.beats["time_s"], data.beats["rr_ms"]
    assert not ((bt > CUT[0]) & (bt < CUT[1])).any()  # no beats invented in the outage
    assert np.nanmax(rr) < 2500.0  # no 90 s "interval"
    first_after = int(np.flatnonzero(bt >= CUT[1])[0])
    assert np.isnan(rr[first_after])  # the beat after the gap has no interval
    assert np.isfinite(rr[first_after + 1])
