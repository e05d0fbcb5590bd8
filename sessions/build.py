"""Build the closed loop's parts from a :class:`~attune.sessions.config.SessionConfig`.

Also the session's sound outputs: the offline WAV renderer (:func:`make_renderer`) and,
for real-time sessions, the live sound card and MIDI port (:func:`check_live_outputs`
before the session, :func:`open_live_outputs` to start them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from attune.engine.affect import AffectEstimator
from attune.engine.control_law import LawSettings
from attune.engine.controller import Controller, Envelope, PhasePlan
from attune.engine.eeg import EEGStage
from attune.engine.hrv import HRVStage
from attune.engine.loop import STAGE_OF_KIND, Engine, Stage, SynthBackend
from attune.sensors.types import Source
from attune.sessions.carryover import CarryOver
from attune.sessions.config import ConfigError, Safety, SessionConfig
from attune.synthesis.composer import Composer
from attune.synthesis.params import BOUNDS, MusicParams, params_for


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
        estop_fade_s=sf.estop_fade_s,
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
            "hf_ln": 0.0 if cfg.features.paced_breathing_hz > 0.0 else es.w_hf,
        },
        arousal_gain=es.arousal_gain,
        valence_gain=es.valence_gain,
        arousal_tau_s=es.arousal_tau_s,
        valence_tau_s=es.valence_tau_s,
        stale_s=es.stale_s,
        min_confidence=es.min_confidence,
    )


def starting_params(cfg: SessionConfig) -> MusicParams:
    """Music matching the intake state (iso principle), silent until the fade-in."""
    es, ct = cfg.estimator, cfg.control
    if not ct.enabled and ct.open_loop_music == "neutral":
        return params_for(ct.neutral_arousal, ct.neutral_valence).with_(fade=0.0)
    return params_for(es.prior_arousal or 0.0, es.prior_valence or 0.0).with_(fade=0.0)


def make_controller(cfg: SessionConfig, carry: CarryOver | None = None) -> Controller:
    """Build the controller with the session's protocol, goal, envelope and control law.

    ``carry`` (what a previous visit learned, :func:`attune.sessions.carryover.load_carry_over`)
    seeds the response learner's prior.
    """
    ct = cfg.control
    return Controller(
        plan=make_plan(cfg),
        envelope=make_envelope(cfg.safety),
        goal_arousal=cfg.goal.arousal,
        goal_valence=cfg.goal.valence,
        start=starting_params(cfg),
        tick_s=cfg.tick_s,
        law=LawSettings(
            enabled=ct.enabled,
            lead_gain=ct.lead_gain,
            integral_per_s=ct.integral_per_s,
            integral_max=ct.integral_max,
            max_lead=ct.max_lead,
            feedforward=ct.feedforward,
            min_confidence=cfg.estimator.min_confidence,
            hold_timeout_s=ct.hold_timeout_s,
            neutral=(ct.neutral_arousal, ct.neutral_valence),
            learn_response=ct.learn_response,
        ),
        transition_shape=cfg.phases.transition_shape,
        goal_ramp_s=ct.goal_ramp_s,
        recovery_silence_s=cfg.phases.recovery_silence_s,
        response_prior=None if carry is None else carry.response,
    )


def build_engine(
    cfg: SessionConfig,
    *,
    sources: Sequence[Source],
    synths: Sequence[SynthBackend],
    listeners: Sequence[Callable[[float, MusicParams], None]] = (),
    carry: CarryOver | None = None,
) -> Engine:
    """Assemble the closed loop for ``cfg`` around ``sources``.

    One feature stage is built per modality present and switched on in
    ``cfg.features`` (HRV for ECG/PPG/RR, EEG), with the windows and filters set there;
    sources of a modality switched off are left out (not read). The composer swells
    with ``cfg.features.paced_breathing_hz``. ``carry`` seeds the response learner
    with what a previous visit learned.
    """
    feats = cfg.features
    stages: dict[str, Stage] = {}
    for src in sources:
        info = src.info
        kind = STAGE_OF_KIND.get(info.kind)
        if kind == "hrv" and feats.hrv and "hrv" not in stages:
            stages["hrv"] = HRVStage(
                fs=info.fs,
                window_s=feats.hrv_window_s,
                spectral_window_s=feats.hrv_spectral_window_s,
            )
        elif kind == "eeg" and feats.eeg and "eeg" not in stages:
            stages["eeg"] = EEGStage(
                fs=info.fs,
                channels=info.channels,
                window_s=feats.eeg_window_s,
                segment_s=feats.eeg_segment_s,
                notch_hz=feats.eeg_notch_hz,
                highpass_hz=feats.eeg_highpass_hz,
            )
    return Engine(
        sources=[s for s in sources if STAGE_OF_KIND.get(s.info.kind) in stages],
        stages=stages,
        estimator=make_estimator(cfg),
        controller=make_controller(cfg, carry),
        composer=Composer(seed=cfg.seed, breathing_hz=feats.paced_breathing_hz),
        synths=synths,
        tick_s=cfg.tick_s,
        listeners=listeners,
    )


def _audio_device(cfg: SessionConfig) -> int | str | None:
    """Return the portaudio device of ``cfg.audio.device`` (``"default"`` -> None)."""
    dev = cfg.audio.device
    return None if isinstance(dev, str) and dev.strip().lower() == "default" else dev


def make_renderer(
    cfg: SessionConfig, wav_path: Path, *, on_event: Callable[[float, str], None] | None = None
):
    """Return the session's offline renderer (not started).

    Parameters
    ----------
    cfg : SessionConfig
        ``render_audio``, ``sample_rate_hz`` (Hz), ``features.paced_breathing_hz`` (pad
        swell, Hz) and ``audio.breathing_pacer`` are used.
    wav_path : Path
        The WAV to write.
    on_event : callable, optional
        ``on_event(t_s, text)`` for synth deaths and restarts (the session record).

    Returns
    -------
    SupervisedSynth or SilentBackend
        The crash-isolated pyo renderer, or the silent backend if ``render_audio`` is
        false.
    """
    from attune.synthesis.supervisor import SupervisedSynth
    from attune.synthesis.synth import SilentBackend

    if not cfg.render_audio:
        return SilentBackend()
    return SupervisedSynth(
        wav_path,
        sr=cfg.sample_rate_hz,
        breathing_hz=cfg.features.paced_breathing_hz,
        pacer=cfg.audio.breathing_pacer,
        palette=cfg.audio.palette,
        on_event=on_event,
    )


def check_live_outputs(cfg: SessionConfig) -> None:
    """Check, before a real-time session starts, that its sound card and MIDI port exist.

    Lists devices and ports without opening them (the audio listing runs pyo in a
    short-lived child process, about a second). Nothing is checked for outputs the
    session does not configure.

    Raises
    ------
    ConfigError
        One line naming the field, the missing device or port and the available ones,
        e.g. ``midi.port: no MIDI output port matches 'Synth'; available: none (...)``.
    """
    from attune.synthesis.midi import MidiError, find_midi_output

    if cfg.midi.port is not None:
        try:
            find_midi_output(cfg.midi.port)
        except MidiError as e:
            raise ConfigError(f"midi.port: {e}") from None
    dev = _audio_device(cfg)
    if cfg.audio.device is not None:
        from attune.synthesis.devices import list_audio_outputs

        devices, default, problem = list_audio_outputs()
        if problem:
            raise ConfigError(f"audio.device {cfg.audio.device!r}: {problem}")
        found = (
            default >= 0
            if dev is None
            else any(
                (idx == dev) if isinstance(dev, int) else (dev.lower() in name.lower())
                for idx, name in devices
            )
        )
        if not found:
            names = ", ".join(f"{idx}: {name!r}" for idx, name in devices) or "none"
            if dev is None:
                raise ConfigError(
                    f"audio.device: this system has no default audio output (available: "
                    f"{names}); name one in audio.device, or run with --no-audio to run silent"
                )
            raise ConfigError(
                f"audio.device: no audio output device matches {dev!r}; available: {names}"
            )


def open_live_outputs(
    cfg: SessionConfig, *, on_event: Callable[[float, str], None] | None = None
) -> list:
    """Start the live outputs of a real-time session: sound card, then MIDI port.

    Parameters
    ----------
    cfg : SessionConfig
        ``audio.device`` (plus ``sample_rate_hz``, ``features.paced_breathing_hz``,
        ``audio.breathing_pacer``) and ``midi.port``; an unset one is not opened.
    on_event : callable, optional
        ``on_event(t_s, text)`` for live-synth deaths and restarts.

    Returns
    -------
    list of synth backends
        Started; each has ``send(t_end_s, params, notes)`` and ``close()``. Add them to
        the engine's synths and close them when the session ends (the live synth fades
        out over 1 s, the MIDI port silences every channel).

    Raises
    ------
    ConfigError
        One line naming ``audio.device`` or ``midi.port`` if it cannot be opened; what
        was already opened is closed.
    """
    from attune.synthesis.midi import MidiError, MidiPortOutput, open_midi_output
    from attune.synthesis.supervisor import SupervisedSynth
    from attune.synthesis.synth import SynthError

    outs: list = []
    try:
        if cfg.audio.device is not None:
            live = SupervisedSynth(
                audio="portaudio",
                device=_audio_device(cfg),
                sr=cfg.sample_rate_hz,
                breathing_hz=cfg.features.paced_breathing_hz,
                pacer=cfg.audio.breathing_pacer,
                palette=cfg.audio.palette,
                on_event=on_event,
            )
            try:
                live.start()
            except SynthError as e:
                raise ConfigError(f"audio.device {cfg.audio.device!r}: {e}") from None
            outs.append(live)
        if cfg.midi.port is not None:
            try:
                port = open_midi_output(cfg.midi.port)
            except MidiError as e:
                raise ConfigError(f"midi.port: {e}") from None
            midi = MidiPortOutput(port, palette=cfg.audio.palette)
            midi.start()
            outs.append(midi)
    except BaseException:
        for out in outs:
            out.close()
        raise
    return outs
