"""The response learner: how the measured arousal answers the music, and what the loop does."""

import json

import numpy as np
import pytest

from attune.engine.affect import AffectEstimate
from attune.engine.response import ResponseLearner, ResponseSettings, ResponseState
from attune.sessions.build import make_controller, make_envelope
from attune.sessions.config import SessionConfig
from attune.sessions.evaluate import check_run
from attune.synthesis.params import music_arousal

TICK = 0.5


def _listener_run(gain: float, *, seed: int = 0, noise: float = 0.03, seconds: float = 600.0):
    """Feed the learner a calming ramp and an estimate that answers it with ``gain``."""
    rng = np.random.default_rng(seed)
    learner = ResponseLearner(tick_s=TICK)
    n = int(seconds / TICK)
    m_f = 0.5
    a_ref = 0.5
    ar = 0.0
    out = []
    for i in range(n):
        t = i * TICK
        m = 0.5 - min(1.0, t / 300.0)  # 0.5 -> -0.5 over 5 min, then held
        learner.hear(m)
        m_f += (1 - np.exp(-TICK / 60.0)) * (m - m_f)
        ar = 0.99 * ar + noise * 0.14 * rng.normal()  # slow measurement noise, SD ~ noise
        if i == 0:
            learner.start(t, a_ref, goal=0.0)
        a = a_ref + gain * (m_f - 0.5) + ar
        st = learner.update(t, a, 0.8)
        out.append((t, st.verdict, st.gain, a - a_ref))
    return learner, out


def test_state_round_trips_through_json_and_rejects_nonsense():
    st = ResponseState(gain=-0.4, gain_sd=0.1, verdict="paradoxical", verdict_t=312.0)
    st.levers = {"tempo_bpm": -12.5}
    back = ResponseState.from_dict(json.loads(json.dumps(st.to_dict())))
    assert back == st
    with pytest.raises(ValueError, match="verdict"):
        ResponseState.from_dict({**st.to_dict(), "verdict": "maybe"})
    with pytest.raises(ValueError, match="gain_sd"):
        ResponseState.from_dict({**st.to_dict(), "gain_sd": 0.0})


def test_responder_gain_is_learned_with_shrinking_uncertainty():
    learner, out = _listener_run(0.7)
    st = learner.state
    assert st.verdict in ("responds", "strong")
    assert st.gain == pytest.approx(0.7, abs=0.2)
    assert st.gain_sd < ResponseSettings().prior_gain_sd / 2
    assert not learner.latched


def test_paradoxical_response_latches_within_three_minutes_of_showing():
    learner, out = _listener_run(-0.6)
    assert learner.latched and learner.state.verdict == "paradoxical"
    shows = next(t for t, _, _, moved in out if moved >= 0.1)  # 0.1 the wrong way
    assert learner.state.verdict_t is not None and learner.state.verdict_t - shows <= 180.0


def test_absent_response_is_called_none_and_never_paradoxical():
    for seed in range(3):
        learner, out = _listener_run(0.0, seed=seed)
        verdicts = {v for _, v, _, _ in out}
        assert "paradoxical" not in verdicts
        assert learner.state.verdict == "none", seed
        assert learner.state.verdict_t is not None and learner.state.verdict_t <= 360.0


def test_no_response_is_judged_only_once_the_music_has_moved_for_a_while():
    """A slow listener gets ``min_none_s`` from when the music moved, not from the start.

    The music holds for 3 minutes of the transition (e.g. a therapist pin), then moves;
    nothing answers. ``none`` may latch only ``min_none_s`` after the music first moved
    ``min_excursion``, however long the transition had run before.
    """
    s = ResponseSettings()
    learner = ResponseLearner(tick_s=TICK)
    moved_t = None
    for i in range(int(720 / TICK)):
        t = i * TICK
        m = 0.5 - max(0.0, min(1.0, (t - 180.0) / 120.0))  # held 3 min, then 0.5 -> -0.5
        learner.hear(m)
        if i == 0:
            learner.start(t, 0.5, goal=0.0)
        st = learner.update(t, 0.5, 0.8)
        if moved_t is None and st.excursion >= s.min_excursion:
            moved_t = t
    assert moved_t is not None and moved_t > 180.0 + 30.0  # the delayed, filtered music
    assert learner.state.verdict == "none"
    assert learner.state.verdict_t is not None
    assert learner.state.verdict_t >= moved_t + s.min_none_s


def _closed_loop(cfg, listener_gain: float, *, carry=None, seconds=720.0):
    """Controller against a toy listener whose estimate answers music arousal with a gain."""
    ctl = make_controller(cfg, carry)
    a0 = cfg.estimator.prior_arousal
    a = a0
    decisions = []
    m_f = a0
    for i in range(int(seconds / cfg.tick_s)):
        t = i * cfg.tick_s
        ctl.begin_tick(t)
        d = ctl.update(AffectEstimate(a, 0.0, 0.8, t, 0.4))
        decisions.append(d)
        if d.phase != "baseline":
            m_f += (1 - np.exp(-cfg.tick_s / 40.0)) * (music_arousal(d.params) - m_f)
            a = a0 + listener_gain * (m_f - a0)
    return ctl, decisions


def test_paradoxical_listener_gets_an_alarm_and_neutral_music_inside_the_envelope():
    cfg = SessionConfig()
    ctl, decisions = _closed_loop(cfg, -0.8)
    events = [e for d in decisions for e in d.events]
    alarms = [e for e in events if e.startswith("ALARM high paradoxical-response: ")]
    assert len(alarms) == 1
    neutral = music_arousal(ctl.law.neutral_preset())
    assert music_arousal(decisions[-1].params) == pytest.approx(neutral, abs=0.05)
    assert check_run(decisions, make_envelope(cfg.safety), cfg.tick_s) == (0, "")
    # it never reached the calm extreme of the envelope
    tempo = np.array([d.params.tempo_bpm for d in decisions])
    assert tempo.min() > cfg.safety.tempo_bpm_min + 1.0


def test_learning_off_keeps_pushing_the_paradoxical_listener():
    cfg = SessionConfig()
    off = cfg.model_copy(
        update={"control": cfg.control.model_copy(update={"learn_response": False})}
    )
    ctl, decisions = _closed_loop(off, -0.8)
    assert not any(e.startswith("ALARM") for d in decisions for e in d.events)
    # driven ever further toward the calm extreme, well past the neutral preset
    neutral = music_arousal(ctl.law.neutral_preset())
    assert music_arousal(decisions[-1].params) < neutral - 0.4


def test_non_responder_gets_a_medium_alarm_and_rests_at_neutral():
    cfg = SessionConfig()
    ctl, decisions = _closed_loop(cfg, 0.0)
    events = [e for d in decisions for e in d.events]
    assert any(e.startswith("ALARM medium no-response: ") for e in events)
    neutral = music_arousal(ctl.law.neutral_preset())
    assert music_arousal(decisions[-1].params) == pytest.approx(neutral, abs=0.05)
