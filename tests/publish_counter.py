"""Publish an LSL stream whose first channel counts samples (run as a separate process).

usage: python publish_counter.py SOURCE_ID N_CHANNELS FS DURATION_S FIRST_COUNT
Prints "started <lsl time>" once the outlet exists and "stopped <lsl time> <count>"
at the end.
"""

import sys
import time

import numpy as np
import pylsl

source_id, n_ch, fs, dur, first = (
    sys.argv[1],
    int(sys.argv[2]),
    float(sys.argv[3]),
    float(sys.argv[4]),
    int(sys.argv[5]),
)
info = pylsl.StreamInfo("counter", "EEG", n_ch, fs, "float32", source_id)
info.set_channel_labels(["counter"] + [f"ch{i}" for i in range(2, n_ch + 1)])
info.set_channel_units(["uV"] * n_ch)
outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=60)
t0 = pylsl.local_clock()
print(f"started {t0}", flush=True)
sent = 0
rng = np.random.default_rng(0)
noise = rng.normal(0, 10, (int(fs), n_ch)).astype(np.float32)
while True:
    now = pylsl.local_clock()
    if now - t0 >= dur:
        break
    n = int((now - t0) * fs) - sent
    if n > 0:
        x = noise[np.arange(sent, sent + n) % noise.shape[0]].copy()
        x[:, 0] = np.arange(first + sent, first + sent + n)
        stamps = (t0 + np.arange(sent, sent + n) / fs).tolist()
        outlet.push_chunk(x, stamps)
        sent += n
    time.sleep(0.002)
print(f"stopped {pylsl.local_clock()} {first + sent}", flush=True)
