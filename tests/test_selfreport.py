"""Self-report: SAM ratings before, during and after a session (issue 19, must-show 2)."""

import csv
import io
import json
import threading

import numpy as np
import pytest

from attune.engine.affect import AffectEstimator, ModalityStatus, sam_to_unit, unit_to_sam
from attune.engine.protocol import CommandError, parse_command
from attune.sessions.cli import main
from attune.sessions.config import Estimator, SessionOptions
from attune.sessions.export import export_table
from attune.sessions.report import write_report
from attune.sessions.selfreport import SelfReportError, add_rating, read_reports, summarize
from attune.sessions.simulated_run import run_simulation
from attune.sessions.store import load_session
from attune.sessions.therapist import ScriptedCommands

RELATIVE = Estimator(prior_arousal=None, prior_valence=None)


def _estimator(prior=(None, None)):
    return AffectEstimator(
        baseline_end_s=10.0,
        tick_s=0.25,
        prior_arousal=prior[0],
        prior_valence=prior[1],
        weights={"hr_bpm": 1.0, "ln_rmssd": 1.0, "faa": 1.0},
        arousal_gain=0.4,
        valence_gain=0.3,
        arousal_tau_s=15.0,
        valence_tau_s=30.0,
        stale_s=3.0,
    )


def _feed(est, t0, t1, hr, ln=3.5, faa=0.0):
    ok = {"hrv": ModalityStatus(1.0, 60.0, 0.0), "eeg": ModalityStatus(1.0, 4.0, 0.0)}
    out = None
    rng = np.random.default_rng(int(t0))
    for t in np.arange(t0, t1, 0.25):
        f = {"hr_bpm": hr + rng.normal(0, 1.0), "ln_rmssd": ln + rng.normal(0, 0.05), "faa": faa}
        out = est.update(float(t), f, ok)
    return out


def test_sam_maps_both_ways():
    for s in (1.0, 3.0, 5.0, 6.5, 9.0):
        assert unit_to_sam(sam_to_unit(s)) == s
    assert unit_to_sam(2.0) == 9.0  # clipped to the scale


def test_sam_command_grammar():
    assert parse_command("sam 3 7") == ("sam", (3.0, 7.0, "during"))
    assert parse_command("sam 8.5 2 pre") == ("sam", (8.5, 2.0, "pre"))
    for bad, msg in (
        ("sam 0 5", "arousal must be a SAM rating in \\[1, 9\\], got 0"),
        ("sam 5 10 post", "valence must be a SAM rating"),
        ("sam 5 5 later", "expected 'sam AROUSAL VALENCE"),
        ("sam 5", "expected 'sam AROUSAL VALENCE"),
        ("sam x 5", "arousal must be a number"),
    ):
        with pytest.raises(CommandError, match=msg):
            parse_command(bad)


def test_intake_rating_sets_the_starting_point():
    est = _estimator()
    first = _feed(est, 0.0, 1.0, 70.0)
    assert first.relative and first.arousal == 0.0
    ev = est.self_report(1.0, "pre", sam_to_unit(8), sam_to_unit(3))
    assert "intake self-report sets the starting point" in ev[0]
    e = _feed(est, 1.25, 2.0, 70.0)
    assert not e.relative and e.arousal == sam_to_unit(8) and e.valence == sam_to_unit(3)


def test_a_rating_during_the_session_anchors_the_estimate():
    est = _estimator()
    _feed(est, 0.0, 10.0, 70.0)  # baseline
    before = _feed(est, 10.0, 40.0, 74.0)  # heart rate up: arousal up, relative
    assert before.relative and before.arousal > 0.2
    ev = est.self_report(40.0, "during", sam_to_unit(2), sam_to_unit(7))
    assert "anchored on the listener's self-report" in ev[0] and "no longer relative" in ev[0]
    after = _feed(est, 40.0, 40.5, 74.0)
    assert not after.relative
    assert after.arousal == pytest.approx(sam_to_unit(2), abs=0.02)  # moved by > 0.9
    assert after.arousal < before.arousal - 0.9
    assert after.valence == pytest.approx(sam_to_unit(7), abs=0.02)
    # the features still move it: heart rate up again raises arousal from the anchor
    later = _feed(est, 40.5, 90.0, 77.0)
    assert later.arousal > after.arousal + 0.1
    # "post" leaves the estimate alone
    assert est.self_report(90.0, "post", 0.9, 0.9) == ()


@pytest.fixture(scope="module")
def anchored(tmp_path_factory):
    """Two 70 s relative sessions of one listener, one given 'sam 2 7' at 40 s."""
    from attune.sessions.config import Phases, SessionConfig

    out = tmp_path_factory.mktemp("s")
    cfg = SessionConfig(
        output_dir=out,
        render_audio=False,
        seed=5,
        estimator=RELATIVE,
        phases=Phases(baseline_s=20.0, match_s=50.0, transition_s=0.0, maintain_s=0.0),
    )
    plain = run_simulation(cfg)
    rated = run_simulation(cfg, commands=[ScriptedCommands([(40.0, "sam 2 7")])])
    return load_session(plain.folder), load_session(rated.folder)


def test_channel_rating_moves_the_session_estimate(anchored):
    plain, rated = anchored
    t = rated.ticks["t_s"]
    i = int(np.searchsorted(t, 40.0))
    a0, a1 = plain.ticks["arousal"], rated.ticks["arousal"]
    assert np.array_equal(a0[:i], a1[:i], equal_nan=True)  # same listener, same ticks
    assert a1[i] == pytest.approx(sam_to_unit(2), abs=0.02)
    assert abs(a1[i] - a0[i]) > 0.3  # visibly moved
    reports = read_reports(rated.folder)
    during = [r for r in reports if r.kind == "during"]
    assert [(r.t_s, r.arousal, r.valence, r.source) for r in during] == [
        (40.0, 2.0, 7.0, "channel")
    ]
    events = [e for _, e in rated.events]
    assert any("absolute from here, no longer relative" in e for e in events)
    assert not any(r.kind == "pre" for r in reports)  # relative: no intake to record
    # the simulated listener rates how it ends
    post = [r for r in reports if r.kind == "post"]
    assert len(post) == 1 and post[0].source == "simulated" and post[0].arousal in range(1, 10)


def test_intake_flag_starts_the_session_there(short_config, capsys):
    cfg = short_config(estimator=RELATIVE)
    out_dir = cfg.output_dir
    argv = ["simulate", "--out", str(out_dir), "--duration-s", "30", "--no-audio", "--no-report"]
    assert main([*argv, "--intake-sam", "8", "3"]) == 0
    folder = next(out_dir.glob("*demo*"))
    data = load_session(folder)
    pre = [r for r in read_reports(folder) if r.kind == "pre"]
    assert [(r.arousal, r.valence, r.source) for r in pre] == [(8.0, 3.0, "intake")]
    assert data.ticks["arousal"][0] == sam_to_unit(8)
    with pytest.raises(SystemExit) as e:  # off the 9-point scale: one argparse line, exit 2
        main([*argv, "--intake-sam", "0", "3"])
    assert e.value.code == 2
    assert "--intake-sam: SAM rating must be between 1 and 9" in capsys.readouterr().err


def test_cli_files_before_and_after_and_the_report_shows_them(anchored, tmp_path, capsys):
    _, rated = anchored
    folder = rated.folder
    assert (
        main(["selfreport", str(folder), "--when", "pre", "--arousal", "7", "--valence", "4"]) == 0
    )
    assert "filed at 0.00 s" in capsys.readouterr().out
    assert (
        main(["selfreport", str(folder), "--when", "post", "--arousal", "3", "--valence", "6"]) == 0
    )
    with pytest.raises(SystemExit) as e:  # off the scale: one argparse line, exit 2
        main(["selfreport", str(folder), "--when", "post", "--arousal", "12", "--valence", "6"])
    assert e.value.code == 2
    assert "--arousal: SAM rating must be between 1 and 9, got 12" in capsys.readouterr().err
    with pytest.raises(SelfReportError, match="--when"):
        add_rating(folder, "later", 3, 3)
    sm = summarize(read_reports(folder))
    assert sm.pre is not None and sm.pre.arousal == 7.0
    assert sm.post is not None and sm.post.arousal == 3.0 and sm.change() == (-4.0, 2.0)
    buf = io.StringIO()
    n = export_table(folder, "selfreports", buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert n == len(rows) >= 4 and rows[0]["kind"] == "pre" and rows[0]["source"] == "cli"
    assert {r["source"] for r in rows} >= {"cli", "channel", "simulated"}
    page = write_report(folder, out=tmp_path / "r.html").read_text()
    assert 'id="self-report"' in page and 'id="selfreports"' in page
    assert "arousal 7 &rarr; 3 (-4)" in page and "control channel" in page
    assert "From 0:40 on they are anchored on the listener&#x27;s own rating" in page


def test_report_says_when_there_are_no_selfreports(short_config, tmp_path):
    folder = run_simulation(short_config(estimator=RELATIVE)).folder
    import sqlite3

    con = sqlite3.connect(folder / "session.db")
    with con:
        con.execute("DELETE FROM selfreports")
    con.close()
    page = write_report(folder, out=tmp_path / "r.html").read_text()
    assert 'id="no-selfreports"' in page


def test_feeling_on_the_channel_proposes_and_confirm_stores(tmp_path):
    """The real command channel: 'feeling TEXT' replies a proposal, 'feeling confirm' files it."""
    from attune.sessions.build import make_controller
    from attune.sessions.config import SessionConfig
    from attune.sessions.feelings import FeelingDesk
    from attune.sessions.therapist import TherapistChannel, send_command_reply

    cfg = SessionConfig(session=SessionOptions(store_feeling_text=True))
    controller = make_controller(cfg)
    desk = FeelingDesk(controller.command, controller.self_report, keep_text=True)
    ch = TherapistChannel(tmp_path)
    replies: dict[str, object] = {}

    def client():
        try:
            replies["confirm-first"] = send_command_reply(tmp_path, "feeling confirm")
        except Exception as e:  # noqa: BLE001 - the refusal is the point
            replies["confirm-first"] = str(e)
        replies["proposal"] = send_command_reply(tmp_path, "feeling very calm and peaceful")
        replies["confirm"] = send_command_reply(tmp_path, "feeling confirm")

    th = threading.Thread(target=client)
    th.start()
    events: list[str] = []
    for _ in range(200_000):
        events += ch.poll(0.0, desk.submit)
        if not th.is_alive():
            break
        th.join(timeout=0.001)
    th.join(timeout=10)
    ch.close()
    assert "no proposal to confirm" in str(replies["confirm-first"])
    prop = replies["proposal"]
    assert isinstance(prop, dict) and "send 'feeling confirm'" in str(prop["reply"])
    sam = prop["proposal"]
    assert isinstance(sam, dict) and sam["arousal"] < 3 and sam["valence"] > 5
    assert json.dumps(replies["confirm"])  # a plain JSON reply
    controller.begin_tick(0.0)
    (rep,) = controller.take_self_reports()
    assert (rep.kind, rep.source, rep.text) == ("during", "feeling", "very calm and peaceful")
    assert (rep.arousal, rep.valence) == (sam["arousal"], sam["valence"])
    assert any(e.startswith("command rejected: feeling confirm") for e in events)
    assert [e.split(":")[0] for e in desk.take_events()] == [
        "feeling proposed",
        "feeling confirmed",
    ]


def test_feeling_in_a_session_is_stored_without_words_unless_consented(short_config):
    script = [(10.0, "feeling I'm not anxious anymore"), (10.25, "feeling confirm")]
    kept = {}
    for consent in (False, True):
        cfg = short_config(estimator=RELATIVE, session=SessionOptions(store_feeling_text=consent))
        folder = run_simulation(cfg, commands=[ScriptedCommands(script)]).folder
        (rep,) = [r for r in read_reports(folder) if r.source == "feeling"]
        kept[consent] = rep.text
        assert rep.kind == "during" and rep.t_s == 10.25 and rep.arousal < 5 and rep.valence > 5
    assert kept == {False: None, True: "I'm not anxious anymore"}


def test_feeling_command_on_a_finished_session(anchored, capsys):
    _, rated = anchored
    folder = rated.folder
    assert main(["feeling", str(folder), "so", "tense", "and", "stressed"]) == 0
    out = capsys.readouterr().out
    assert "proposed SAM arousal" in out and "not stored: confirm with --confirm" in out
    n_before = len(read_reports(folder))
    assert main(["feeling", str(folder), "I feel relaxed", "--confirm"]) == 0
    assert "(words not kept: no consent)" in capsys.readouterr().out
    reps = read_reports(folder)
    assert len(reps) == n_before + 1
    new = [r for r in reps if r.source == "feeling"][-1]
    assert new.kind == "post" and new.text is None and new.arousal < 5


def test_selfreport_on_a_running_session_goes_through_its_channel(tmp_path):
    """`attune selfreport` on a session with an open channel sends `sam`, not a store write."""
    from attune.sessions.build import make_controller
    from attune.sessions.config import SessionConfig
    from attune.sessions.therapist import TherapistChannel

    controller = make_controller(SessionConfig())
    ch = TherapistChannel(tmp_path)  # a running session's folder: control.json, no store
    said: dict[str, str] = {}
    th = threading.Thread(target=lambda: said.update(line=add_rating(tmp_path, "during", 2, 8)))
    th.start()
    for _ in range(200_000):
        ch.poll(0.0, controller.command)
        if not th.is_alive():
            break
        th.join(timeout=0.001)
    th.join(timeout=10)
    ch.close()
    assert said["line"].startswith("sent to the running session: SAM arousal 2, valence 8")
    controller.begin_tick(0.0)
    (rep,) = controller.take_self_reports()
    assert (rep.kind, rep.arousal, rep.valence, rep.source) == ("during", 2.0, 8.0, "channel")
