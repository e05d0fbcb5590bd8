"""The self-contained HTML session report (issue 8: report; must-show 3)."""

import base64
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from attune.sessions.config import Phases, SessionConfig
from attune.sessions.report import write_report
from attune.sessions.simulated_run import run_simulation, time_to_band
from attune.sessions.store import annotate, load_session

DATA = Path(__file__).parent / "data"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Images, tables (by id, rows of (text, attrs) cells), tags and links of a page."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.images, self.tables, self.tags, self.urls, self.ids = [], {}, set(), [], {}
        self._table = self._row = self._cell = None
        self._id_stack = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if "id" in a:
            self.ids[a["id"]] = ""
            self._id_stack.append(a["id"])
        if tag == "img":
            self.images.append(a["src"])
        elif tag == "table":
            self._table = self.tables.setdefault(a.get("id", f"t{len(self.tables)}"), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ["", a]
            self._row.append(self._cell)

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data
        for i in self._id_stack:
            self.ids[i] += data


def render(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # empty panels must not warn either
        path = write_report(folder)
    assert path == Path(folder) / "report.html"
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text(encoding="utf-8")
    return text, Page(text)


def decode_pngs(page):
    import matplotlib.image as mpimg

    out = []
    for src in page.images:
        assert src.startswith("data:image/png;base64,"), src[:40]
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw[:8] == PNG_MAGIC
        out.append(mpimg.imread(io.BytesIO(raw), format="png"))
    return out


def summary_table(page):
    rows = page.tables["summary"]
    assert [c[0] for c in rows[0]] == ["Measure", "Baseline", "End", "Change"]
    return {r[0][0]: r[1:] for r in rows[1:]}


def facts_table(page):
    return {r[0][0]: r[1] for r in page.tables["facts"][1:]}


@pytest.fixture(scope="module")
def sim_folder(tmp_path_factory):
    base = SessionConfig()
    cfg = base.model_copy(
        update={
            "phases": Phases(baseline_s=20, match_s=20, transition_s=40, maintain_s=20),
            "render_audio": False,
            "lsl_outlets": False,
            "output_dir": tmp_path_factory.mktemp("sim"),
        }
    )
    folder = run_simulation(cfg).folder
    annotate(folder, "listener <sighs> & relaxes", t_s=42.0, author="MT")
    return folder


@pytest.fixture(scope="module")
def sim_report(sim_folder):
    return render(sim_folder)


def test_report_is_self_contained_html_with_figures(sim_report):
    text, page = sim_report
    assert text.startswith("<!DOCTYPE html>") and "</html>" in text
    assert "script" not in page.tags and "link" not in page.tags
    assert all(u.startswith("data:image/png;base64,") for u in page.urls), "no external resources"
    images = decode_pngs(page)
    assert len(images) >= 6
    for img in images:
        assert img.shape[0] > 300 and img.shape[1] > 800
        assert float(np.var(img[..., :3])) > 1e-3, "blank figure"
    for fid in ("affect", "plane", "heart", "eeg", "music", "quality"):
        assert f'id="fig-{fid}"' in text


def test_report_header_names_the_session(sim_folder, sim_report):
    _, page = sim_report
    meta = load_session(sim_folder).meta
    header = {r[0][0]: r[1][0] for r in page.tables["header"]}
    assert header["Session"] == sim_folder.name
    assert header["Participant (pseudonym)"] == meta["participant"]
    assert header["Mode"] == "simulate" and header["Status"] == "ended"
    assert header["Seed"] == str(meta["seed"])
    assert header["Duration recorded"].startswith("1:40")  # 100 s of ticks
    assert "Ended normally" in page.ids["status"]


def test_summary_matches_the_store(sim_folder, sim_report):
    _, page = sim_report
    d = load_session(sim_folder)
    t, base = d.ticks["t_s"], d.ticks["phase"] == "baseline"
    end = t > t[-1] - 60.0
    rows = summary_table(page)
    expected_rows = {
        "Arousal (estimate)": "arousal",
        "Arousal (true, simulated)": "sim_arousal",
        "Valence (estimate)": "valence",
        "Heart rate (bpm)": "hr_bpm",
        "ln RMSSD (ln ms)": "ln_rmssd",
        "EEG alpha power (ln µV²)": "eeg_alpha_ln",
        "Tempo (BPM)": "tempo_bpm",
        "Loudness (dBFS)": "loudness_db",
    }
    assert set(expected_rows) <= set(rows)
    for label, col in expected_rows.items():
        x = d.ticks[col]
        b, e = np.nanmedian(x[base]), np.nanmedian(x[end])
        cells = rows[label]
        for (shown, attrs), want in zip(cells, (b, e, e - b), strict=True):
            assert float(attrs["data-value"]) == pytest.approx(want, abs=1e-9), label
            decimals = len(shown.split(".")[1])
            assert abs(float(shown) - want) <= 0.5 * 10.0**-decimals + 1e-12, (label, shown)
    # The calm goal was approached: the report shows arousal falling from baseline to end.
    assert float(rows["Arousal (true, simulated)"][2][1]["data-value"]) < 0


def test_facts_match_the_store(sim_folder, sim_report):
    _, page = sim_report
    d = load_session(sim_folder)
    facts = facts_table(page)
    t = d.ticks["t_s"]
    for label, col in (
        ("Time to target, arousal estimate", "arousal"),
        ("Time to target, arousal true state", "sim_arousal"),
    ):
        tt = time_to_band(t, d.ticks[col], -0.5)
        text, attrs = facts[label]
        if tt is None:
            assert text.startswith("not reached") and "data-value" not in attrs
        else:
            assert float(attrs["data-value"]) == tt
    n = d.beats["time_s"].size
    assert n > 50 and facts["Heartbeats detected"][0] == str(n)
    pct = 100.0 * d.beats["corrected"].sum() / n
    assert float(facts["Beats corrected"][1]["data-value"]) == pytest.approx(pct)
    hold = float(facts["Ticks on hold"][1]["data-value"])
    assert hold == pytest.approx(np.mean(d.ticks["hold"] > 0.5))
    med = float(facts["Engine compute per tick, median"][1]["data-value"])
    assert med == pytest.approx(np.median(d.ticks["compute_ms"]))
    p99 = float(facts["Engine compute per tick, p99"][1]["data-value"])
    assert p99 == pytest.approx(np.percentile(d.ticks["compute_ms"], 99))


def test_events_and_annotations_are_listed(sim_folder, sim_report):
    text, page = sim_report
    d = load_session(sim_folder)
    rows = page.tables["events"][1:]
    assert len(rows) == len(d.events) + len(d.annotations)
    listed = {(r[0][0], r[2][0]) for r in rows}
    for t_s, event in d.events:
        m, s = divmod(int(round(t_s)), 60)
        assert (f"{m}:{s:02d}", event) in listed
    assert ("0:42", "listener <sighs> & relaxes") in listed
    assert "listener &lt;sighs&gt; &amp; relaxes" in text, "user text must be escaped"
    assert any("phase match" == r[2][0] for r in rows)


@pytest.fixture(scope="module")
def polar_folder(tmp_path_factory):
    from attune.sessions.replay_run import run_replay

    cfg = SessionConfig(
        output_dir=tmp_path_factory.mktemp("polar"), render_audio=False, lsl_outlets=False
    )
    return run_replay(DATA / "polar/polar_h10_converted.csv", cfg).folder


def test_report_of_a_session_without_eeg(polar_folder):
    d = load_session(polar_folder)
    assert np.isnan(d.ticks["eeg_alpha_ln"]).all()  # the premise: RR only
    text, page = render(polar_folder)
    assert 'id="fig-eeg"' not in text
    assert "No EEG in this session" in page.ids["no-eeg"]
    images = decode_pngs(page)
    assert len(images) >= 4 and all(float(np.var(i[..., :3])) > 1e-3 for i in images)
    rows = summary_table(page)
    alpha = rows["EEG alpha power (ln µV²)"]
    assert [c[0] for c in alpha] == ["–", "–", "–"] and "data-value" not in alpha[0][1]
    assert "Arousal (true, simulated)" not in rows
    hr_end = float(rows["Heart rate (bpm)"][1][1]["data-value"])
    t = d.ticks["t_s"]
    assert hr_end == pytest.approx(np.nanmedian(d.ticks["hr_bpm"][t > t[-1] - 60.0]))


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("status", ["crashed", "interrupted"])
def test_report_of_a_session_that_did_not_end(sim_folder, tmp_path, status):
    folder = tmp_path / sim_folder.name
    shutil.copytree(sim_folder, folder)
    (folder / "report.html").unlink(missing_ok=True)  # written only if sim_report ran first
    con = sqlite3.connect(folder / "session.db")
    with con:
        con.execute("DELETE FROM ticks WHERE t_s >= 30")
        con.execute("DELETE FROM beats WHERE time_s >= 30")
        con.execute("DELETE FROM events WHERE t_s >= 30")
        if status == "crashed":  # killed: never closed, its process is gone
            con.execute(
                "UPDATE sessions SET status = 'running', ended_utc = NULL, pid = ?", (_dead_pid(),)
            )
        else:
            con.execute("UPDATE sessions SET status = 'interrupted'")
    con.close()
    assert load_session(folder).meta["status"] == status
    text, page = render(folder)
    banner = page.ids["status"]
    assert f"Status: {status}" in banner and "covers the recorded part" in banner
    assert "Recorded: 0:00 to 0:30 of 1:40 planned" in banner
    assert "Ended normally" not in text
    assert len(decode_pngs(page)) >= 5
    rows = summary_table(page)
    assert rows["Arousal (estimate)"][0][0] != "–"  # baseline (0-20 s) was recorded


def test_report_of_a_session_with_no_ticks(tmp_path):
    from attune.sessions.store import SessionStore

    folder = tmp_path / "empty"
    folder.mkdir(mode=0o700)
    SessionStore(
        folder,
        tick_columns=["t_s", "phase", "arousal"],
        meta={"name": "x", "mode": "live", "tick_s": 0.25},
    ).close(status="interrupted")
    text, page = render(folder)
    assert page.images == [] and "No ticks were recorded" in text
    assert "Status: interrupted" in page.ids["status"]


def test_importing_the_report_module_does_not_import_matplotlib():
    code = "import sys, attune.sessions.report; print('matplotlib' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"
