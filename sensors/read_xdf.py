"""Read XDF recordings (LabRecorder; ``.xdf``, ``.xdfz``) with pyxdf, headers checked first."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from attune.sensors.channels import (
    kind_from_label,
    kind_from_type,
    normalise_unit,
)
from attune.sensors.claims import check_xdf
from attune.sensors.read_common import (
    SIGNAL_KINDS,
    Block,
    Warn,
)
from attune.sensors.read_streams import markers_stream
from attune.sensors.recording import RecordedStream
from attune.sensors.timebase import (
    check_rate,
)
from attune.sensors.types import SensorError

_XDF_DTYPES = {
    "float32": "float32",
    "double64": "float64",
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
}


# --------------------------------------------------------------------------- XDF
@contextlib.contextmanager
def _capture_log(name: str) -> Iterator[list[logging.LogRecord]]:
    """Capture a library's log records (instead of printing them)."""
    records: list[logging.LogRecord] = []

    class _H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(name)
    h = _H(level=logging.INFO)
    old_prop, old_level = logger.propagate, logger.level
    logger.addHandler(h)
    logger.propagate = False
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield records
    finally:
        logger.removeHandler(h)
        logger.propagate = old_prop
        logger.setLevel(old_level)


def _first(d: object, key: str, default: str = "") -> str:
    if isinstance(d, dict):
        v = d.get(key)
        if isinstance(v, list) and v and isinstance(v[0], str):
            return v[0]
    return default


def _xdf_channels(info: dict) -> list[dict]:
    desc = info.get("desc")
    desc = desc[0] if isinstance(desc, list) and desc else None
    if not isinstance(desc, dict):
        return []
    chans = desc.get("channels")
    chans = chans[0] if isinstance(chans, list) and chans else None
    if not isinstance(chans, dict):
        return []
    ch = chans.get("channel")
    return [c for c in ch if isinstance(c, dict)] if isinstance(ch, list) else []


def read_xdf(path: Path, warn: Warn) -> list[Block | RecordedStream]:
    """Read every stream of an XDF file: numeric ones as blocks, string ones as markers."""
    import pyxdf

    check_xdf(path)
    with _capture_log("pyxdf") as records:
        try:
            streams, _header = pyxdf.load_xdf(str(path))
        except Exception as e:  # pyxdf raises many types on damaged files
            msg = str(e).splitlines()[0] if str(e) else ""
            raise SensorError(
                f"{path}: not a readable XDF file ({type(e).__name__}: {msg}); "
                "expected an XDF recording (truncated or corrupt?)"
            ) from None
    damaged = False
    for r in records:
        msg = r.getMessage().splitlines()[0]
        if "Segments and clock-segments differ" in msg:
            warn(f"{path.name}: pyxdf: {msg} (clock reset; handled by pyxdf's clock correction)")
        else:
            warn(f"{path.name}: pyxdf: {msg}")
        damaged |= r.levelno >= logging.ERROR or "corruption" in msg
    if damaged:
        warn(f"{path.name}: the file is truncated or corrupt; kept every sample pyxdf could read")
    blocks: list[Block | RecordedStream] = []
    streams.reverse()
    while streams:  # pyxdf's arrays are let go one stream at a time, once converted
        s = streams.pop()
        info = s["info"]
        name = _first(info, "name", "?")
        stype = _first(info, "type")
        fmt = _first(info, "channel_format", "float32")
        sid = str(info.get("stream_id", "?"))
        nch = int(_first(info, "channel_count", "0") or 0)
        srate = float(_first(info, "nominal_srate", "0") or 0)
        what = f"{path.name}: XDF stream {name!r} (type {stype!r})"
        ts = np.asarray(s["time_stamps"], dtype=np.float64)
        series = s["time_series"]
        declared = kind_from_type(stype)
        if ts.size == 0:
            warn(f"{what}: no samples; skipped")
            continue
        if not s.get("footer"):
            warn(f"{what}: no footer: the recording was cut short; kept {ts.size} samples")
        if fmt == "string":
            if declared in SIGNAL_KINDS:
                raise SensorError(
                    f"{what}: samples are strings; expected numeric samples "
                    f"(float32, double64 or int) for {declared.upper()}"
                )
            labels = [" | ".join(str(v) for v in row) for row in series]  # markers: few
            b = Block(name, sid, 0.0, ts, np.zeros((1, 0)), [name], ["stim"], [None])
            m = markers_stream(path, b, name, ts, labels, warn)
            if m is not None:
                blocks.append(m)
            continue
        arr = np.asarray(series)
        del s, series
        if arr.ndim != 2 or arr.shape[0] != ts.size or (nch and arr.shape[1] != nch):
            raise SensorError(
                f"{what}: samples shaped {arr.shape}; expected ({ts.size}, {nch}) from its header"
            )
        if not np.issubdtype(arr.dtype, np.number):
            raise SensorError(f"{what}: samples of type {arr.dtype}; expected numbers")
        if srate > 0:
            check_rate(srate, f"{what}: nominal_srate")
        nch = arr.shape[1]
        chans = _xdf_channels(info)
        if chans and len(chans) != nch:
            warn(f"{what}: {len(chans)} channel descriptions for {nch} channels; ignored")
            chans = []
        labels = [(_first(c, "label") or f"{name}{i + 1}") for i, c in enumerate(chans)] or [
            f"{name}{i + 1}" for i in range(nch)
        ]
        kinds: list[str | None] = []
        for i in range(nch):
            ctype = kind_from_type(_first(chans[i], "type")) if chans else None
            by_name = kind_from_label(labels[i]) if chans else None
            k = ctype or by_name or declared
            if by_name in ("misc", "eog") and ctype in (None, "eeg"):
                k = by_name  # muse-lsl types its "Right AUX" channel as EEG
            kinds.append("stim" if k == "markers" else k)
        units = [normalise_unit(_first(c, "unit")) for c in chans] or [None] * nch
        if declared not in SIGNAL_KINDS and not any(k in SIGNAL_KINDS for k in kinds):
            warn(
                f"{what}: not a kind Attune uses (eeg, ecg, ppg, rr, markers); skipped "
                "(pick its channels with --column NAME --kind KIND)"
            )
        blocks.append(
            Block(
                name=name,
                sid=sid,
                fs=srate,
                times=ts,
                data=arr.T.astype(np.float64),
                labels=labels,
                kinds=kinds,
                units=units,
                dtype=_XDF_DTYPES.get(fmt, "float64"),
                own_kind=declared if declared in SIGNAL_KINDS else None,
            )
        )
    return blocks
