"""Signals in: every source hands the engine the same :class:`~attune.sensors.types.Chunk`.

Where things live
-----------------
types
    ``StreamInfo``, ``Chunk``, the ``Source`` protocol (``pull(t) -> Chunk``: how every
    source is read) and the sensor exceptions.
ring
    Preallocated multi-channel ring buffer with per-reader cursors.
channels, montage
    What a channel is from its label, type and unit; EEG positions (10-10, Muse, BioSemi).
readers
    Recorded files (XDF, EDF/BDF/FIF/BrainVision, CSV, Polar, Muse) into ``Recording``.
file_source
    ``FileSource``: a recorded stream replayed on the virtual clock.
lsl_source
    ``LslSource``: a live LSL inlet (clock sync, dejitter, stale detection, reconnect).
lsl_player
    ``publish_streams``: recorded streams published as LSL outlets in real time.
simulated_listener
    ``SimulatedListener``: a seeded listener whose physiology answers the music it hears
    (as plain numbers); the engine never imports it.

``attune.sensors`` never imports ``attune.synthesis`` or anything above it.
"""

import os as _os
from pathlib import Path as _Path

# liblsl reads its configuration when it is first loaded: point it at ours (quiet
# logging, loopback-friendly settings) unless the user has their own.
_os.environ.setdefault("LSLAPICFG", str(_Path(__file__).with_name("lsl_api.cfg")))
