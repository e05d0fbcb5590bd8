import numpy as np
import pytest

from engine.affect import AffectEstimate
from sessions.build import make_controller, make_envelope
from sessions.config import SessionConfig
from synthesis.params import PARAM_NAMES, MusicParams, music_arousal

CFG = SessionConfig()


def run(controller, arousal_of_t, conf_of_t=lambda t: 0.9, ticks=2400):
    out = []
    for i in range(ticks):
        t = i * CFG.tick_s
        est = AffectEstimate(arousal_of_t(t), 0.0, conf_of_t(t), t, 0.4)
        out.append(controller.update(est))
    return out


def assert_within_envelope(decisions):
    env = make_envelope(CFG.safety)
    dt = CFG.tick_s
    prev = None
    for d in decisions:
        p = d.params
        for name in PARAM_NAMES:
            lo, hi = env.bounds[name]
            assert lo - 1e-9 <= getattr(p, name) <= hi + 1e-9, (name, getattr(p, name))
        if prev is not None:
            for name in PARAM_NAMES:
                if name == "mode":
                    assert abs(p.mode - prev.mode) <= 1
                    continue
                step = getattr(p, name) - getattr(prev, name)
                up = env.fade_up_per_s if name == "fade" else env.slew_per_s[name]
                assert -env.slew_per_s[name] * dt - 1e-9 <= step <= up * dt + 1e-9, name
        prev = p


def test_bounds_and_slew_hold_on_every_tick_even_with_wild_estimates():
    rng = np.random.default_rng(0)
    wild = rng.uniform(-1, 1, 2400)
    decisions = run(make_controller(CFG), lambda t: wild[int(t / CFG.tick_s)])
    assert_within_envelope(decisions)
    # tempo slew: never more than 3 BPM per minute
    tempo = np.array([d.params.tempo_bpm for d in decisions])
    assert np.max(np.abs(np.diff(tempo))) <= 3.0 / 60 * CFG.tick_s + 1e-9


def test_phases_fades_and_silent_baseline():
    decisions = run(make_controller(CFG), lambda t: 0.6)
    phases = [d.phase for d in decisions]
    assert phases[0] == "baseline" and phases[-1] == "maintain"
    assert phases[int(30 / CFG.tick_s)] == "match"
    assert phases[int(90 / CFG.tick_s)] == "transition"
    assert all(d.params.fade == 0.0 for d in decisions[: int(30 / CFG.tick_s)])
    assert decisions[int(60 / CFG.tick_s)].params.fade == pytest.approx(1.0)
    assert decisions[int(30 / CFG.tick_s)].events == ("phase match",)


def test_matching_mirrors_state_then_target_moves_monotonically_to_goal():
    decisions = run(make_controller(CFG), lambda t: 0.6)
    match = decisions[int(50 / CFG.tick_s) : int(90 / CFG.tick_s)]
    assert all(d.target_arousal == pytest.approx(0.6) for d in match)
    # music during matching expresses the measured (aroused) state
    assert music_arousal(match[-1].params) > 0.3
    tr = [d.target_arousal for d in decisions if d.phase == "transition"]
    assert tr[0] == pytest.approx(0.6, abs=0.01)
    assert np.all(np.diff(tr) <= 1e-12)
    assert tr[-1] == pytest.approx(CFG.goal.arousal, abs=0.01)


def test_music_leads_below_target_when_listener_is_above_it():
    decisions = run(make_controller(CFG), lambda t: 0.6)
    late = decisions[-1]
    assert late.phase == "maintain"
    assert music_arousal(late.params) < late.target_arousal


def test_low_confidence_holds_then_drifts_to_neutral():
    cfg = CFG
    lost = (200.0, 300.0)
    decisions = run(
        make_controller(cfg),
        lambda t: 0.6,
        conf_of_t=lambda t: 0.0 if lost[0] <= t < lost[1] else 0.9,
    )
    i0 = int(lost[0] / cfg.tick_s)
    i_hold_end = int((lost[0] + cfg.control.hold_timeout_s) / cfg.tick_s)
    assert decisions[i0].hold and "hold: low confidence" in decisions[i0].events
    held = [d.params for d in decisions[i0 + 1 : i_hold_end]]
    # while holding the parameters stay where they were (apart from finishing slews)
    tempo = np.array([p.tempo_bpm for p in held])
    assert np.ptp(tempo) <= 3.0 / 60 * cfg.control.hold_timeout_s + 1e-9
    assert decisions[int(lost[1] / cfg.tick_s)].events == ("resume: confidence restored",)
    # after the timeout the music drifts toward the neutral preset, slew-limited throughout
    late = decisions[int((lost[1] - 1) / cfg.tick_s)].params
    neutral = cfg.control.neutral_arousal
    assert abs(music_arousal(late) - neutral) < abs(
        music_arousal(decisions[i_hold_end].params) - neutral
    )
    assert_within_envelope(decisions)


def test_disabled_controller_freezes_the_music():
    cfg = CFG.model_copy(update={"control": CFG.control.model_copy(update={"enabled": False})})
    decisions = run(make_controller(cfg), lambda t: 0.6)
    played = {(d.params.with_(fade=1.0)) for d in decisions}
    assert len(played) == 1
    assert isinstance(next(iter(played)), MusicParams)


def test_recovery_tapers_to_silence():
    phases = CFG.phases.model_copy(update={"maintain_s": 30.0, "recovery_s": 60.0})
    cfg = CFG.model_copy(update={"phases": phases})
    decisions = run(make_controller(cfg), lambda t: -0.4, ticks=int(phases.total_s / CFG.tick_s))
    rec = [d for d in decisions if d.phase == "recovery"]
    assert rec and rec[0].events == ("phase recovery",)
    fades = np.array([d.params.fade for d in rec])
    assert np.all(np.diff(fades) <= 0)
    # silent within the configured fade-out time, and for the rest of recovery
    n_out = int(np.ceil(CFG.safety.fade_out_s / CFG.tick_s))
    assert np.all(fades[n_out:] == 0.0)
