"""How a real-time session ends: killed (SIGKILL) or stopped by Ctrl-C (SIGINT).

Two ``attune simulate --realtime`` processes run side by side on the live clock: one is
killed 30 s into its session, the other gets Ctrl-C a few seconds in. Waiting here is
the point (real-time pacing is what is tested), so the test polls the session store
instead of sleeping for fixed times.
"""

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from attune.sessions.cli import main
from attune.sessions.store import STORE_FILE, list_sessions, load_session

#: Real time: two sessions of ~30 s on the wall clock (test_store.py kills a virtual-clock one).
pytestmark = pytest.mark.slow

KILL_AFTER_S = 30.0
#: Ctrl-C comes once the music has faded in (1 s baseline + 8 s fade-in).
SIGINT_AFTER_S = 12.0


def start(out: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "attune.sessions.cli", "simulate", "--realtime", "--no-audio"]
    return subprocess.Popen(
        [*cmd, "--out", str(out), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def newest_tick(out: Path) -> float | None:
    """Newest committed tick time of the one session under ``out`` (None before any)."""
    dbs = list(out.glob(f"*/{STORE_FILE}"))
    if not dbs:
        return None
    try:
        con = sqlite3.connect(dbs[0], timeout=1.0)
        try:
            return con.execute("SELECT MAX(t_s) FROM ticks").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # the table is being created
        return None


def session_start(out: Path, proc: subprocess.Popen, *, min_t_s: float, timeout_s: float = 60):
    """Poll until the store has a tick at >= ``min_t_s``; return a wall time <= the session's
    t = 0 (a committed tick at t_s was computed at or after session time t_s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        t = newest_tick(out)
        if t is not None and t >= min_t_s:
            return time.monotonic() - t
        time.sleep(0.05)
    raise AssertionError(f"no tick at {min_t_s} s within {timeout_s} s")


@pytest.fixture(scope="module")
def ended(tmp_path_factory):
    killed_out = tmp_path_factory.mktemp("killed")
    stopped_out = tmp_path_factory.mktemp("stopped")
    short = stopped_out / "short-baseline.toml"
    short.write_text('name = "ctrl-c"\n[phases]\nbaseline_s = 1.0\nmatch_s = 120.0\n')
    killed, stopped = start(killed_out), start(stopped_out, "--config", str(short))
    try:
        t0_stopped = session_start(stopped_out, stopped, min_t_s=1.0)
        t0_killed = session_start(killed_out, killed, min_t_s=1.0)
        wait = t0_stopped + SIGINT_AFTER_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        stopped.send_signal(signal.SIGINT)
        stopped_stdout, stopped_stderr = stopped.communicate(timeout=60)
        wait = t0_killed + KILL_AFTER_S - time.monotonic()
        if wait > 0:
            try:
                killed.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        assert killed.poll() is None, "the session ended before it was killed"
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
    finally:
        for p in (killed, stopped):
            if p.poll() is None:
                p.kill()
                p.wait()
    return {
        "killed": next(killed_out.glob(f"*/{STORE_FILE}")).parent,
        "stopped": next(stopped_out.glob(f"*/{STORE_FILE}")).parent,
        "stopped_rc": stopped.returncode,
        "stopped_stdout": stopped_stdout,
        "stopped_stderr": stopped_stderr,
    }


def test_killed_session_keeps_its_ticks_and_reports(ended, capsys):
    folder = ended["killed"]
    data = load_session(folder)  # reopening recovers the WAL of the killed writer
    assert data.meta["status"] == "crashed"
    t = data.ticks["t_s"]
    assert t.size * 0.25 >= KILL_AFTER_S - 1.0  # committed once a second: >= 29 s kept
    np.testing.assert_allclose(np.diff(t), 0.25, atol=0.05)  # live clock: actual tick times
    assert np.isfinite(data.ticks["hr_bpm"][-1])
    assert data.beats["time_s"].size >= 25
    assert data.events[-1][1] not in ("session end", "session interrupted")
    found, _ = list_sessions(folder.parent)
    assert [s.meta["status"] for s in found] == ["crashed"]
    assert main(["report", str(folder)]) == 0
    report = folder / "report.html"
    assert capsys.readouterr().out.strip() == f"Report: {report}"
    html = report.read_text()
    assert "crashed" in html and html.count("data:image/png;base64,") >= 4


def test_ctrl_c_fades_out_closes_the_store_and_writes_the_report(ended):
    assert ended["stopped_rc"] == 0, ended["stopped_stderr"]
    folder = ended["stopped"]
    data = load_session(folder)
    assert data.meta["status"] == "interrupted"
    events = {e: te for te, e in data.events}
    t_end = events["session ending: fade out"]
    assert SIGINT_AFTER_S <= t_end <= SIGINT_AFTER_S + 1.5
    assert data.events[-1][1] == "session interrupted"
    # the music was playing; the loop ran on through the fade-out (5 s) and the synth's ramp
    t, fade = data.ticks["t_s"], data.ticks["fade"]
    assert fade[t < t_end].max() == 1.0
    assert t[-1] >= t_end + 5.5 - 0.1 and fade[-1] == 0.0  # 0.1 s: live clock jitter
    assert ended["stopped_stdout"].strip().splitlines()[-1] == f"Report: {folder / 'report.html'}"
    assert (folder / "report.html").stat().st_size > 10_000
