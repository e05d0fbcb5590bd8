"""Raw signals kept in the session store, and their exact replay (issue 19, must-show 4)."""

import sqlite3

import numpy as np
import pytest

from attune.sessions.raw_signals import pack, read_stored_signals, replay_session, unpack
from attune.sessions.record import MEASURED_COLUMNS
from attune.sessions.simulated_run import run_simulation
from attune.sessions.store import STORE_FILE, StoreError, load_session


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A 2-minute closed-loop session with a self-report during it, and its replay."""
    from attune.sessions.config import Phases, SessionConfig

    out = tmp_path_factory.mktemp("sessions")
    cfg = SessionConfig(
        output_dir=out,
        render_audio=False,
        seed=11,
        phases=Phases(baseline_s=30.0, match_s=30.0, transition_s=45.0, maintain_s=15.0),
    )
    summary = run_simulation(cfg)
    return summary.folder, out


def _tick_columns_equal(a, b):
    """Assert every tick column but the measured timing is bit-identical."""
    skip = set(MEASURED_COLUMNS) | {"sim_arousal", "sim_valence"}
    cols = [c for c in a.ticks if c not in skip]
    assert cols == [c for c in b.ticks if c not in skip]
    assert a.n_ticks == b.n_ticks > 0
    for c in cols:
        x, y = a.ticks[c], b.ticks[c]
        if x.dtype == object:
            assert list(x) == list(y), c
        else:
            assert np.array_equal(x, y, equal_nan=True), f"{c} differs"


def test_pack_round_trips_bits():
    rng = np.random.default_rng(3)
    for a in (rng.normal(size=(4, 1000)), np.arange(500) / 256.0, np.array([np.nan, -0.0, 1e-300])):
        blob = pack(a)
        back = unpack(blob, "float64", a.shape)
        assert back.tobytes() == a.tobytes()
    pulls = np.array([[0.25, 0.5, 0.75], [62, 63, 62]], dtype=float)
    assert np.array_equal(unpack(pack(pulls), "float64", (2, -1)), pulls)
    with pytest.raises(StoreError, match="bytes"):
        unpack(pack(pulls), "float64", (3, 3))


def test_the_store_keeps_every_sample_the_engine_read(simulated):
    folder, _ = simulated
    streams = {s.info.kind: s for s in read_stored_signals(folder)}
    assert set(streams) == {"ecg", "eeg"}
    ecg, eeg = streams["ecg"], streams["eeg"]
    # every sample up to the last tick (119.75 s), on the listener's own grid
    t_last = load_session(folder).ticks["t_s"][-1]
    assert ecg.info.fs == 250.0 and ecg.timestamps.size == int(t_last * 250) + 1
    assert np.allclose(np.diff(ecg.timestamps), 1 / 250.0)
    assert eeg.data.shape == (4, eeg.timestamps.size)
    assert eeg.info.channels == ("AF7", "AF8", "TP9", "TP10")
    assert ecg.counts.sum() == ecg.timestamps.size and np.all(np.diff(ecg.pull_t) > 0)
    # compressed: smaller than the raw float64 samples plus timestamps
    con = sqlite3.connect(folder / STORE_FILE)
    stored = con.execute("SELECT SUM(LENGTH(timestamps) + LENGTH(data)) FROM signals").fetchone()[0]
    con.close()
    raw = 8 * (ecg.timestamps.size * 2 + eeg.timestamps.size * 5)
    assert stored < 0.8 * raw


def test_replay_of_the_stored_signals_gives_the_same_ticks(simulated, tmp_path):
    folder, _ = simulated
    out = replay_session(folder, output_dir=tmp_path)
    a, b = load_session(folder), load_session(out.folder)
    assert b.meta["mode"] == "replay" and b.meta["participant"] == a.meta["participant"]
    assert b.meta["name"] == "demo-replay"
    _tick_columns_equal(a, b)
    assert np.array_equal(a.beats["time_s"], b.beats["time_s"])
    # and the replay keeps the signals again, identical
    s1, s2 = read_stored_signals(folder), read_stored_signals(out.folder)
    for x, y in zip(s1, s2, strict=True):
        assert np.array_equal(x.data, y.data) and np.array_equal(x.timestamps, y.timestamps)


def test_replay_gives_the_therapists_commands_again(short_config, tmp_path):
    """Pins, goals, pauses, self-reports, a confirmed feeling and the end: same ticks."""
    from attune.sessions.store import read_commands
    from attune.sessions.therapist import ScriptedCommands

    script = [
        (12.0, "pin tempo_bpm 70"),
        (14.0, "sam 3 6"),
        (15.0, "feeling very calm"),
        (15.25, "feeling confirm"),
        (16.0, "pin tempo_bpm 999"),  # refused: not kept
        (17.0, "goal -0.2 0.4"),
        (18.0, "pause"),
        (19.0, "resume"),
        (21.0, "end"),
    ]
    cfg = short_config(match_s=40.0)
    folder = run_simulation(cfg, commands=[ScriptedCommands(script)]).folder
    kept = read_commands(folder)
    assert kept is not None and [c for _, c in kept] == [c for t, c in script if t != 16.0]
    assert [t for t, _ in kept] == [t for t, c in script if t != 16.0]
    out = replay_session(folder, output_dir=tmp_path)
    a, b = load_session(folder), load_session(out.folder)
    assert a.n_ticks < 40 * 4  # the end command ended it early (planned: 45 s)
    _tick_columns_equal(a, b)
    assert [c for _, c in read_commands(out.folder) or []] == [c for _, c in kept]


def test_a_session_without_kept_signals_says_so(short_config, tmp_path):
    from attune.sessions.config import SessionOptions

    cfg = short_config(session=SessionOptions(keep_signals=False))
    folder = run_simulation(cfg).folder
    assert read_stored_signals(folder) == []
    with pytest.raises(StoreError, match="kept no raw signals"):
        replay_session(folder, output_dir=tmp_path / "r")


def test_replay_command_takes_a_session_folder(simulated, tmp_path, capsys):
    from attune.sessions.cli import main

    folder, _ = simulated
    assert main(["replay", str(folder), "--out", str(tmp_path), "--no-report"]) == 0
    text = capsys.readouterr().out
    assert "Replayed session" in text and "identical" in text
