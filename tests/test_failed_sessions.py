"""A session that an error ended: recorded failed, shown in red, listed as failed (issue 14)."""

from __future__ import annotations

import re

import pytest

from attune.engine.clocks import VirtualClock
from attune.sensors.simulated_listener import SimulatedListener
from attune.sessions.cli import main
from attune.sessions.config import SessionConfig
from attune.sessions.report import write_report
from attune.sessions.runner import run_session


@pytest.fixture(scope="module")
def failed_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("failed")
    cfg = SessionConfig(output_dir=out, render_audio=False)
    cfg = cfg.model_copy(
        update={"control": cfg.control.model_copy(update={"command_channel": False})}
    )

    def listener(t, params):
        if t >= 3.0:
            raise ZeroDivisionError("the listener divided by zero")

    with pytest.raises(ZeroDivisionError):
        run_session(
            cfg,
            mode="simulate",
            sources=SimulatedListener(seed=1).sources(),
            clock=VirtualClock(tick_s=cfg.tick_s),
            n_ticks=40,
            listeners=[listener],
        )
    (folder,) = out.iterdir()
    return folder


def test_report_shows_a_failed_session_in_red_naming_the_exception(failed_folder):
    html = write_report(failed_folder).read_text()
    m = re.search(r'<div class="status (\w+)" id="status">(.*?)</div>', html)
    assert m is not None
    assert m.group(1) == "bad"  # red: .status.bad
    assert "#c0392b" in html and ".status.bad" in html
    assert "Status: failed." in m.group(2)
    assert "ZeroDivisionError: the listener divided by zero" in m.group(2)


def test_sessions_lists_a_failed_session_with_its_exception(failed_folder, capsys):
    assert main(["sessions", "--dir", str(failed_folder.parent)]) == 0
    out = capsys.readouterr().out
    lines = [x for x in out.splitlines() if x.startswith(failed_folder.name)]
    assert len(lines) == 1, out
    line = lines[0]
    assert line.endswith("failed (ZeroDivisionError)")
