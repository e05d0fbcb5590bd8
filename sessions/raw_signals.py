"""Raw signals kept: the samples a session steered on, in its store, and their exact replay.

Every signal source the engine reads is wrapped in a :class:`SignalTee`: it hands the
engine each chunk unchanged and keeps a copy. About every :data:`BLOCK_S` seconds of
samples (checked by the runner after each tick, and when the session closes) the copies
become one row of the store's
``signals`` table (:mod:`attune.sessions.store`): the samples' timestamps (float64) and
data (float32 when every value is exactly a float32, as LSL float32 streams are; else
float64), each byte-shuffled and zlib-compressed, and the ticks at which they arrived
with the number of samples each brought. ``signal_streams`` holds the streams'
metadata. A 10-minute simulated session (250 Hz ECG, 4 x 256 Hz EEG, float64) keeps
about 5.5 MB of signals beside 0.8 MB of ticks; float32 samples (LSL streams) take half
the bytes of float64 ones before compression.

:func:`stored_sources` turns them back into sources that hand the engine the very same
chunks at the very same ticks, so :func:`replay_session` (``attune replay
SESSION_FOLDER``) reproduces the session's ticks bit for bit (features, estimate,
music; not the measured ``latency_ms`` and ``compute_ms``) under the session's own
configuration, with the therapist's commands (``commands`` table) given at their ticks
again.
"""

from __future__ import annotations

import os
import tomllib
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attune.sensors.types import Chunk, Source, StreamInfo, empty_chunk
from attune.sessions.store import (
    SessionStore,
    StoreError,
    load_session,
    read_commands,
    read_selfreports,
    read_signal_rows,
)

#: Samples are written in blocks of about this many seconds of session time.
BLOCK_S = 5.0
#: zlib level: 6 (the default) compresses shuffled samples about as well as 9, faster.
ZLIB_LEVEL = 6


def pack(a: np.ndarray) -> bytes:
    """Byte-shuffle (all first bytes, then all second bytes, ...) and zlib-compress ``a``.

    Shuffling groups the slowly varying exponent bytes of neighbouring floats, which
    zlib then compresses far better than the raw little-endian floats.
    """
    b = np.ascontiguousarray(a).view(np.uint8).reshape(-1, a.dtype.itemsize)
    return zlib.compress(np.ascontiguousarray(b.T).tobytes(), ZLIB_LEVEL)


def unpack(blob: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`pack`: an array of ``dtype`` and ``shape`` (one entry may be -1)."""
    dt = np.dtype(dtype)
    raw = np.frombuffer(zlib.decompress(blob), dtype=np.uint8)
    n = raw.size // dt.itemsize
    if raw.size % dt.itemsize or (-1 not in shape and n != int(np.prod(shape))):
        raise StoreError(f"signals: a block holds {raw.size} bytes, not {shape} of {dtype}")
    return np.ascontiguousarray(raw.reshape(dt.itemsize, n).T).view(dt).reshape(shape)


def _exact_float32(x: np.ndarray) -> bool:
    x32 = x.astype(np.float32)
    return bool(np.array_equal(x32.astype(np.float64), x, equal_nan=True))


class SignalTee:
    """A source that hands its chunks on unchanged and keeps them for the session store.

    Parameters
    ----------
    source : Source
        The wrapped source.
    stream : int
        Its number in ``signal_streams``.
    store : SessionStore
        Where the blocks are buffered (committed with the ticks).
    block_s : float
        Seconds of samples per stored block.
    """

    def __init__(
        self,
        source: Source,
        stream: int,
        store: SessionStore,
        *,
        block_s: float = BLOCK_S,
        record_paths: bool = False,
    ) -> None:
        self.source = source
        self.info: StreamInfo = source.info
        self.stream = stream
        self.store = store
        self.block_s = block_s
        self._chunks: list[tuple[float, np.ndarray, np.ndarray]] = []
        self.n_samples = 0
        i = self.info
        sid = i.source_id if record_paths else _without_path(i.source_id)
        store.signal_stream(
            (stream, i.name, i.kind, float(i.fs), "\t".join(i.channels), i.units, sid)
        )

    def pull(self, t: float) -> Chunk:
        """Pull from the wrapped source at ``t`` (s) and keep a copy of what arrived."""
        chunk = self.source.pull(t)
        if chunk.n_samples:
            self._chunks.append((float(t), np.array(chunk.timestamps), np.array(chunk.data)))
        return chunk

    def flush_due(self) -> None:
        """Flush once the kept samples span :attr:`block_s`.

        The runner calls it after each tick, so compression stays out of the tick's
        compute time.
        """
        c = self._chunks
        if c and c[-1][1][-1] - c[0][1][0] >= self.block_s:
            self.flush()

    def flush(self) -> None:
        """Turn the kept chunks into one ``signals`` row (nothing when none)."""
        if not self._chunks:
            return
        pulls = np.array([[t, ts.size] for t, ts, _ in self._chunks], dtype=np.float64).T
        ts = np.concatenate([c[1] for c in self._chunks])
        data = np.hstack([c[2] for c in self._chunks]).astype(np.float64, copy=False)
        self._chunks.clear()
        dtype = "float32" if _exact_float32(data) else "float64"
        self.store.signal_block(
            (
                self.stream,
                float(ts[0]),
                float(ts[-1]),
                int(ts.size),
                dtype,
                pack(pulls),
                pack(ts),
                pack(data.astype(dtype)),
            )
        )
        self.n_samples += int(ts.size)


def _without_path(source_id: str) -> str:
    """Return a file source's id (``/abs/path/file.csv#csv/ecg``) with its file name only."""
    head, sep, tail = source_id.partition("#")
    return os.path.basename(head) + sep + tail if os.path.isabs(head) else source_id


def tee_sources(
    sources: Sequence[Source], store: SessionStore, *, record_paths: bool = False
) -> list[SignalTee]:
    """Wrap each signal source (not markers) in a :class:`SignalTee` writing to ``store``.

    A replayed file's path is kept as its name only unless ``record_paths``.
    """
    return [SignalTee(s, k, store, record_paths=record_paths) for k, s in enumerate(sources)]


@dataclass(frozen=True)
class StoredStream:
    """One stream's samples as kept in a session store.

    Attributes
    ----------
    info : StreamInfo
        Its metadata.
    pull_t : ndarray, shape (n_pulls,)
        The ticks (session seconds) at which samples arrived.
    counts : ndarray of int, shape (n_pulls,)
        Samples that arrived at each of those ticks.
    timestamps : ndarray, shape (n,)
        Sample times, session seconds.
    data : ndarray, shape (n_channels, n), float64
        The samples, in ``info.units``.
    """

    info: StreamInfo
    pull_t: np.ndarray
    counts: np.ndarray
    timestamps: np.ndarray
    data: np.ndarray


def read_stored_signals(folder: Path | str) -> list[StoredStream]:
    """Every stream a session kept, decompressed (empty for a session that kept none)."""
    stream_rows, block_rows = read_signal_rows(folder)
    out = []
    for sid, name, kind, fs, channels, units, source_id in stream_rows:
        info = StreamInfo(
            name=name,
            kind=kind,
            fs=float(fs),
            channels=tuple(str(channels).split("\t")),
            units=units,
            source_id=source_id or "",
        )
        pulls, tss, datas = [], [], []
        for _sid, _t0, _t1, n, dtype, pb, tb, db in (b for b in block_rows if b[0] == sid):
            n = int(n)
            pulls.append(unpack(pb, "float64", (2, -1)))
            tss.append(unpack(tb, "float64", (n,)))
            datas.append(unpack(db, dtype, (info.n_channels, n)).astype(np.float64))
        if pulls:
            p = np.hstack(pulls)
            ts, data = np.concatenate(tss), np.hstack(datas)
        else:
            p, ts, data = np.empty((2, 0)), np.empty(0), np.empty((info.n_channels, 0))
        out.append(StoredStream(info, p[0], p[1].astype(np.int64), ts, data))
    return out


class StoredSource:
    """Hand over a stored stream's samples in the chunks, and at the ticks, they arrived.

    Parameters
    ----------
    stream : StoredStream
        The stream (:func:`read_stored_signals`).
    """

    def __init__(self, stream: StoredStream) -> None:
        self.info = stream.info
        self._s = stream
        self._ends = np.cumsum(stream.counts)
        self._k = 0  # next pull
        self._i = 0  # next sample

    def pull(self, t: float) -> Chunk:
        """Return the samples that arrived at ticks <= ``t`` and were not handed over yet."""
        s = self._s
        k1 = int(np.searchsorted(s.pull_t, t, side="right"))
        if k1 <= self._k:
            return empty_chunk(self.info)
        i0, i1 = self._i, int(self._ends[k1 - 1])
        self._k, self._i = k1, i1
        return Chunk(self.info, s.data[:, i0:i1], s.timestamps[i0:i1])


def stored_sources(folder: Path | str) -> list[StoredSource]:
    """Return sources replaying the signals a session kept (:class:`StoredSource`, one per stream).

    Raises
    ------
    StoreError
        If the session kept no signals (recorded before they were kept).
    """
    streams = read_stored_signals(folder)
    if not streams:
        raise StoreError(
            f"{folder}: the session kept no raw signals (recorded by an older Attune); "
            "replay its original recording instead"
        )
    return [StoredSource(s) for s in streams]


def replay_session(
    folder: Path | str,
    *,
    output_dir: Path | None = None,
    render_audio: bool = False,
    progress: Callable[[float], None] | None = None,
):
    """Run the engine again over the signals a session kept, under its own configuration.

    The new session (mode ``replay``, named ``<name>-replay``) has as many ticks as the
    original, its configuration (``config.toml`` in the store; the command channel closed, audio off
    unless ``render_audio``), the same participant, and every therapist command it
    accepted (pins, goals, pauses, self-reports, feelings, the graceful end) given again
    at its tick; so its tick record equals the original's (the measured timing columns
    aside).

    Parameters
    ----------
    folder : Path or str
        The session folder.
    output_dir : Path, optional
        Where the new session folder goes (default: the configuration's ``output_dir``).
    render_audio : bool
        Also render ``session.wav``.
    progress : callable, optional
        Called with the fraction done.

    Returns
    -------
    attune.sessions.runner.RunOutcome
    """
    from attune.engine.clocks import VirtualClock
    from attune.sessions.config import validate_config
    from attune.sessions.runner import run_session
    from attune.sessions.therapist import ScriptedCommands

    data = load_session(folder)
    text = data.meta.get("config_toml") or ""
    try:
        cfg = validate_config(tomllib.loads(text), source=f"{folder}: stored config")
    except tomllib.TOMLDecodeError as e:
        raise StoreError(f"{folder}: stored configuration unreadable ({e})") from None
    ct = cfg.control.model_copy(update={"command_channel": False})
    name = f"{cfg.name[:57]}-replay"
    changes: dict = {"control": ct, "render_audio": render_audio, "name": name}
    if output_dir is not None:
        changes["output_dir"] = Path(output_dir)
    cfg = cfg.model_copy(update=changes)
    sources = stored_sources(folder)
    commands = read_commands(folder)
    if commands is None:  # stored before commands were kept: the self-reports at least
        commands = [
            (float(t), f"sam {float(a)!r} {float(v)!r} {kind}")
            for t, kind, a, v, source, _text in read_selfreports(folder)
            if source in ("channel", "feeling", "console")
        ]
    return run_session(
        cfg,
        mode="replay",
        sources=sources,
        clock=VirtualClock(tick_s=cfg.tick_s),
        n_ticks=data.n_ticks,
        notes=[f"replay of the raw signals kept by session {Path(folder).name}"],
        progress=progress,
        commands=[ScriptedCommands(commands)] if commands else (),
    )


def compare_ticks(original: Path | str, replayed: Path | str) -> list[str]:
    """Return the tick columns that differ between two sessions.

    The measured timing and the simulation's truth are left aside; a different tick
    count is reported as ``n_ticks``.
    """
    from attune.sessions.record import MEASURED_COLUMNS

    a, b = load_session(original), load_session(replayed)
    skip = {*MEASURED_COLUMNS, "sim_arousal", "sim_valence"}
    if a.n_ticks != b.n_ticks:
        return ["n_ticks"]
    out = []
    for c, x in a.ticks.items():
        if c in skip:
            continue
        y = b.ticks.get(c)
        same = (
            y is not None
            and x.shape == y.shape
            and (list(x) == list(y) if x.dtype == object else np.array_equal(x, y, equal_nan=True))
        )
        if not same:
            out.append(c)
    return out
