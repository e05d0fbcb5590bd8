"""A tiny XDF writer for tests (pyxdf only reads): numeric and string streams."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_FMT = {"float32": "<f4", "double64": "<f8", "int16": "<i2", "int32": "<i4", "int8": "<i1"}


def _varlen(n: int) -> bytes:
    if n < 256:
        return b"\x01" + struct.pack("<B", n)
    if n < 2**32:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def write_xdf(path: Path, streams: list[dict]) -> Path:
    """Write ``streams`` (dicts: name, type, fmt, srate, times, values, channels) to ``path``.

    ``values``: array (n, n_channels) for numeric formats, list of str for ``"string"``;
    ``channels``: optional list of (label, type, unit) for the desc.
    """
    out = b"XDF:" + _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for sid, s in enumerate(streams, 1):
        chans = s.get("channels", [])
        ch = "".join(
            f"<channel><label>{lab}</label><type>{t}</type><unit>{u}</unit></channel>"
            for lab, t, u in chans
        )
        nch = 1 if s["fmt"] == "string" else np.asarray(s["values"]).shape[1]
        nch = s.get("channel_count", nch)
        hdr = (
            f'<?xml version="1.0"?><info><name>{s["name"]}</name><type>{s["type"]}</type>'
            f"<channel_count>{nch}</channel_count><nominal_srate>{s['srate']}</nominal_srate>"
            f"<channel_format>{s['fmt']}</channel_format><source_id>test{sid}</source_id>"
            f"<created_at>0</created_at><desc><channels>{ch}</channels></desc></info>"
        )
        out += _chunk(2, struct.pack("<I", sid) + hdr.encode())
    for sid, s in enumerate(streams, 1):
        t = np.asarray(s["times"], dtype=np.float64)
        n = t.size
        if s["fmt"] == "string":
            body = b"".join(
                b"\x08" + struct.pack("<d", ti) + _varlen(len(v.encode())) + v.encode()
                for ti, v in zip(t, s["values"], strict=True)
            )
        else:
            v = np.asarray(s["values"])
            rec = np.zeros(
                n, dtype=[("b", "u1"), ("t", "<f8"), ("v", _FMT[s["fmt"]], (v.shape[1],))]
            )
            rec["b"], rec["t"], rec["v"] = 8, t, v
            body = rec.tobytes()
        out += _chunk(3, struct.pack("<I", sid) + _varlen(n) + body)
        for ct in (t[0] if n else 0.0, t[-1] if n else 0.0):
            out += _chunk(4, struct.pack("<I", sid) + struct.pack("<dd", ct, 0.0))
        footer = (
            f'<?xml version="1.0"?><info><first_timestamp>{t[0] if n else 0}</first_timestamp>'
            f"<last_timestamp>{t[-1] if n else 0}</last_timestamp><sample_count>{n}</sample_count>"
            "<clock_offsets></clock_offsets></info>"
        )
        out += _chunk(6, struct.pack("<I", sid) + footer.encode())
    Path(path).write_bytes(out)
    return Path(path)
