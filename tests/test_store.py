"""The session store (SQLite, WAL), its exports, listing, annotations and graceful end."""

import csv
import io
import json
import shutil
import sqlite3
import stat

import numpy as np
import pytest

from attune.sessions.cli import main
from attune.sessions.config import Phases, SessionConfig
from attune.sessions.export import export_table
from attune.sessions.simulated_run import hear_music, run_simulation
from attune.sessions.store import STORE_FILE, annotate, list_sessions, load_session


def short_cfg(tmp_path, **kw):
    phases = Phases(baseline_s=20.0, match_s=20.0, transition_s=40.0, maintain_s=20.0)
    return SessionConfig(output_dir=tmp_path, render_audio=False, phases=phases, **kw)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return run_simulation(short_cfg(tmp_path_factory.mktemp("store")))


def test_store_holds_every_tick_beat_and_event(session):
    data = load_session(session.folder)
    assert data.meta["status"] == "ended" and data.meta["mode"] == "simulate"
    assert data.meta["participant"] == "sim-001" and "[phases]" in data.meta["config_toml"]
    assert data.n_ticks == 400
    np.testing.assert_allclose(np.diff(data.ticks["t_s"]), 0.25)
    assert set(data.ticks["phase"]) == {"baseline", "match", "transition", "maintain"}
    # the store keeps what the run returned, bit for bit
    assert data.ticks["arousal"][-1] == session.end_arousal_estimate
    assert data.ticks["sim_arousal"][-1] == session.end_arousal
    rr = data.beats["rr_ms"]
    assert data.beats["time_s"].size > 100 and np.isnan(rr[0]) and np.all(rr[1:] > 300)
    texts = [e for _, e in data.events]
    assert texts[0] == "session start: simulate seed=7" and texts[-1] == "session end"
    assert "phase transition" in texts


def test_store_files_are_private(session):
    assert stat.S_IMODE(session.folder.stat().st_mode) == 0o700
    for f in session.folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f.name
    con = sqlite3.connect(session.folder / STORE_FILE)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_export_tables_match_the_store(session):
    data = load_session(session.folder)
    buf = io.StringIO()
    assert export_table(session.folder, "ticks", buf) == data.n_ticks
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert list(rows[0]) == list(data.ticks)
    hr = np.array([float(r["hr_bpm"]) if r["hr_bpm"] else np.nan for r in rows])
    np.testing.assert_array_equal(hr, data.ticks["hr_bpm"])  # repr round-trips exactly
    assert rows[0]["hr_bpm"] == ""  # not available at the first tick: empty, not NaN
    buf = io.StringIO()
    n = export_table(session.folder, "beats", buf, fmt="json")
    beats = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert n == len(beats) == data.beats["time_s"].size
    assert beats[0]["rr_ms"] is None and set(beats[0]) == {"time_s", "rr_ms", "corrected"}
    np.testing.assert_array_equal([b["time_s"] for b in beats], data.beats["time_s"])


def test_export_cli_writes_files_and_names_bad_input(session, tmp_path, capsys):
    out = tmp_path / "events.csv"
    assert main(["export", str(session.folder), "events", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "t_s,event" and lines[-1].endswith(",session end")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # by id, looked up under --dir
    assert main(["export", session.folder.name, "beats", "--dir", str(session.folder.parent)]) == 0
    assert capsys.readouterr().out.startswith("time_s,rr_ms,corrected\n")
    assert main(["export", str(tmp_path / "nope"), "beats"]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope" in err and "session.db" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit):  # argparse: invalid choice names the table
        main(["export", str(session.folder), "heartbeats"])


def test_sessions_lists_and_flags_a_crashed_session(session, tmp_path, capsys):
    root = tmp_path / "sessions"
    copy = root / session.folder.name
    shutil.copytree(session.folder, copy)
    assert main(["sessions", "--dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert session.folder.name in out and "ended" in out and "1.7 min" in out
    # a session whose process is gone without closing the store
    con = sqlite3.connect(copy / STORE_FILE)
    with con:
        con.execute("UPDATE sessions SET status = 'running', pid = 2147483646")
    con.close()
    found, problems = list_sessions(root)
    assert problems == [] and [s.meta["status"] for s in found] == ["crashed"]
    (root / "junk").mkdir()
    (root / "junk" / STORE_FILE).write_bytes(b"not sqlite at all, just bytes" * 10)
    found, problems = list_sessions(root)
    assert len(found) == 1 and len(problems) == 1 and problems[0].startswith("junk: ")


def test_annotations_are_filed_and_exported(session, capsys):
    t = annotate(session.folder, "listener reports feeling calmer", author="T1")
    assert t == pytest.approx(99.75)
    assert main(["annotate", str(session.folder), "eyes", "closed", "--t-s", "42.5"]) == 0
    notes = load_session(session.folder).annotations
    assert notes[0][:2] == (42.5, "") and notes[0][2] == "eyes closed"
    assert notes[1] == (99.75, "T1", "listener reports feeling calmer")
    with pytest.raises(Exception, match="one non-empty line"):
        annotate(session.folder, "   ")


def test_stop_request_fades_out_then_ends(tmp_path):
    """A stop (as Ctrl-C or SIGTERM) fades the music out at the normal rate, then ends."""
    from attune.engine.clocks import VirtualClock
    from attune.sensors.simulated_listener import SimulatedListener
    from attune.sessions.runner import run_session

    cfg = short_cfg(tmp_path)
    listener = SimulatedListener(seed=1, ecg_fs=250.0, eeg_fs=256.0)
    clock = VirtualClock(tick_s=cfg.tick_s)
    stop_at = 60.0
    out = run_session(
        cfg,
        mode="simulate",
        sources=listener.sources(),
        clock=clock,
        n_ticks=400,
        listeners=[lambda t, p: hear_music(listener, t, p)],
        stop=lambda: clock.n * cfg.tick_s > stop_at,
    )
    data = load_session(out.folder)
    assert out.interrupted and data.meta["status"] == "interrupted"
    t, fade = data.ticks["t_s"], data.ticks["fade"]
    events = dict((e, te) for te, e in data.events)
    assert events["session ending: fade out"] == pytest.approx(stop_at + 0.25)
    playing = fade[t <= stop_at]
    assert playing[-1] == 1.0
    # normal fade-out rate (1 / fade_out_s per second), then 1 s of silence for the synth ramp
    fading = fade[t > stop_at]
    step = cfg.tick_s / cfg.safety.fade_out_s
    np.testing.assert_allclose(-np.diff(fading[fading > 0]), step, atol=1e-9)
    first_zero = t[(t > stop_at) & (fade == 0.0)][0]
    assert first_zero - stop_at == pytest.approx(cfg.safety.fade_out_s)
    assert t[-1] + cfg.tick_s - first_zero == pytest.approx(1.0)  # the synth's 1 s ramp
    assert data.events[-1][1] == "session interrupted"


def test_session_killed_mid_run_keeps_its_ticks(tmp_path, capsys):
    """SIGKILL a virtual-clock session mid-run: the store reopens with every tick committed
    before the kill, contiguous, listed as crashed, and the report and export still work."""
    import signal
    import subprocess
    import sys
    import time

    from attune.sessions.config import dump_config

    cfg = short_cfg(tmp_path / "out").model_copy(
        update={"phases": Phases(baseline_s=60.0, match_s=60.0, transition_s=7200.0)}
    )
    path = tmp_path / "long.toml"
    path.write_text(dump_config(cfg))
    cmd = [sys.executable, "-m", "attune.sessions.cli", "simulate", "--config", str(path)]
    proc = subprocess.Popen([*cmd, "--no-audio"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        n = 0
        for _ in range(600):  # wait (at most ~60 s) until > 5 min of session is committed
            assert proc.poll() is None, proc.communicate()[1]
            dbs = list((tmp_path / "out").glob(f"*/{STORE_FILE}"))
            if dbs:
                try:
                    with sqlite3.connect(dbs[0], timeout=1.0) as con:
                        n = con.execute("SELECT COUNT(*) FROM ticks").fetchone()[0]
                except sqlite3.OperationalError:  # tables not created yet
                    n = 0
            if n > 1200:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert n > 1200
    folder = dbs[0].parent
    data = load_session(folder)
    t = data.ticks["t_s"]
    assert t.size >= n and np.allclose(np.diff(t), cfg.tick_s)
    found, _ = list_sessions(tmp_path / "out")
    assert [s.meta["status"] for s in found] == ["crashed"]
    assert main(["report", str(folder)]) == 0 and (folder / "report.html").is_file()
    assert main(["export", str(folder), "ticks", "--out", str(tmp_path / "t.csv")]) == 0


def test_export_over_an_existing_file_makes_it_private(session, tmp_path):
    out = tmp_path / "ticks.csv"
    out.write_text("old")
    out.chmod(0o644)
    assert main(["export", str(session.folder), "ticks", "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and out.read_text().startswith("t_s,")


def test_report_refuses_a_planted_symlink(session, tmp_path, capsys):
    folder = tmp_path / session.folder.name
    shutil.copytree(session.folder, folder)
    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched")
    (folder / "report.html").unlink(missing_ok=True)
    (folder / "report.html").symlink_to(target)
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "symbolic link" in err[0] and "Traceback" not in err[0]
    assert target.read_text() == "untouched"


@pytest.mark.parametrize("t_s", ["nan", "inf", "-1"])
def test_annotate_refuses_a_time_that_is_not_a_time(session, t_s, capsys):
    with pytest.raises(SystemExit) as e:  # refused by the argparse type, one line
        main(["annotate", str(session.folder), "note", "--t-s", t_s])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--t-s" in err[0]
    assert main(["report", str(session.folder)]) == 0  # the store is untouched


def test_sessions_started_in_the_same_second_get_their_own_folders(tmp_path):
    from attune.sessions.record import new_session_dir

    folders = {new_session_dir(tmp_path, "demo", "p1") for _ in range(5)}
    assert len(folders) == 5 and all(f.is_dir() for f in folders)


def test_unwritable_output_dir_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cfg = short_cfg(blocker / "sessions")
    path = tmp_path / "c.toml"
    from attune.sessions.config import dump_config

    path.write_text(dump_config(cfg))
    assert main(["simulate", "--config", str(path), "--no-audio"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "output_dir" in err[0] and "Traceback" not in err[0]
