"""The therapist's web console in real headless Chromium against real realtime sessions.

One `attune simulate --realtime` session (14 s, audio rendered) is driven from the page:
the page's values are compared with the store's ticks afterwards, every control must
show up in the store, a reload reconnects, a wrong or missing token gets 403, the
tick-to-page latency is measured in the browser, and the emergency stop (Escape key)
must silence the rendered audio within 2 s. A 10-minute session checks memory (slow).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ATTUNE = Path(sys.executable).with_name("attune")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is needed")


@dataclass
class Live:
    proc: subprocess.Popen
    url: str
    base: str
    token: str
    out: Path


def start_session(out: Path, duration_s: float) -> Live:
    """Start `attune simulate --realtime` and return once it printed its console URL."""
    proc = subprocess.Popen(
        [str(ATTUNE), "simulate", "--realtime", "--duration-s", str(duration_s)]
        + ["--out", str(out), "--no-report", "--seed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"Console: (http://127\.0\.0\.1:\d+)/\?token=([0-9a-f]+)", line)
    assert m, f"no console URL printed, got {line!r}"
    return Live(proc, m.group(0)[len("Console: ") :], m.group(1), m.group(2), out)


def http_status(url: str, *, data: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read(2000)
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def finish(live: Live, timeout_s: float = 60.0) -> Path:
    """Wait for the session to end; return its folder."""
    assert live.proc.stdout is not None
    rest = live.proc.stdout.read()
    assert live.proc.wait(timeout=timeout_s) == 0
    m = re.search(r"Session folder: (.+)", rest)
    assert m, rest
    return Path(m.group(1).strip())


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--enable-precise-memory-info"],
        )
        try:
            yield b
        finally:
            b.close()


SAMPLE_JS = """() => ({
  t: Number(document.getElementById('elapsed').dataset.t),
  phase: document.getElementById('phase').textContent,
  arousal: document.getElementById('arousal').dataset.value,
  target: document.getElementById('target').dataset.value,
  tempo: document.getElementById('v-tempo_bpm').dataset.value,
  fade: document.getElementById('v-fade').dataset.value,
  hr: document.getElementById('tv-hr_bpm').dataset.value,
  hr_text: document.getElementById('tv-hr_bpm').textContent,
  level: document.getElementById('level').dataset.value,
})"""


def sample(page: object) -> dict:
    return page.evaluate(SAMPLE_JS)  # type: ignore[attr-defined]


def wait_until(page: object, js: str, timeout_s: float = 20.0) -> None:
    page.wait_for_function(js, timeout=timeout_s * 1e3)  # type: ignore[attr-defined]


def session_time(page: object) -> float:
    return float(page.evaluate("() => window.attune.last.t"))  # type: ignore[attr-defined]


def rms_dbfs_windows(path: Path, window_s: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Times (s, window starts) and RMS (dBFS) of the rendered session audio."""
    from attune.sessions.console.meter import pcm_to_float
    from attune.synthesis.supervisor import read_wav_frames

    raw, nch, width = read_wav_frames(path)
    x = pcm_to_float(raw.tobytes(), nch, width).mean(axis=1)
    sr = 48000
    n = int(window_s * sr)
    k = x.size // n
    ms = (x[: k * n].reshape(k, n) ** 2).mean(axis=1)
    return np.arange(k) * window_s, 10 * np.log10(np.maximum(ms, 1e-14))


def test_console_drives_a_realtime_session(tmp_path: Path, browser: object) -> None:
    from attune.sessions.store import load_session

    live = start_session(tmp_path, 14.0)
    try:
        # -- a wrong or missing token: 403 and no data
        for path in ("/", "/events", "/static/console.js", "/report"):
            for q in ("", "?token=", "?token=" + "0" * 32):
                code, body = http_status(live.base + path + q)
                assert code == 403, (path, q, code)
                assert b"data:" not in body and b"tempo" not in body
        code, body = http_status(
            live.base + "/api/command?token=bad", data=json.dumps({"command": "estop"}).encode()
        )
        assert code == 403 and b'"ok"' not in body

        page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
        page.goto(live.url)
        wait_until(page, "() => window.attune.received >= 4")
        samples = [sample(page)]
        assert samples[0]["hr_text"] == "not enough data yet"  # no heart rate in 1 s
        # -- a reload reconnects and keeps receiving
        page.reload()
        wait_until(page, "() => window.attune.connects >= 1 && window.attune.received >= 2")
        n0 = page.evaluate("() => window.attune.received")
        wait_until(page, f"() => window.attune.received >= {n0 + 2}")
        samples.append(sample(page))
        # -- the music starts after the 3.5 s baseline
        wait_until(page, "() => window.attune.last.phase !== 'baseline'", 15)
        samples.append(sample(page))

        def reply_for(command: str) -> dict:
            wait_until(
                page,
                f"() => window.attune.replies.some(r => r.command === {json.dumps(command)})",
                10,
            )
            return page.evaluate(
                f"() => window.attune.replies.filter(r => r.command === {json.dumps(command)})[0]"
            )

        page.eval_on_selector(
            "#pin-tempo_bpm", "e => { e.value = 70; e.dispatchEvent(new Event('input')); }"
        )
        page.click("#p-tempo_bpm [data-pin]")
        assert (r := reply_for("pin tempo_bpm 70"))["ok"], r
        wait_until(page, "() => document.getElementById('why-tempo_bpm').dataset.reason === 'pin'")
        samples.append(sample(page))
        page.click("#pause")
        assert (r := reply_for("pause"))["ok"], r
        page.click("#resume")
        assert (r := reply_for("resume"))["ok"], r
        page.click("#skip")
        assert (r := reply_for("skip"))["ok"], r
        page.fill("#goal-a", "-0.6")
        page.fill("#goal-v", "0.2")
        page.click("#goal")
        assert (r := reply_for("goal -0.6 0.2"))["ok"], r
        page.fill("#note", "listener closed her eyes")
        page.click("#annotate")
        assert (r := reply_for("annotate listener closed her eyes"))["ok"], r
        page.select_option("#sam-a", "3")
        page.select_option("#sam-v", "7")
        page.click("#sam")
        sam = reply_for("sam 3 7 during")
        shown = page.inner_text("#reply")
        assert sam["ok"] and "done: sam 3 7 during" in shown, (sam, shown)
        page.click("#p-tempo_bpm [data-unpin]")
        assert (r := reply_for("unpin tempo_bpm"))["ok"], r
        samples.append(sample(page))
        page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
        if os.environ.get("ATTUNE_CONSOLE_SCREENSHOT"):  # the README's picture
            page.screenshot(path=os.environ["ATTUNE_CONSOLE_SCREENSHOT"], full_page=True)
        # -- the emergency stop, from the keyboard
        t_press = session_time(page)
        page.keyboard.press("Escape")
        assert (r := reply_for("estop"))["ok"], r
        wait_until(page, "() => window.attune.last.stopped", 5)
        wait_until(page, f"() => window.attune.last.t >= {t_press + 2.5}", 10)
        samples.append(sample(page))
        levels = np.array(page.evaluate("() => window.attune.levels"), dtype=float)
        page.click("#end")
        assert (r := reply_for("end"))["ok"], r
        wait_until(page, "() => window.attune.hello.status !== 'running'", 20)
        latencies = np.array(page.evaluate("() => window.attune.latencies"), dtype=float)
        gaps = page.evaluate("() => window.attune.gaps")
        page.close()
        folder = finish(live)
    finally:
        if live.proc.poll() is None:
            live.proc.kill()

    data = load_session(folder)
    ticks = data.ticks
    # -- the page showed the store's ticks
    for s in samples:
        i = int(np.argmin(np.abs(ticks["t_s"] - s["t"])))
        assert abs(ticks["t_s"][i] - s["t"]) < 1e-9, s
        assert ticks["phase"][i] == s["phase"]
        for key, col in (("arousal", "arousal"), ("tempo", "tempo_bpm"), ("fade", "fade")):
            assert float(s[key]) == pytest.approx(ticks[col][i], abs=1e-9), (key, s)
        if s["target"]:
            assert float(s["target"]) == pytest.approx(ticks["target_arousal"][i], abs=1e-9)
        else:
            assert np.isnan(ticks["target_arousal"][i])
    # -- each control changed the session, as the store records it
    events = [e for _, e in data.events]
    for want in (
        "override: pin tempo_bpm=70",
        "override: pause (protocol clock and control law frozen)",
        "override: resume",
        "override: goal arousal=-0.600 valence=0.200",
        "annotation: listener closed her eyes",
        "override: unpin tempo_bpm",
        "override: EMERGENCY STOP (fade to silence)",
        "session ending: fade out",
    ):
        assert want in events, want
    assert any(e.startswith("override: skip phase") for e in events)
    assert [a[2] for a in data.annotations] == ["listener closed her eyes"]
    from attune.sessions.selfreport import read_reports

    rated = [(r.kind, r.arousal, r.valence) for r in read_reports(folder) if r.source == "channel"]
    assert rated == [("during", 3.0, 7.0)]
    t_pin = next(t for t, e in data.events if e == "override: pin tempo_bpm=70")
    t_unpin = next(t for t, e in data.events if e == "override: unpin tempo_bpm")
    pinned = (ticks["t_s"] >= t_pin) & (ticks["t_s"] < t_unpin)
    tempo = ticks["tempo_bpm"][pinned]
    assert tempo[-1] < tempo[0] and np.all(np.diff(tempo) <= 1e-9)  # on its way to 70
    # -- updates: every tick reached the page, latency p95 <= 500 ms
    assert gaps == 0
    p95 = float(np.percentile(latencies, 95))
    print(
        f"tick->page latency: n={latencies.size} median={np.median(latencies):.0f} ms "
        f"p95={p95:.0f} ms"
    )
    assert latencies.size >= 20 and p95 <= 500.0
    # -- the emergency stop silenced the rendered audio within 2 s
    t_stop = next(t for t, e in data.events if e.startswith("override: EMERGENCY STOP"))
    assert t_press <= t_stop <= t_press + 1.0
    t_end = next(t for t, e in data.events if e == "session ending: fade out")
    tw, db = rms_dbfs_windows(folder / "session.wav")
    after = (tw >= t_press) & (tw + 0.05 <= t_end)
    loud = tw[after & (db >= -60.0)]
    silent_at = (loud.max() + 0.05 if loud.size else t_press) - t_press
    print(f"emergency stop: silent (< -60 dBFS) {silent_at:.2f} s after the key press")
    assert db[(tw >= t_press - 1.0) & (tw < t_press)].max() > -50.0  # playing (silent: < -60)
    assert silent_at <= 2.0
    # the page showed the synth's measured output: music, then silence
    playing = levels[levels[:, 0] < t_press, 1].max()
    stopped = levels[levels[:, 0] >= t_press + 2.0, 1]
    print(f"measured level on the page: up to {playing} dBFS playing, {stopped.max()} stopped")
    assert playing > -50.0 and stopped.size and stopped.max() < -60.0


def check_read_only(folder: Path, browser: object) -> None:
    """`attune console SESSION` serves a finished session from its store, read-only."""
    from attune.sessions.store import load_session

    data = load_session(folder)
    proc = subprocess.Popen(
        [str(ATTUNE), "console", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = re.search(r"http\S+", proc.stdout.readline()).group(0)  # type: ignore[union-attr]
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(url)
        wait_until(page, f"() => window.attune.received >= {min(data.n_ticks, 240)}")
        wait_until(page, "() => window.attune.hello.status === 'ended'")
        assert page.evaluate("() => document.body.classList.contains('readonly')")
        last = sample(page)
        assert last["t"] == data.ticks["t_s"][-1]
        assert float(last["tempo"]) == data.ticks["tempo_bpm"][-1]
        assert page.text_content("#remaining") == "0:00"  # finished: nothing remains
        code, _ = http_status(
            url.replace("/?", "/api/command?"), data=json.dumps({"command": "estop"}).encode()
        )
        assert code == 409  # read-only: nothing to control
        got = page.request.get(url.replace("/?", "/report?"))
        assert page.query_selector("#report-link") is not None
        assert got.status == 200 and b"<html" in got.body().lower()
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_console_links_a_finished_sessions_report(tmp_path: Path, browser: object) -> None:
    from attune.sessions.config import SessionConfig
    from attune.sessions.report import write_report
    from attune.sessions.simulated_run import fit_protocol, run_simulation

    cfg = fit_protocol(SessionConfig(output_dir=tmp_path, render_audio=False, seed=3), 12.0)
    folder = run_simulation(cfg).folder
    write_report(folder)
    check_read_only(folder, browser)


@pytest.mark.slow
def test_console_ten_minutes_memory(tmp_path: Path, browser: object) -> None:
    """A 10-minute realtime session with the page open: < 50 MB growth, no tick missed."""
    from attune.sessions.store import load_session

    live = start_session(tmp_path, 600.0)
    try:
        page = browser.new_page()  # type: ignore[attr-defined]
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(live.url)
        wait_until(page, "() => window.attune.received >= 4")

        def page_heap() -> float:
            cdp.send("HeapProfiler.collectGarbage")
            m = {x["name"]: x["value"] for x in cdp.send("Performance.getMetrics")["metrics"]}
            return m["JSHeapUsedSize"] / 1e6

        def server_rss() -> float:
            text = Path(f"/proc/{live.proc.pid}/status").read_text()
            return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1e3  # type: ignore[union-attr]

        wait_until(page, "() => window.attune.last.t >= 60", 120)
        heap0, rss0 = page_heap(), server_rss()
        t_first = (
            page.evaluate("() => window.attune.last.t")
            - (page.evaluate("() => window.attune.received") - 1) * 0.25
        )
        wait_until(page, "() => window.attune.last.t >= 590", 700)
        heap1, rss1 = page_heap(), server_rss()
        received = page.evaluate("() => window.attune.received")
        gaps = page.evaluate("() => window.attune.gaps")
        last_t = page.evaluate("() => window.attune.last.t")
        print(
            f"page heap {heap0:.1f} -> {heap1:.1f} MB, server RSS {rss0:.1f} -> {rss1:.1f} MB, "
            f"{received} ticks received, {gaps} missed"
        )
        page.close()
        folder = finish(live, timeout_s=120)
    finally:
        if live.proc.poll() is None:
            live.proc.kill()
    ticks = load_session(folder).ticks["t_s"]
    seen = ticks[(ticks >= t_first - 0.1) & (ticks <= last_t + 1e-9)]
    assert gaps == 0 and received == seen.size
    assert heap1 - heap0 < 50.0 and rss1 - rss0 < 50.0
