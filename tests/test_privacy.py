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
