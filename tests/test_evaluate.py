"""The evaluation harness: closed loop vs open-loop calm music on simulated listeners."""

import json

import pytest

from attune.engine.controller import Decision
from attune.sessions.build import make_envelope
from attune.sessions.cli import main
from attune.sessions.config import SessionConfig
from attune.sessions.evaluate import EvalProtocol, check_run, draw_subject, evaluate
from attune.synthesis.params import MusicParams

CFG = SessionConfig()


def _decision(p: MusicParams, overridden=()) -> Decision:
    return Decision(p, "maintain", 0.0, 0.0, 0.0, False, overridden=overridden)


def test_checker_catches_slew_bound_and_phrase_violations():
    env = make_envelope(CFG.safety)
    p = MusicParams(tempo_bpm=80.0, loudness_db=-30.0, mode=2)
    ok = [_decision(p), _decision(p.with_(tempo_bpm=80.0 + 0.05 * 0.25))]
    assert check_run(ok, env, 0.25) == (0, "")
    jump = [_decision(p), _decision(p.with_(tempo_bpm=82.0))]
    n, first = check_run(jump, env, 0.25)
    assert n == 1 and "tempo_bpm changed by +2" in first
    loud = [_decision(p), _decision(p.with_(loudness_db=-10.0))]
    assert "outside" in check_run(loud, env, 0.25)[1]
    modes = [_decision(p), _decision(p.with_(mode=3)), _decision(p.with_(mode=4))]
    assert "mode stepped" in check_run(modes, env, 0.25)[1]
    # a therapist pin is held to the session's envelope too (issue 14: nothing bypasses it)
    pinned = [_decision(p), _decision(p.with_(tempo_bpm=45.0), overridden=("tempo_bpm",))]
    assert "tempo_bpm=45 outside [55, 115]" in check_run(pinned, env, 0.25)[1]


def test_listeners_are_seeded_split_and_goals_relative_to_their_start():
    pr = EvalProtocol()
    a = draw_subject(0, 3, pr, "tuning")
    b = draw_subject(0, 3, pr, "tuning")
    assert (a.cls, a.intake, a.goal, a.true_goal) == (b.cls, b.intake, b.goal, b.true_goal)
    assert a.goal == pytest.approx(a.intake + pr.goal_delta)
    held = [draw_subject(0, i, pr, "heldout") for i in range(4)]
    tuning = [draw_subject(0, i, pr, "tuning") for i in range(4)]
    assert [h.intake for h in held] != [t.intake for t in tuning]
    with pytest.raises(ValueError, match="split"):
        evaluate(1, split="test")


def test_quick_population_via_cli(tmp_path, capsys):
    """One listener, four conditions, through the CLI (the 200-listener run is in the README;
    the process pool is exercised by the slow worker-count test)."""
    out = tmp_path / "report.json"
    md = tmp_path / "report.md"
    code = main(
        ["evaluate", "--listeners", "1", "--split", "tuning", "--json", str(out)]
        + ["--markdown", str(md)]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.out
    assert "listener" in captured.err  # the progress bar
    assert "| class | n | condition | success |" in captured.out
    assert "Closed loop, alarms and stops" in md.read_text()
    report = json.loads(out.read_text())
    assert report["split"] == "tuning"
    assert len(report["runs"]) == 4
    assert {r["condition"] for r in report["runs"]} == {"closed", "ramp", "frozen", "oracle"}
    assert report["summary"]["violations"] == 0
    closed = [r for r in report["runs"] if r["condition"] == "closed"]
    assert all(r["corr_arousal"] is not None for r in closed)
    assert all(r["cpu_s"] > 0 for r in report["runs"])


def test_oracle_reads_the_true_state_in_the_intake_frame():
    """The oracle condition's estimate is the truth shifted by the intake rating's error."""
    from attune.sessions.evaluate import _TrueStateEstimator

    pr = EvalProtocol()
    sub = draw_subject(0, 5, pr, "tuning")
    oracle = _TrueStateEstimator(sub.listener, sub.intake, sub.goal - sub.true_goal, pr.baseline_s)
    during = oracle.update(10.0, {}, {})
    assert (during.arousal, during.confidence) == (sub.intake, 0.0)
    for t in (pr.baseline_s + 1.0, pr.lead_start_s + 200.0):
        est = oracle.update(t, {}, {})
        true_a, true_v = sub.listener.state_at(t)
        assert est.confidence == 1.0 and est.valence == true_v
        # the engine's goal is as far below the oracle's reading as the true goal is below
        # the truth: a perfect sensor in the frame of the intake rating
        assert est.arousal - sub.goal == pytest.approx(true_a - sub.true_goal)


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_workers():
    pr = EvalProtocol(match_s=30.0, transition_s=120.0, maintain_s=60.0)
    one = evaluate(2, seed=5, split="tuning", protocol=pr, jobs=1)
    two = evaluate(2, seed=5, split="tuning", protocol=pr, jobs=2)
    strip = [{**r.__dict__, "cpu_s": 0} for r in one.runs]
    assert strip == [{**r.__dict__, "cpu_s": 0} for r in two.runs]
