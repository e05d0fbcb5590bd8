"""Must-show 5: encryption at rest. With ATTUNE_KEY set no store or registry opens
without the key (sqlite3 and `strings` find no feature values or pseudonyms in any file
of the home); with the key everything works; `attune erase` leaves no trace."""

from __future__ import annotations

import shutil
import sqlite3
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from attune.sessions.cli import main
from attune.sessions.clients import Registry, client_sessions
from attune.sessions.home import pseudonym_tag
from attune.sessions.store import load_session

KEY = "correct horse battery staple 42"
CLIENT, OTHER = "Zephyr-Q7", "Other-B3"


def _strings(path: Path) -> str:
    """What `strings` finds in a file (printable runs of >= 5 characters)."""
    if shutil.which("strings"):
        return subprocess.run(
            ["strings", "-a", "-n", "5", str(path)], capture_output=True, text=True, check=True
        ).stdout
    import re

    return "\n".join(m.decode() for m in re.findall(rb"[\x20-\x7e]{5,}", path.read_bytes()))


def _files(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file())


def _doubles(folder: Path) -> list[bytes]:
    """Feature values of a session as SQLite stores REAL values (8-byte big-endian)."""
    t = load_session(folder).ticks
    vals = np.concatenate([t["hr_bpm"], t["ln_rmssd"], t["eeg_alpha_ln"]])
    vals = np.unique(vals[np.isfinite(vals)])
    assert vals.size > 20
    return [struct.pack(">d", float(v)) for v in vals[:: max(1, vals.size // 40)]]


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_encrypted_home(tmp_path, monkeypatch, capsys, attune_home):
    monkeypatch.setenv("ATTUNE_KEY", KEY)
    argv = ["simulate", "--duration-s", "30", "--seed", "5"]
    assert main([*argv, "--client", CLIENT, "--audio"]) == 0  # report, MIDI, audio: sealed
    assert main([*argv, "--client", OTHER, "--no-audio", "--no-report"]) == 0
    (mine,) = [s.folder for s in client_sessions(CLIENT)]
    assert main(["annotate", mine.name, "calmer after minute 3"]) == 0
    capsys.readouterr()

    # nothing in clear: only encrypted databases, folder names without pseudonyms
    files = _files(attune_home)
    assert (attune_home / ".encrypted").stat().st_size == 0  # the marker holds nothing
    files.remove(attune_home / ".encrypted")
    assert {p.name for p in files} == {"registry.db", "session.db"}
    assert len(files) == 3
    for p in attune_home.rglob("*"):
        assert CLIENT not in str(p) and OTHER not in str(p)
    assert pseudonym_tag(CLIENT) in mine.name
    needles = _doubles(mine)
    for p in files:
        with pytest.raises(sqlite3.DatabaseError):
            sqlite3.connect(p).execute("SELECT * FROM sqlite_master").fetchall()
        found = _strings(p)
        for word in (CLIENT, OTHER, "hr_bpm", "session start", "calmer after", "<html"):
            assert word not in found, (p, word)
        data = p.read_bytes()
        assert not any(n in data for n in needles), p

    # with the key everything works
    assert main(["sessions", "--client", CLIENT]) == 0
    assert mine.name in capsys.readouterr().out
    assert main(["report", mine.name, "--out", str(tmp_path / "r.html")]) == 0
    assert "Attune session report" in (tmp_path / "r.html").read_text()
    assert main(["progress", CLIENT]) == 2  # no clear page inside the home
    assert "--out" in _one_error(capsys)
    assert main(["export-client", CLIENT, "--out", str(tmp_path / "x")]) == 0
    (plain,) = (tmp_path / "x").glob("sessions/*/session.db")
    names = {p.name for p in plain.parent.iterdir()}
    assert {"report.html", "session.mid", "session.wav", "summary.json", "config.toml"} <= names
    data = plain.read_bytes()  # the control: the same needles are found in clear SQLite
    assert CLIENT.encode() in data and b"hr_bpm" in data
    assert sum(n in data for n in needles) >= 0.9 * len(needles)
    assert sqlite3.connect(plain).execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == 1
    assert "Progress of Zephyr-Q7" in (tmp_path / "x" / "progress.html").read_text()

    # without the key, or with a wrong one: one-line errors, nothing opens
    monkeypatch.delenv("ATTUNE_KEY")
    capsys.readouterr()
    assert main(["sessions", "--client", CLIENT]) == 2
    assert "ATTUNE_KEY" in _one_error(capsys)
    assert main(["export", str(mine), "ticks"]) == 2
    assert "ATTUNE_KEY" in _one_error(capsys)
    assert main(["simulate", "--duration-s", "20", "--no-audio", "--no-report"]) == 2
    assert "is encrypted" in _one_error(capsys)  # no clear session beside encrypted ones
    monkeypatch.setenv("ATTUNE_KEY", "wrong key")
    assert main(["client", "list"]) == 2
    assert "wrong key" in _one_error(capsys)

    # erase: no file naming the client or holding its data; the other client intact
    monkeypatch.setenv("ATTUNE_KEY", KEY)
    assert main(["erase", CLIENT, "--yes"]) == 0
    assert not mine.exists()
    for p in attune_home.rglob("*"):
        assert pseudonym_tag(CLIENT) not in p.name
    with Registry.open() as reg:
        assert [c.pseudonym for c in reg.clients()] == [OTHER]
        for table in ("clients", "notes", "visits"):
            rows = reg.con.execute(f"SELECT * FROM {table}").fetchall()
            assert CLIENT not in repr(rows)
    (left,) = [s.folder for s in client_sessions(OTHER)]
    assert load_session(left).meta["participant"] == OTHER
    assert {p.parent for p in _files(attune_home) if p.name == "session.db"} == {left}
