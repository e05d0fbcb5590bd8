"""Check what a file's header claims against what the file can hold, before reading it.

A header is a promise: ``channel_count`` of an XDF stream, the number and size of an EDF
file's data records. Readers allocate from these numbers, so a 298-byte XDF whose header
claims 2e9 channels would ask for gigabytes. These checks read only the headers (a few
bytes per chunk, seeking over the samples) and

* refuse, with one line naming the file, stream and number, a claim the file cannot
  hold (:func:`check_xdf`, :func:`check_edf`);
* report how much of a truncated or over-claiming EDF/BDF file is really there, so the
  reader replays that part with a warning (:func:`check_edf`).
"""

from __future__ import annotations

import gzip
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from attune.sensors.types import SensorError

#: Bytes per value of each XDF channel format (strings: at least a 1-byte length
#: prefix and 1 byte of length, per value).
XDF_VALUE_BYTES = {
    "float32": 4,
    "double64": 8,
    "int8": 1,
    "int16": 2,
    "int32": 4,
    "int64": 8,
    "string": 2,
}
#: A gzip stream holds at most about this many bytes per compressed byte.
GZIP_MAX_RATIO = 1032


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def _varlen(f: _Readable) -> int | None:
    """Read an XDF variable-length integer (1-byte width, then 1, 4 or 8 bytes)."""
    w = f.read(1)
    if not w:
        return None
    width = w[0]
    if width not in (1, 4, 8):
        return -1
    b = f.read(width)
    if len(b) < width:
        return None
    return int.from_bytes(b, "little")


def check_xdf(path: Path) -> None:
    """Refuse an XDF file whose stream headers or sample chunks claim more than it holds.

    Walks the chunk headers (seeking over sample data). For every stream header, the
    declared ``channel_count`` must fit the file (one value per channel at least); for
    every sample chunk, ``n_samples * (1 + channel_count * value_bytes)`` must fit the
    chunk. Damage after the last complete chunk is left to the reader (truncated files
    are read as far as they go).

    Parameters
    ----------
    path : Path
        An ``.xdf`` or gzip-compressed ``.xdfz`` file.

    Raises
    ------
    SensorError
        One line naming the file, the stream and the claim.
    """
    size = path.stat().st_size
    gz = path.name.lower().endswith(".xdfz")
    bound = size * GZIP_MAX_RATIO if gz else size
    opener = gzip.open if gz else open
    streams: dict[int, tuple[str, int, str]] = {}
    try:
        with opener(path, "rb") as f:
            if f.read(4) != b"XDF:":
                return  # the reader gives the error for a file that is not XDF
            while True:
                length = _varlen(f)
                if length is None or length < 2:
                    return
                head = f.read(2)
                if len(head) < 2:
                    return
                tag = struct.unpack("<H", head)[0]
                left = length - 2
                if not gz and left > size - f.tell():
                    return  # truncated: the reader keeps what is there
                if tag == 2 and left <= 1 << 24:
                    body = f.read(left)
                    sid = int.from_bytes(body[:4], "little")
                    streams[sid] = _stream_claims(path, body[4:], bound)
                elif tag == 3 and left >= 5:
                    sid = int.from_bytes(f.read(4), "little")
                    pos = f.tell()
                    n = _varlen(f)
                    used = f.tell() - pos
                    if n is None:
                        return
                    if sid in streams and n > 0:
                        name, nch, fmt = streams[sid]
                        per = 1 + nch * XDF_VALUE_BYTES.get(fmt, 1)
                        if n < 0 or n * per > left - 4 - used:
                            raise SensorError(
                                f"{path}: XDF stream {name!r}: a chunk claims {n} samples of "
                                f"{nch} channels ({fmt}) but holds {left - 4 - used} bytes; "
                                "the file is corrupt"
                            )
                    f.seek(left - 4 - used, 1)
                else:
                    f.seek(left, 1)
    except (OSError, EOFError, gzip.BadGzipFile):
        return  # unreadable parts: the reader reports them


def _stream_claims(path: Path, xml: bytes, bound: int) -> tuple[str, int, str]:
    text = xml.decode("utf-8", "replace")

    def tag(name: str) -> str:
        m = re.search(rf"<{name}>\s*([^<]*?)\s*</{name}>", text)
        return m.group(1) if m else ""

    name = tag("name") or "?"
    fmt = tag("channel_format") or "float32"
    raw = tag("channel_count")
    try:
        nch = int(raw)
    except ValueError:
        raise SensorError(
            f"{path}: XDF stream {name!r}: channel_count {raw[:20]!r} is not a whole number"
        ) from None
    if nch < 1 or nch * XDF_VALUE_BYTES.get(fmt, 1) > bound:
        raise SensorError(
            f"{path}: XDF stream {name!r}: header claims {nch} channels, more than the "
            f"file's {bound} bytes can hold; the file is corrupt"
        )
    return name, nch, fmt


def check_edf(path: Path, warn: Callable[[str], None]) -> int | None:
    """Check an EDF/BDF header against the file size.

    Parameters
    ----------
    path : Path
        An ``.edf`` or ``.bdf`` file.
    warn : callable
        Receives one-line warnings: truncated file (fewer data records than the header
        claims), bytes after the last record, unknown record count.

    Returns
    -------
    int or None
        The number of complete data records when the header claims more (or an
        unknown number, -1); None when the file holds exactly what it claims.

    Raises
    ------
    SensorError
        When the header is not an EDF/BDF header the file can hold: a signal count the
        file's size cannot hold, a non-positive record size, no complete record.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise SensorError(f"{path}: {size} bytes; an EDF/BDF header needs 256 or more")
        try:
            hbytes = int(head[184:192].decode("ascii").strip())
            nrec = int(head[236:244].decode("ascii").strip())
            ns = int(head[252:256].decode("ascii").strip())
        except (ValueError, UnicodeDecodeError):
            return None  # not an EDF header: mne gives the error
        if ns < 1 or 256 * (ns + 1) > size:
            raise SensorError(
                f"{path}: header claims {ns} signals; the file's {size} bytes cannot hold "
                "their headers (corrupt or not EDF/BDF)"
            )
        f.seek(256 + ns * 216)
        field = f.read(ns * 8)
    try:
        spr = [int(field[i * 8 : i * 8 + 8].decode("ascii").strip()) for i in range(ns)]
    except (ValueError, UnicodeDecodeError):
        return None
    width = 3 if head[0] == 0xFF or path.suffix.lower() == ".bdf" else 2
    rec_bytes = sum(spr) * width
    if rec_bytes <= 0 or min(spr) < 0:
        raise SensorError(f"{path}: header gives data records of {rec_bytes} bytes; corrupt")
    have = max(0, size - hbytes) // rec_bytes
    if have == 0:
        raise SensorError(
            f"{path}: no complete data record ({size} bytes, header {hbytes} bytes, records "
            f"of {rec_bytes} bytes); the file is truncated"
        )
    extra = max(0, size - hbytes) - have * rec_bytes
    if nrec == -1:
        warn(f"{path.name}: header gives no record count; read the {have} complete records")
        return have
    if nrec > have:
        warn(
            f"{path.name}: truncated or over-claiming: the header claims {nrec} data records, "
            f"the file holds {have} complete ones; replaying those"
        )
        return have
    if extra or nrec < have:
        warn(
            f"{path.name}: {size - hbytes - nrec * rec_bytes} bytes after the {nrec} data "
            "records the header claims; ignored"
        )
    return None
