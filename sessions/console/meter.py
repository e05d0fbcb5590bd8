"""The measured output level: read from the samples the synth actually rendered.

The session's renderer writes ``session.wav`` as it renders (a restarted synth writes
``session.partN.wav``); :class:`WavTailMeter` reads the newest ``window_s`` of the newest
of those files and reports RMS and peak in dBFS (full scale = 1.0) and, over 400 ms, the
momentary loudness in LUFS (ITU-R BS.1770 via pyloudnorm). Only the tail is read, so a
call costs the same at minute 1 and minute 90.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

#: Level reported for digital silence, dBFS.
FLOOR_DBFS = -120.0


def pcm_to_float(raw: bytes, n_channels: int, width: int) -> np.ndarray:
    """Little-endian integer PCM bytes as float samples in [-1, 1], shape (n_frames, n_channels)."""
    frame = n_channels * width
    n = len(raw) // frame
    if n == 0:
        return np.zeros((0, n_channels))
    b = np.frombuffer(raw, dtype=np.uint8, count=n * frame).reshape(n, n_channels, width)
    if width == 2:
        x = b.copy().view("<i2")[..., 0].astype(np.float64) / 32768.0
    elif width == 3:
        w = b.astype(np.int32)
        v = w[..., 0] | (w[..., 1] << 8) | (w[..., 2] << 16)
        v[v >= 2**23] -= 2**24
        x = v.astype(np.float64) / 2.0**23
    elif width == 4:
        x = b.copy().view("<i4")[..., 0].astype(np.float64) / 2.0**31
    else:
        raise ValueError(f"unsupported sample width {width} bytes")
    return x


def level_of(x: np.ndarray, sr: int) -> dict[str, Any]:
    """RMS and peak (dBFS) and momentary loudness (LUFS, last 400 ms) of ``x``.

    Parameters
    ----------
    x : ndarray, shape (n_frames, n_channels)
        Float samples, full scale 1.0.
    sr : int
        Sample rate, Hz.
    """
    if x.size == 0:
        return {"rms_dbfs": None, "peak_dbfs": None, "lufs": None, "seconds": 0.0}
    mono_sq = np.mean(x**2, axis=1)
    rms = math.sqrt(float(np.mean(mono_sq)))
    peak = float(np.max(np.abs(x)))
    lufs: float | None = None
    n400 = int(0.4 * sr)
    if x.shape[0] >= n400:
        import pyloudnorm

        val = float(pyloudnorm.Meter(sr, block_size=0.4).integrated_loudness(x[-n400:]))
        lufs = round(val, 1) if math.isfinite(val) else None
    return {
        "rms_dbfs": round(20 * math.log10(rms), 1) if rms > 0 else FLOOR_DBFS,
        "peak_dbfs": round(20 * math.log10(peak), 1) if peak > 0 else FLOOR_DBFS,
        "lufs": lufs,
        "seconds": x.shape[0] / sr,
    }


def _wav_layout(head: bytes) -> tuple[int, int, int, int] | None:
    """``(data_offset, n_channels, sample_width, sample_rate)`` of a WAV header, or None."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, nch, width, sr = 12, 2, 2, 48000
    while pos + 8 <= len(head):
        cid, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if cid == b"fmt ":
            nch = int.from_bytes(head[pos + 10 : pos + 12], "little")
            sr = int.from_bytes(head[pos + 12 : pos + 16], "little")
            width = int.from_bytes(head[pos + 22 : pos + 24], "little") // 8
        if cid == b"data":
            return pos + 8, nch, width, sr
        pos += 8 + size + (size & 1)
    return None


class WavTailMeter:
    """Measure the level of the newest audio a session's renderer wrote.

    Parameters
    ----------
    folder : Path
        The session folder (``session.wav`` and ``session.partN.wav`` are looked for).
    window_s : float
        Length of the tail measured, seconds.
    """

    def __init__(self, folder: Path, *, window_s: float = 0.4) -> None:
        self.folder = Path(folder)
        self.window_s = window_s

    def _newest(self) -> Path | None:
        paths = [p for p in self.folder.glob("session*.wav") if p.is_file()]
        return max(paths, key=lambda p: (p.stat().st_mtime, p.name)) if paths else None

    def measure(self) -> dict[str, Any] | None:
        """Return the level of the last ``window_s`` rendered (None before any audio)."""
        path = self._newest()
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                layout = _wav_layout(f.read(4096))
                if layout is None:
                    return None
                off, nch, width, sr = layout
                frame = nch * width
                end = f.seek(0, 2)
                n_avail = (end - off) // frame
                n = min(n_avail, int(self.window_s * sr))
                if n <= 0:
                    return None
                f.seek(off + (n_avail - n) * frame)
                raw = f.read(n * frame)
        except OSError:
            return None
        out = level_of(pcm_to_float(raw, nch, width), sr)
        out["rendered_s"] = round(n_avail / sr, 2)
        return out
