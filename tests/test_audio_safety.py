"""The session's audio after a kill and on a full disk (issue 14)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import wave

import numpy as np
import pytest
import soundfile
from scipy.io import wavfile

from attune.sessions.audio_files import repair_wav
from attune.sessions.config import Phases, SessionConfig, dump_config
from attune.sessions.store import list_sessions, load_session


def _check_playable(wav, size: int, sr: int) -> None:
    """Python's wave, scipy and libsndfile all read every whole frame of ``wav``."""
    with wave.open(str(wav)) as w:
        n = w.getnframes()
        assert w.getframerate() == sr
        frame = w.getnchannels() * w.getsampwidth()
    assert n * frame >= size - 4096 - frame  # every frame after the header
    rate, y = wavfile.read(wav)
    assert rate == sr and y.shape[0] == n
    x, rate = soundfile.read(wav, dtype="int16")
    assert rate == sr and x.shape[0] == n and np.array_equal(x, y)


def test_a_wav_whose_header_sizes_were_never_written_is_repaired(tmp_path):
    """What a kill leaves (the sizes libsndfile writes at close are 0), repaired in place."""
    wav = tmp_path / "session.wav"
    t = np.arange(48_000) / 48_000
    x = (0.3 * np.sin(2 * np.pi * 440 * t)[:, None] * [1, 1] * 32767).astype(np.int16)
    soundfile.write(wav, x, 48_000, subtype="PCM_16")
    raw = bytearray(wav.read_bytes())
    off = raw.index(b"data") + 8
    raw[4:8] = raw[off - 4 : off] = bytes(4)  # as pyo/libsndfile leave it when killed
    wav.write_bytes(bytes(raw[:-3]))  # and a last frame cut short
    with pytest.raises(wave.Error):
        wave.open(str(wav))
    assert repair_wav(wav) is True
    _check_playable(wav, len(raw) - 3, 48_000)
    y, _ = soundfile.read(wav, dtype="int16")
    assert np.array_equal(y, x[: y.shape[0]]) and y.shape[0] == x.shape[0] - 1
    assert repair_wav(wav) is False  # consistent now: left alone
    link = tmp_path / "link.wav"
    link.symlink_to(wav)
    assert repair_wav(link) is False  # never through a symbolic link


@pytest.mark.slow  # a real session killed mid-render: ~25 s
def test_wav_of_a_killed_session_is_playable_once_the_store_is_reopened(tmp_path):
    """SIGKILL the whole session (runner and synth child): the WAV header never gets its
    sizes; reopening the store repairs it, and soundfile reads every frame written."""
    cfg = SessionConfig(
        output_dir=tmp_path / "out",
        render_audio=True,
        phases=Phases(baseline_s=10.0, match_s=60.0, transition_s=7200.0),
    )
    path = tmp_path / "long.toml"
    path.write_text(dump_config(cfg))
    cmd = [sys.executable, "-m", "attune.sessions.cli", "simulate", "--config", str(path)]
    proc = subprocess.Popen(
        [*cmd, "--audio", "--no-report"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the synth child dies with it
    )
    try:
        wav = None
        for _ in range(1200):  # wait (at most ~120 s) for > 1 MB of audio
            assert proc.poll() is None, proc.communicate()[1]
            found = list((tmp_path / "out").glob("*/session.wav"))
            if found and found[0].stat().st_size > 1_000_000:
                wav = found[0]
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert wav is not None
    size = wav.stat().st_size
    with pytest.raises(wave.Error):  # the finding: standard tools cannot open it
        wave.open(str(wav))
    data = load_session(wav.parent)  # reopening the store repairs the WAV
    assert data.meta["status"] == "crashed" and data.meta["audio_repaired"] == ["session.wav"]
    _check_playable(wav, size, cfg.sample_rate_hz)
    found, _ = list_sessions(tmp_path / "out")  # and again: nothing left to repair
    assert [s.meta["audio_repaired"] for s in found] == [[]]


def test_a_full_disk_ends_the_session_in_one_line_with_an_intact_store(tmp_path):
    """The store may grow no more (RLIMIT_FSIZE, as a full disk: no root needed)."""
    import sqlite3

    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))\n"
        "from attune.sessions.cli import main\n"
        "sys.exit(main(['simulate', '--no-audio', '--no-report', '--duration-s', '3600',"
        " '--out', 'out']))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 2, r.stderr
    err = r.stderr.replace("simulating: 0%\n", "").strip().splitlines()
    assert len(err) == 1 and err[0].startswith("attune: ") and "disk full" in err[0], r.stderr
    (folder,) = (tmp_path / "out").iterdir()
    with sqlite3.connect(folder / "session.db") as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    data = load_session(folder)
    assert data.meta["status"] == "failed"
    t = data.ticks["t_s"]
    assert t.size > 40 and np.allclose(np.diff(t), 0.25)  # what was saved is all there
    found, _ = list_sessions(tmp_path / "out")
    assert found[0].meta["failure"].startswith("StoreError: ")


def test_a_live_session_keeps_its_audio_as_lossless_flac(tmp_path):
    from attune.engine.clocks import VirtualClock
    from attune.sensors.simulated_listener import SimulatedListener
    from attune.sessions.runner import run_session

    cfg = SessionConfig(output_dir=tmp_path, render_audio=True)
    cfg = cfg.model_copy(
        update={"control": cfg.control.model_copy(update={"command_channel": False})}
    )
    out = run_session(
        cfg,
        mode="live",  # labelled live; paced by the virtual clock (no sound card here)
        sources=SimulatedListener(seed=2).sources(),
        clock=VirtualClock(tick_s=cfg.tick_s),
        n_ticks=40,
    )
    flac = out.folder / "session.flac"
    assert out.files["audio"] == str(flac) and not (out.folder / "session.wav").exists()
    assert flac.stat().st_mode & 0o777 == 0o600
    info = soundfile.info(flac)
    assert info.format == "FLAC" and info.samplerate == cfg.sample_rate_hz
    assert info.frames == pytest.approx(10.0 * cfg.sample_rate_hz, rel=0.01)


def test_flac_is_lossless(tmp_path):
    from attune.sessions.audio_files import to_flac

    wav = tmp_path / "session.wav"
    rng = np.random.default_rng(0)
    x = rng.integers(-32768, 32767, size=(100_000, 2), dtype=np.int16)
    soundfile.write(wav, x, 48_000, subtype="PCM_16")
    flac = to_flac(wav)
    y, sr = soundfile.read(flac, dtype="int16")
    assert sr == 48_000 and np.array_equal(x, y) and not wav.exists()


def test_a_disk_running_full_stops_the_session_before_audio_is_lost(tmp_path, monkeypatch, capsys):
    """Fault-injected: the disk reports 10 MB free after 12 s of the session.

    The renderer's writes would stop without a word on a full disk; the session stops
    first, in one line, recorded failed, with its audio and record intact."""
    from attune.sessions import runner
    from attune.sessions.cli import main

    calls = []

    def free(folder):
        calls.append(folder)
        return 10 * 2**20 if len(calls) > 3 else 10 * 2**30  # checked every 4 s

    monkeypatch.setattr(runner, "disk_free", free)
    argv = ["simulate", "--duration-s", "600", "--audio", "--no-report", "--out", str(tmp_path)]
    assert main(argv) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if not x.startswith("simulating: ")]
    assert len(err) == 1 and "disk full (10 MB free" in err[0] and err[0].startswith("attune: ")
    (folder,) = tmp_path.iterdir()
    data = load_session(folder)
    assert data.meta["status"] == "failed"
    assert data.ticks["t_s"][-1] == pytest.approx(12.0, abs=0.3)
    with wave.open(str(folder / "session.wav")) as w:  # closed cleanly: a valid header
        assert w.getnframes() / w.getframerate() == pytest.approx(12.25, abs=0.5)
