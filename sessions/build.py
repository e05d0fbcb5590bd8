"""Build the closed loop's parts from a :class:`~sessions.config.SessionConfig`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from engine.affect import AffectEstimator
from engine.controller import Controller, Envelope, PhasePlan
from engine.eeg import EEGStage
from engine.hrv import HRVStage
from engine.loop import STAGE_OF_KIND, Engine, SynthBackend
from sensors.types import Source
from sessions.config import Safety, SessionConfig
from synthesis.composer import Composer
from synthesis.params import BOUNDS, MusicParams, params_for


def make_plan(cfg: SessionConfig) -> PhasePlan:
    """Lay out the protocol phases of ``cfg`` from t = 0."""
    ph = cfg.phases
    return PhasePlan(
        [
            ("baseline", ph.baseline_s),
            ("match", ph.match_s),
            ("transition", ph.transition_s),
            ("maintain", ph.maintain_s),
            ("recovery", ph.recovery_s),
        ]
    )


def make_envelope(sf: Safety) -> Envelope:
    """Build the safety envelope: bounds inside :data:`BOUNDS`, per-second slew limits."""
    bounds = dict(BOUNDS)
    bounds["tempo_bpm"] = (sf.tempo_bpm_min, sf.tempo_bpm_max)
    bounds["loudness_db"] = (sf.loudness_db_min, sf.loudness_db_max)
    bounds["tension"] = (0.0, sf.tension_max)
    return Envelope(
        bounds=bounds,
        slew_per_s={
            "tempo_bpm": sf.tempo_slew_bpm_per_min / 60.0,
            "mode": 1.0,
            "tension": sf.timbre_slew_per_s,
            "brightness": sf.timbre_slew_per_s,
            "loudness_db": sf.loudness_slew_db_per_s,
            "density": sf.timbre_slew_per_s,
            "register_st": sf.register_slew_st_per_s,
            "fade": 1.0 / sf.fade_out_s,
        },
        fade_up_per_s=1.0 / sf.fade_in_s,
    )


def make_estimator(cfg: SessionConfig) -> AffectEstimator:
    """Build the affect estimator with the session's baseline, weights and smoothing."""
    es = cfg.estimator
    return AffectEstimator(
        baseline_end_s=cfg.phases.baseline_s,
        tick_s=cfg.tick_s,
        prior_arousal=es.prior_arousal,
        prior_valence=es.prior_valence,
        weights={
            "hr_bpm": es.w_hr,
            "ln_rmssd": es.w_ln_rmssd,
            "eeg_engagement_ln": es.w_engagement,
            "eeg_alpha_ln": es.w_alpha,
            "faa": es.w_faa,
            "valence_hr": es.w_valence_hr,
            # paced breathing moves RSA out of HF without any arousal change
            "hf_ln": 0.0 if es.paced_breathing else es.w_hf,
        },
        arousal_gain=es.arousal_gain,
        valence_gain=es.valence_gain,
        arousal_tau_s=es.arousal_tau_s,
        valence_tau_s=es.valence_tau_s,
        stale_s=es.stale_s,
    )


def starting_params(cfg: SessionConfig) -> MusicParams:
    """Music matching the intake state (iso principle), silent until the fade-in."""
    es, ct = cfg.estimator, cfg.control
    if not ct.enabled and ct.open_loop_music == "neutral":
        return params_for(ct.neutral_arousal, ct.neutral_valence).with_(fade=0.0)
    return params_for(es.prior_arousal, es.prior_valence).with_(fade=0.0)


def make_controller(cfg: SessionConfig) -> Controller:
    """Build the controller with the session's protocol, goal, envelope and control law."""
    ct = cfg.control
    return Controller(
        plan=make_plan(cfg),
        envelope=make_envelope(cfg.safety),
        goal_arousal=cfg.goal.arousal,
        goal_valence=cfg.goal.valence,
        start=starting_params(cfg),
        tick_s=cfg.tick_s,
        enabled=ct.enabled,
        lead_gain=ct.lead_gain,
        integral_per_s=ct.integral_per_s,
        integral_max=ct.integral_max,
        max_lead=ct.max_lead,
        feedforward=ct.feedforward,
        min_confidence=cfg.estimator.min_confidence,
        hold_timeout_s=ct.hold_timeout_s,
        neutral=(ct.neutral_arousal, ct.neutral_valence),
        transition_shape=cfg.phases.transition_shape,
        goal_ramp_s=ct.goal_ramp_s,
        recovery_silence_s=cfg.phases.recovery_silence_s,
        estop_fade_s=cfg.safety.estop_fade_s,
        override_loudness_rise_db_per_s=cfg.safety.override_loudness_rise_db_per_s,
    )


def build_engine(
    cfg: SessionConfig,
    *,
    sources: Sequence[Source],
    synths: Sequence[SynthBackend],
    listeners: Sequence[Callable[[float, MusicParams], None]] = (),
) -> Engine:
    """Assemble the closed loop for ``cfg`` around ``sources``.

    One feature stage is built per modality present (HRV for ECG/PPG/RR, EEG).
    """
    stages = {}
    for src in sources:
        info = src.info
        kind = STAGE_OF_KIND.get(info.kind)
        if kind == "hrv" and "hrv" not in stages:
            stages["hrv"] = HRVStage(fs=info.fs, window_s=60.0)
        elif kind == "eeg" and "eeg" not in stages:
            stages["eeg"] = EEGStage(fs=info.fs, channels=info.channels)
    return Engine(
        sources=sources,
        stages=stages,
        estimator=make_estimator(cfg),
        controller=make_controller(cfg),
        composer=Composer(seed=cfg.seed),
        synths=synths,
        tick_s=cfg.tick_s,
        listeners=listeners,
    )
