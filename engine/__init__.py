"""The closed loop: heartbeats, features, affect estimate, controller, engine.

Where things live
-----------------
heartbeats
    ``EcgBeatDetector`` (causal Pan-Tompkins R peaks) and ``PpgPulseDetector`` (Elgendi
    pulse peaks); ``EcgBeatDetector.update`` is where a heartbeat is detected.
hrv
    Pure HRV functions (``hrv_rmssd``, ``hrv_sdnn``, ``hrv_pnn50``, ``hrv_band_powers``,
    ``rr_artifacts``) and ``HRVStage``: beats or RR intervals into ``HRVFeatures``.
eeg
    ``EEGStage``: incremental Welch band powers, engagement, frontal alpha asymmetry and
    artifact flags into ``EEGFeatures``.
affect
    ``AffectEstimator``: baseline, robust z, fusion, smoothing and confidence into an
    ``AffectEstimate``.
protocol
    ``PhasePlan`` and ``SessionProtocol``: phases, the protocol clock, the iso-principle
    target and the therapist's command queue (``SessionProtocol.apply_command`` applies
    one command).
control_law
    ``ControlLaw``: ``ControlLaw.decide`` decides the tempo and every other music
    parameter (PI law with feed-forward, holds, neutral fallback).
envelope
    ``Envelope``: ``Envelope.step`` is the one safety envelope every parameter passes
    through (hard limits, session bounds, slew limits, pins, fades, emergency stop).
controller
    ``Controller``: composes protocol, control law and envelope once per tick.
clocks
    ``VirtualClock`` (replay, simulation) and ``LiveClock`` (drift-corrected real time).
loop
    ``Engine``: ``Engine.step`` runs one tick from samples to music; ``TickResult``.

``attune.engine`` imports ``attune.sensors`` and ``attune.synthesis``, never
``attune.sessions``. The science behind the numbers is in ``docs/science/``.
"""
