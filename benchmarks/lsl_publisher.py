"""Publish a simulated EEG + ECG recording over LSL in real time (a separate process).

Run: ``python -m attune.benchmarks.lsl_publisher PREFIX SECONDS EEG_CHANNELS EEG_FS ECG_FS``

Renders ``SECONDS`` (plus a margin) of the simulated listener with
:func:`attune.benchmarks.recordings.make_recording`, then publishes the two streams with
:func:`attune.sensors.lsl_source.publish_streams` (timestamps re-based to ``local_clock()`` at the
start, pushed every 2 ms) under source ids ``PREFIX-eeg`` and ``PREFIX-ecg``. Prints
``started <lsl time>`` once the outlets exist and ``stopped <samples>`` at the end.
"""

from __future__ import annotations

import dataclasses
import sys


def main(argv: list[str] | None = None) -> None:
    """Publish until ``SECONDS`` have passed."""
    prefix, seconds, n_ch, eeg_fs, ecg_fs = (argv or sys.argv[1:])[:5]
    from attune.benchmarks.recordings import make_recording
    from attune.sensors.lsl_player import publish_streams
    from attune.sensors.lsl_source import local_clock

    rec = make_recording(
        (float(seconds) + 2.0) / 3600.0,
        eeg_channels=int(n_ch),
        eeg_fs=float(eeg_fs),
        ecg_fs=float(ecg_fs),
    )
    streams = [
        dataclasses.replace(
            s,
            info=dataclasses.replace(
                s.info, name=f"{prefix}-{s.info.kind}", source_id=f"{prefix}-{s.info.kind}"
            ),
        )
        for s in rec.streams
    ]
    n = publish_streams(
        streams,
        poll_s=0.002,
        ready=lambda: print(f"started {local_clock()}", flush=True),
        linger_s=0.5,
    )
    print(f"stopped {n}", flush=True)


if __name__ == "__main__":
    main()
