"""Performance measurements (run as modules or through ``attune bench``; never timed tests).

Where things live
-----------------
suite
    ``run_suite``: the suite behind ``attune bench`` (per-tick cost against a naive
    baseline, LSL loopback latency, replay throughput, render speed, start-up, memory).
bench_session
    Per-tick engine cost and render speed of the demo session.
bench_hrv
    Streaming beats and HRV per tick against neurokit2 on the window.
bench_beats_noise
    R-peak detection against neurokit2 on noisy ECG with ectopy.
bench_eeg
    The incremental-Welch EEG stage against ``scipy.signal.welch`` on the window.
bench_replay
    Replay throughput of the whole engine, as times real time.
bench_synth
    Offline render speed of the pyo graph, and a crash soak.
noisy_ecg
    Synthetic ECG with known beats, ectopy and realistic noise (also used by tests).
recordings
    Synthetic long recordings for the replay benchmark.
lsl_publisher
    A separate process publishing a simulated recording over LSL.

Run one with ``python -m attune.benchmarks.NAME`` (``--help`` for its options).
"""
