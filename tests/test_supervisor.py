"""Crash isolation (issue 7, must-show 7): a SIGKILLed synth child is restarted."""

from __future__ import annotations

import numpy as np
import pytest

from attune.sessions.config import Phases, SessionConfig
from attune.sessions.store import load_session
from attune.synthesis.analysis import read_wav, rms_dbfs_windows
from attune.synthesis.composer import Composer
from attune.synthesis.params import MusicParams
from attune.synthesis.supervisor import SupervisedSynth, read_wav_frames
from attune.synthesis.synth import LiveSynth, SynthError

TICK_S = 0.25
#: Largest sample-to-sample step allowed anywhere in the audio (full-scale units).
MAX_STEP = 0.06


def level(x: np.ndarray, sr: int, t0: float, t1: float) -> float:
    seg = x[:, int(round(t0 * sr)) : int(round(t1 * sr))]
    return float(10 * np.log10(np.mean(seg**2) + 1e-12))


def test_kill_restarts_with_fade_in_and_keeps_time(tmp_path):
    events: list[tuple[float, str]] = []
    wav = tmp_path / "s.wav"
    sup = SupervisedSynth(wav, on_event=lambda t, s: events.append((t, s)))
    sup.start()
    comp = Composer(seed=3)
    p = MusicParams(tempo_bpm=90, loudness_db=-24)
    first_pid = sup.pid
    for k in range(1, 97):  # 24 s
        t = k * TICK_S
        sup.send(t, p, comp.advance(p, t))
        if t == 10.0:
            assert sup.child.ping() == 10.0  # the child has rendered up to now
            sup.kill_child()
    stats = sup.close()
    assert sup.n_restarts == 1 and sup.pid is None
    assert first_pid is not None
    assert len(events) == 1
    t_ev, text = events[0]
    assert t_ev == 10.0
    assert text == "warning: synth process died (SIGKILL); restarting with fade-in"
    assert stats.duration_s == pytest.approx(24.0)
    assert not list(tmp_path.glob("*.part*"))  # segments joined and removed
    assert wav.stat().st_mode & 0o077 == 0
    x, sr = read_wav(wav)
    assert x.shape[1] == 24 * sr  # no gap: the file keeps the session's timeline
    before = level(x, sr, 5.0, 9.5)
    assert level(x, sr, 10.0, 10.1) < before - 20.0  # restarted from silence
    assert level(x, sr, 11.0, 12.0) > before - 6.0  # back within 2 s
    assert np.max(np.abs(np.diff(x, axis=1))) < MAX_STEP  # fade-in, and no click at the cut


def test_read_frames_of_unfinished_wav(tmp_path):
    from scipy.io import wavfile

    y = (np.arange(2000, dtype=np.int16).reshape(1000, 2) % 300).astype(np.int16)
    path = tmp_path / "w.wav"
    wavfile.write(path, 48000, y)
    data = bytearray(path.read_bytes())
    data[40:44] = (0).to_bytes(4, "little")  # data size never written (crash)
    data += b"\x01"  # a partial frame
    path.write_bytes(bytes(data))
    raw, nch, width = read_wav_frames(path)
    assert (nch, width) == (2, 2)
    np.testing.assert_array_equal(raw.copy().view("<i2").reshape(-1, 2), y)


def test_live_without_device_fails_with_one_line():
    with pytest.raises(SynthError) as exc:
        LiveSynth("no-such-device").start()
    msg = str(exc.value)
    assert "\n" not in msg and "audio output device" in msg
    sup = SupervisedSynth(audio="portaudio", device=3)
    with pytest.raises(SynthError, match="audio output device"):
        sup.start()
    with pytest.raises(SynthError, match="wav_path"):
        SupervisedSynth(audio="offline")


def short_config(tmp_path) -> SessionConfig:
    return SessionConfig(
        output_dir=tmp_path,
        phases=Phases(baseline_s=5.0, match_s=25.0, transition_s=40.0, maintain_s=20.0),
    )


def test_session_survives_synth_kill(tmp_path, monkeypatch):
    """Must-show 7: SIGKILL mid-session; record complete, sound back with a fade-in."""
    import attune.sessions.simulated_run as simulate
    import attune.synthesis.supervisor as supervisor

    kill_at = 40.0

    class Killer(SupervisedSynth):
        def send(self, t_end_s, params, notes):
            super().send(t_end_s, params, notes)
            if t_end_s == kill_at:
                assert self.child.ping() == kill_at  # killed with audio up to now
                self.kill_child()  # SIGKILL, then reap: the kernel has it dead now

    monkeypatch.setattr(supervisor, "SupervisedSynth", Killer)  # what make_renderer builds
    cfg = short_config(tmp_path)
    s = simulate.run_simulation(cfg)
    data = load_session(s.folder)
    t = data.ticks["t_s"]
    assert t.size == 360
    np.testing.assert_allclose(np.diff(t), TICK_S)
    died = [(te, e) for te, e in data.events if "synth process died (SIGKILL)" in e]
    assert len(died) == 1 and "restarting with fade-in" in died[0][1]
    t_restart = died[0][0]
    assert t_restart == kill_at
    assert data.events[-1][1] == "session end"

    x, sr = read_wav(s.folder / "session.wav")
    assert x.shape[1] == 90 * sr
    before = level(x, sr, t_restart - 8.0, t_restart - 0.5)
    assert before > -40.0
    assert level(x, sr, t_restart, t_restart + 0.1) < before - 20.0
    back = rms_dbfs_windows(x[:, int(t_restart * sr) :], sr, window_s=0.25)
    n_ok = np.flatnonzero(back > before - 6.0)
    assert n_ok.size and (n_ok[0] + 1) * 0.25 <= 2.0, back[:10]  # sound back within 2 s
    seg = x[:, int(t_restart * sr) : int((t_restart + 2.0) * sr)]
    assert np.max(np.abs(np.diff(seg, axis=1))) < MAX_STEP
    assert len(list(s.folder.glob("*.part*"))) == 0


@pytest.mark.slow
def test_many_kills_give_up_without_raising(tmp_path):
    events: list[tuple[float, str]] = []
    sup = SupervisedSynth(tmp_path / "k.wav", on_event=lambda t, s: events.append((t, s)))
    sup.max_restarts = 2
    sup.start()
    p = MusicParams()
    comp = Composer(seed=0)
    for k in range(1, 41):
        t = k * TICK_S
        sup.send(t, p, comp.advance(p, t))
        if k % 8 == 0:
            sup.kill_child()
    sup.close()
    assert [e[1].split(":")[0] for e in events] == ["warning", "warning", "error"]
    x, sr = read_wav(tmp_path / "k.wav")
    assert x.shape[1] == 10 * sr
