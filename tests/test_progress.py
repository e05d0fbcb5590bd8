"""Must-show 1: three visits of one client from different directories, listed by client,
and the progress page across them, checked in headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from attune.sessions.cli import main
from attune.sessions.clients import client_sessions
from attune.sessions.progress import client_visits
from attune.sessions.selfreport import add_rating, read_reports
from attune.sessions.store import connect

CHROMIUM = Path("/usr/bin/chromium")
CLIENT = "Wren-04"


def _add_rows(folder: Path, pre: tuple[float, float], post: tuple[float, float]) -> None:
    """File a before and an after rating (after the intake) and an alarm event, once."""
    if any(r.source == "cli" for r in read_reports(folder)):
        return
    add_rating(folder, "pre", *pre, t_s=0.0)
    add_rating(folder, "post", *post, source="feeling", text="lighter now")
    con = connect(folder / "session.db")
    with con:
        con.execute("INSERT INTO events VALUES (12.5, 'ALARM medium no-response: test alarm')")
    con.close()


@pytest.fixture(scope="module")
def visits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    home = tmp_path_factory.mktemp("progress-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("ATTUNE_HOME", str(home))
    try:
        for k, seed in enumerate((11, 12, 13)):
            cwd = tmp_path_factory.mktemp(f"cwd{k}")
            mp.chdir(cwd)
            argv = ["simulate", "--client", CLIENT, "--seed", str(seed), "--duration-s", "60"]
            assert main([*argv, "--no-audio", "--no-report"]) == 0
    finally:
        mp.undo()
    return home, sorted((home / "sessions").iterdir())


def test_sessions_by_client_lists_the_three_visits(visits, monkeypatch, capsys, tmp_path):
    home, folders = visits
    monkeypatch.setenv("ATTUNE_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert len(folders) == 3 and all(f"{CLIENT}-s1" in f.name for f in folders)
    capsys.readouterr()
    assert main(["sessions", "--client", CLIENT]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines[1:]] == [f.name for f in folders]
    assert main(["sessions", "--client", "Nobody-1"]) == 0
    assert "no sessions of client Nobody-1" in capsys.readouterr().out


def test_visit_figures_come_from_the_stores(visits, monkeypatch):
    home, folders = visits
    monkeypatch.setenv("ATTUNE_HOME", str(home))
    _add_rows(folders[1], (7.0, 3.0), (3.0, 6.0))
    vs = client_visits(CLIENT)
    assert [v.session_id for v in vs] == [f.name for f in folders]
    for v in vs:
        assert v.baseline_hr_bpm is not None and 40 < v.baseline_hr_bpm < 140
        assert v.baseline_ln_rmssd is not None and 1.0 < v.baseline_ln_rmssd < 6.0
        assert v.duration_s == pytest.approx(60.0)
    assert {r.source for r in read_reports(folders[0])} == {"intake", "simulated"}
    assert vs[0].rating("pre").source == "intake" and vs[0].rating("post").source == "simulated"
    assert vs[1].rating("pre").arousal == 7.0 and vs[1].rating("post").valence == 6.0
    assert [a for _, a in vs[1].alarms] == ["ALARM medium no-response: test alarm"]
    assert not vs[0].alarms and len(client_sessions(CLIENT)) == 3


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_progress_page_in_headless_chromium(visits, monkeypatch, capsys, tmp_path):
    from playwright.sync_api import sync_playwright

    home, folders = visits
    monkeypatch.setenv("ATTUNE_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    _add_rows(folders[1], (7.0, 3.0), (3.0, 6.0))
    assert main(["progress", CLIENT]) == 0
    page_path = home / "progress" / f"{CLIENT}.html"
    assert str(page_path) in capsys.readouterr().out
    assert oct(page_path.stat().st_mode & 0o777) == "0o600"
    text = page_path.read_text()
    assert "<script" not in text.lower() and "http://" not in text and "https://" not in text
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri())
            assert CLIENT in page.inner_text("h1")
            heads = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
            for h in (
                "Summary",
                "Resting heart",
                "Self-report",
                "Reaching the calm target",
                "Alarms",
                "Music that helped",
                "Visits",
                "Described feelings",
            ):
                assert h in heads
            for fid in ("heart", "selfreport", "target"):
                w = page.eval_on_selector(f"#fig-{fid} img", "i => i.complete && i.naturalWidth")
                assert w and w > 500, fid
            rows = page.eval_on_selector_all("#visits tr", "rs => rs.length")
            assert rows == 4  # header + three visits
            plain = page.inner_text("#plain")
            assert "3 visits" in plain and "1 alarm was raised" in plain
            assert "points calmer" in plain  # 7 -> 3 on the arousal scale
            assert "test alarm" in page.inner_text("body")
            assert "lighter now" in page.inner_text("body")
            assert requests == [page_path.as_uri()]  # nothing else loaded
        finally:
            browser.close()
    shutil.rmtree(home / "progress")
