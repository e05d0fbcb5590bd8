"""The evaluation harness: closed loop vs open-loop calm music on simulated listeners."""

import json

import pytest

from attune.engine.controller import Decision
from attune.sessions.build import make_envelope
from attune.sessions.cli import main
from attune.sessions.config import SessionConfig
from attune.sessions.evaluate import EvalProtocol, check_run, draw_listener, evaluate
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


def test_listeners_are_seeded_and_goals_relative_to_their_start():
    pr = EvalProtocol()
    a = draw_listener(0, 3, pr)
    b = draw_listener(0, 3, pr)
    assert a[0].traits == b[0].traits and a[1:] == b[1:]
    _, intake, goal, true_goal = a
    assert goal == pytest.approx(intake + pr.goal_delta)
    assert draw_listener(0, 4, pr)[0].traits != a[0].traits


def test_quick_population_via_cli(tmp_path, capsys):
    """A reduced run of the must-show (the 50-listener run is the slow test below)."""
    out = tmp_path / "report.json"
    code = main(["evaluate", "--listeners", "3", "--seed", "0", "--jobs", "2", "--json", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "closed loop" in text and "open loop" in text
    report = json.loads(out.read_text())
    assert len(report["runs"]) == 6
    s = report["summary"]
    assert s["closed"]["violations"] == 0 and s["open"]["violations"] == 0
    assert s["closed"]["success_rate"] >= s["open"]["success_rate"]


@pytest.mark.slow
def test_fifty_listeners_closed_loop_beats_open_loop_calm_music():
    report = evaluate(50, seed=0)
    s = report.summary
    print(report.format())
    # zero slew or bound violations on every tick of every run
    assert s["closed"]["violations"] == 0 and s["open"]["violations"] == 0
    assert s["closed"]["success_rate"] >= 0.8
    assert s["closed"]["success_rate"] > s["open"]["success_rate"]
    closed_t, open_t = s["closed"]["median_time_to_target_s"], s["open"]["median_time_to_target_s"]
    assert closed_t is not None
    assert open_t is None or closed_t < open_t
