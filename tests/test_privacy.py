"""Privacy defaults (issue 14): LSL outlets opt-in, no absolute paths in the record."""

from __future__ import annotations

import uuid
from pathlib import Path

import pylsl

from attune.sessions.cli import build_parser
from attune.sessions.commands.run import live_config
from attune.sessions.config import SessionConfig
from attune.sessions.live_run import state_outlets

EXAMPLES = Path(__file__).parents[1] / "sessions" / "examples"


def test_lsl_outlets_are_off_unless_asked_for(tmp_path):
    assert SessionConfig().lsl_outlets is False
    parser = build_parser()
    live = str(EXAMPLES / "live.toml")
    assert live_config(parser.parse_args(["run", live])).lsl_outlets is False
    assert live_config(parser.parse_args(["run", live, "--lsl-out"])).lsl_outlets is True
    assert state_outlets(SessionConfig()) is None


def test_opted_in_outlets_are_visible_on_the_network():
    name = f"privacy-{uuid.uuid4().hex[:8]}"
    outlets = state_outlets(SessionConfig(name=name, lsl_outlets=True))
    assert outlets is not None
    found = pylsl.resolve_byprop("name", f"{name}-state", timeout=5.0)
    assert [i.type() for i in found] == ["AttuneState"]
    del outlets


DATA = Path(__file__).parent / "data"


def _record_text(folder: Path) -> str:
    """Every text the session folder's store holds, plus its config and report."""
    import sqlite3

    con = sqlite3.connect(folder / "session.db")
    try:
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    parts = [dump, (folder / "config.toml").read_text()]
    if (folder / "report.html").exists():
        parts.append((folder / "report.html").read_text())
    return "\n".join(parts)


def test_replayed_paths_are_stored_as_names_unless_asked(tmp_path, capsys):
    from attune.sessions.cli import main

    src = (DATA / "neurokit2" / "bio_resting_5min_100hz.csv").resolve()
    argv = ["replay", str(src), "--fs", "100", "--duration-s", "20", "--out", str(tmp_path)]
    assert main([*argv, "--report"]) == 0
    assert main([*argv, "--no-report", "--record-paths"]) == 0
    folders = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(folders) == 2
    private, kept = (_record_text(f) for f in folders)
    assert str(src.parent) not in private and str(tmp_path) not in private
    assert f"replay of {src.name}" in private
    assert f"replay of {src}" in kept and str(tmp_path) in kept
