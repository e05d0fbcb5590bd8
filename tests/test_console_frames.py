"""The console's frames, observers and new channel commands, without a browser.

A virtual-clock session with scripted commands feeds an observer that builds the page's
frames; they must carry exactly the store's ticks, the annotation must land in the
store, ``ack`` must be logged, and the measured level must match an offline analysis
of the rendered WAV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attune.engine.clocks import VirtualClock
from attune.engine.controller import CommandError, parse_command
from attune.sensors.simulated_listener import SimulatedListener
from attune.sessions.config import Phases, SessionConfig
from attune.sessions.console.frames import FrameBuilder
from attune.sessions.console.meter import WavTailMeter, level_of, pcm_to_float
from attune.sessions.runner import run_session
from attune.sessions.simulated_run import hear_music
from attune.sessions.store import load_session
from attune.sessions.therapist import ScriptedCommands
from attune.synthesis.supervisor import read_wav_frames


class Watcher:
    """An observer keeping the frames a console would send and the synth's measured level."""

    def __init__(self, cfg: SessionConfig) -> None:
        self.builder = FrameBuilder(cfg)
        self.frames: list[dict] = []
        self.status = ""

    def started(self, run, engine) -> None:  # noqa: ANN001
        self.started_with = (run.folder, run.channel)

    def tick(self, r, row, events) -> None:  # noqa: ANN001
        self.frames.append(self.builder.frame(row, events))

    def ended(self, status: str) -> None:
        self.status = status


def test_frames_carry_the_store_ticks_and_commands_are_recorded(tmp_path: Path) -> None:
    cfg = SessionConfig(
        output_dir=tmp_path,
        seed=3,
        phases=Phases(baseline_s=3.0, match_s=9.0, transition_s=0.0, maintain_s=0.0),
    )
    listener = SimulatedListener(seed=3)
    script = [
        (4.0, "pin tempo_bpm 70"),
        (5.0, "annotate eyes  closed, breathing slowly"),
        (5.5, "ack stale-sensor"),
        (6.0, "ack Not A Code"),
    ]
    watcher = Watcher(cfg)
    out = run_session(
        cfg,
        mode="simulate",
        sources=listener.sources(),
        clock=VirtualClock(tick_s=cfg.tick_s),
        n_ticks=48,
        listeners=[lambda t, p: hear_music(listener, t, p)],
        commands=[ScriptedCommands(script)],
        observers=[watcher],
    )
    data = load_session(out.folder)
    assert watcher.status == "ended" and watcher.started_with[0] == out.folder
    assert len(watcher.frames) == data.n_ticks == 48
    assert [f["seq"] for f in watcher.frames] == list(range(1, 49))
    t = np.array([f["t"] for f in watcher.frames])
    np.testing.assert_array_equal(t, data.ticks["t_s"])
    for name in ("tempo_bpm", "loudness_db", "fade"):
        np.testing.assert_array_equal([f["params"][name] for f in watcher.frames], data.ticks[name])
    arousal = np.array([np.nan if f["arousal"] is None else f["arousal"] for f in watcher.frames])
    np.testing.assert_array_equal(arousal, data.ticks["arousal"])
    after_pin = [f for f in watcher.frames if f["t"] >= 4.0]
    assert all(f["reasons"]["tempo_bpm"]["reason"] == "pin" for f in after_pin[1:])
    assert after_pin[0]["pins"] == {"tempo_bpm": 70.0}
    events = [e for _, e in data.events]
    assert "annotation: eyes  closed, breathing slowly" in events
    assert "ack stale-sensor" in events
    assert any(e.startswith("command rejected: ack:") for e in events)
    assert [(a[0], a[2]) for a in data.annotations] == [(5.0, "eyes  closed, breathing slowly")]
    # the tail meter reads the newest audio of session.wav (follows a running session)
    level = WavTailMeter(out.folder).measure()
    assert level is not None
    raw, nch, width = read_wav_frames(out.folder / "session.wav")
    x = pcm_to_float(raw.tobytes(), nch, width)
    assert level["rendered_s"] == pytest.approx(x.shape[0] / 48000)
    ref = level_of(x[-int(0.4 * 48000) :], 48000)
    assert level["rms_dbfs"] == pytest.approx(ref["rms_dbfs"], abs=0.05)
    assert level["lufs"] == ref["lufs"]


def test_the_synth_measures_the_level_of_what_it_sends_out(tmp_path: Path) -> None:
    """The output level the console shows: measured on the synth's output bus."""
    from attune.synthesis.composer import Composer
    from attune.synthesis.params import params_for
    from attune.synthesis.synth import OfflineRenderer

    wav = tmp_path / "out.wav"
    synth = OfflineRenderer(wav)
    composer = Composer(seed=1)
    playing = params_for(0.2, 0.2).with_(fade=1.0)
    assert synth.output_rms_dbfs() is None
    synth.start()
    try:
        for k in range(1, 13):  # 3 s of music
            synth.send(k * 0.25, playing, composer.advance(playing, k * 0.25))
        assert synth.ping() == pytest.approx(3.0, abs=0.01)
        measured_playing = synth.output_rms_dbfs()
        silent = playing.with_(fade=0.0)
        for k in range(13, 29):  # the 1 s fade ramp, then silence
            synth.send(k * 0.25, silent, composer.advance(silent, k * 0.25))
        synth.ping()
        measured_silent = synth.output_rms_dbfs()
    finally:
        synth.close()
    x, sr = read_wav_frames(wav)[0], 48000
    y = pcm_to_float(x.tobytes(), 2, 2)
    ref = level_of(y[int(2.8 * sr) : int(3.0 * sr)], sr)["rms_dbfs"]
    assert measured_playing is not None and measured_silent is not None
    assert measured_playing == pytest.approx(ref, abs=3.0)  # ~80 ms follower vs 200 ms window
    assert measured_playing > -50.0 and measured_silent < -90.0


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("annotate", "annotate: expected"),
        ("annotate   ", "annotate: expected"),
        ("ack", "ack: expected"),
        ("ack Stale", "ack: expected"),
        ("ack a b", "ack: expected"),
    ],
)
def test_annotate_and_ack_refuse_bad_lines(line: str, match: str) -> None:
    with pytest.raises(CommandError, match=match):
        parse_command(line)


def test_annotate_keeps_the_text_as_typed() -> None:
    assert parse_command("ANNOTATE  Said: 'calmer'  ") == ("annotate", ("Said: 'calmer'",))
    assert parse_command("ack paradoxical-response") == ("ack", ("paradoxical-response",))


def test_alarms_are_raised_by_priority_and_acknowledged() -> None:
    fb = FrameBuilder(SessionConfig())
    row = {"t_s": 1.0, "phase": "match", "tempo_bpm": 80.0}
    f1 = fb.frame(
        row,
        [
            "ALARM high paradoxical-response: arousal rose 0.3 while the music calmed",
            "ALARM medium stale-sensor: stream 'ECG' stale for 5 s",
            "ALARM urgent bad: not an alarm (unknown priority)",
        ],
    )
    assert [(a["priority"], a["code"]) for a in f1["alarms"]] == [
        ("high", "paradoxical-response"),
        ("medium", "stale-sensor"),
    ]
    assert f1["acked"] == []
    f2 = fb.frame({**row, "t_s": 1.25}, ["ack stale-sensor"])
    assert f2["alarms"] == [] and f2["acked"] == ["stale-sensor"]


def test_a_live_stream_going_stale_is_an_alarm_and_a_drop() -> None:
    """The LSL inlet's stale alarm (tests/test_runner.py) raises the alarm and counts a drop."""
    fb = FrameBuilder(SessionConfig())
    text = "ALARM medium stale-sensor: stream 'ecg' stale: no samples for 5 s"
    f = fb.frame({"t_s": 2.0, "phase": "match", "tempo_bpm": 80.0}, [text])
    assert [a["code"] for a in f["alarms"]] == ["stale-sensor"]
    assert fb.state.drops == {"ecg": 1}


@pytest.mark.slow
def test_level_check_measures_the_calm_clip_at_the_starting_loudness() -> None:
    from attune.sessions.build import starting_params
    from attune.sessions.console.levelcheck import level_check

    cfg = SessionConfig()
    got = level_check(cfg)
    assert got["set_loudness_db"] == starting_params(cfg).loudness_db
    assert got["device"] is None and got["played"] is False  # no audio.device here
    assert got["seconds"] == pytest.approx(2.0, abs=0.01)  # the 1 s fade-in is not measured
    assert -40.0 < got["rms_dbfs"] < got["peak_dbfs"] < -1.0
    assert abs(got["lufs"] - got["set_loudness_db"]) < 6.0
