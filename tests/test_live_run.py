"""Which LSL streams a live session reads (attune.sessions.live_run)."""

import pytest

from attune.sessions.config import validate_config
from attune.sessions.live_run import wanted_streams


def streams(*pairs):
    return [{"kind": k, "name": n} for k, n in pairs]


def test_first_cardiac_and_first_eeg_stream_feed_the_engine():
    cfg = validate_config(
        {
            "streams": streams(
                ("markers", "psychopy"),
                ("rr", "h10-rr"),
                ("ecg", "h10-ecg"),
                ("eeg", "muse"),
                ("eeg", "other-eeg"),
                ("ppg", "watch"),
                ("markers", "labrecorder"),
            )
        }
    )
    assert [s.name for s in wanted_streams(cfg)] == ["psychopy", "h10-rr", "muse", "labrecorder"]


def test_a_switched_off_modality_does_not_take_the_slot():
    pairs = (("eeg", "muse"), ("ecg", "h10-ecg"), ("rr", "h10-rr"))
    cfg = validate_config({"streams": streams(*pairs), "features": {"eeg": False}})
    assert [s.name for s in wanted_streams(cfg)] == ["h10-ecg"]
    cfg = validate_config({"streams": streams(("markers", "m"))})
    with pytest.raises(ValueError, match=r"no \[\[streams\]\] feed the estimator: streams markers"):
        wanted_streams(cfg)
