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
controller
    ``PhasePlan`` (protocol phases), ``Controller`` (target, control law, holds,
    therapist commands; ``Controller.update`` decides the tempo and every other
    parameter, ``Controller.begin_tick`` applies queued commands) and ``Envelope``
    (``Envelope.limit``: slew limits and bounds, the safety envelope).
clocks
    ``VirtualClock`` (replay, simulation) and ``LiveClock`` (drift-corrected real time).
loop
    ``Engine``: ``Engine.step`` runs one tick from samples to music; ``TickResult``.

``attune.engine`` imports ``attune.sensors`` and ``attune.synthesis``, never
``attune.sessions``. The science behind the numbers is in ``docs/science/``.
"""
