"""Lab Streaming Layer inlets: discover streams and read them as sources.

Inlets use LSL's clock synchronisation; the source itself re-bases a publisher's clock
jumps, drops samples out of time order and checks the delivered rate against the
declared one (each an event; the stream is held meanwhile, so its modality goes stale
and confidence falls). Inlets start from the newest data: on opening, everything the
inlet had buffered is dropped, and the inlet buffers at most ``max_buflen_s`` seconds,
so the engine never feeds on minutes-old samples (LSL's default buffer is 6 minutes).
Samples are pulled without blocking into a preallocated ring buffer; timestamps are
converted to session seconds (LSL time minus the session's start time).

A stream with no samples for ``stale_after_s`` is marked stale; liblsl recovers a
stream whose publisher comes back with the same ``source_id``, and the source reports
both transitions as events.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pylsl  # liblsl reads LSLAPICFG, set by attune.sensors, when it loads
from pylsl.util import LostError

from attune.sensors.channels import UNITS, kind_from_type, normalise_unit, unit_scale
from attune.sensors.ring import Reader, RingBuffer
from attune.sensors.types import Chunk, SensorError, StreamInfo, empty_chunk

_FORMATS = {
    pylsl.cf_float32: "float32",
    pylsl.cf_double64: "float64",
    pylsl.cf_int8: "int8",
    pylsl.cf_int16: "int16",
    pylsl.cf_int32: "int32",
    pylsl.cf_int64: "int64",
    pylsl.cf_string: "string",
}
#: LSL channel format per numpy dtype name.
CHANNEL_FORMAT = {v: k for k, v in _FORMATS.items()}


@dataclass(frozen=True)
class StreamListing:
    """One stream visible on the network (what ``attune streams`` prints)."""

    name: str
    type: str
    n_channels: int
    fs: float
    format: str
    source_id: str
    hostname: str

    @property
    def kind(self) -> str | None:
        """Attune's kind for this stream, or None if Attune does not read it."""
        return _stream_kind(self.type)


#: Stream kinds Attune reads from LSL.
STREAM_KINDS = ("eeg", "ecg", "ppg", "rr", "markers")


def _stream_kind(lsl_type: str) -> str | None:
    """Attune's stream kind for an LSL type (``EEG``, ``ECG``, ``RR``, ``Markers`` ...)."""
    kind = kind_from_type(lsl_type)
    return kind if kind in STREAM_KINDS else None


def _listing(info: pylsl.StreamInfo) -> StreamListing:
    return StreamListing(
        name=info.name(),
        type=info.type(),
        n_channels=info.channel_count(),
        fs=float(info.nominal_srate()),
        format=_FORMATS.get(info.channel_format(), "?"),
        source_id=info.source_id(),
        hostname=info.hostname(),
    )


def _matches(info: pylsl.StreamInfo, kind: str | None, name: str | None, source_id: str | None):
    if name is not None and info.name() != name:
        return False
    if source_id is not None and info.source_id() != source_id:
        return False
    return kind is None or _stream_kind(info.type()) == kind


def find_streams(
    *,
    kind: str | None = None,
    name: str | None = None,
    source_id: str | None = None,
    wait_s: float = 1.0,
) -> list[StreamListing]:
    """List the LSL streams on the network, optionally filtered.

    Parameters
    ----------
    kind : str, optional
        Attune kind (``eeg``, ``ecg``, ``ppg``, ``rr``, ``markers``); matched against
        the LSL type through :func:`attune.sensors.channels.kind_from_type`.
    name, source_id : str, optional
        Exact stream name or source id.
    wait_s : float
        How long to listen for stream announcements, seconds.
    """
    found = pylsl.resolve_streams(wait_time=wait_s)
    rows = [_listing(i) for i in found if _matches(i, kind, name, source_id)]
    return sorted(rows, key=lambda r: (r.type.lower(), r.name, r.source_id))


def format_streams_table(rows: Sequence[StreamListing]) -> str:
    """Render stream listings as a fixed-width table."""
    if not rows:
        return "no LSL streams found"
    head = ("name", "type", "kind", "channels", "rate (Hz)", "format", "source id", "host")
    body = [
        (
            r.name,
            r.type,
            r.kind or "-",
            str(r.n_channels),
            "irregular" if r.fs == 0 else f"{r.fs:g}",
            r.format,
            r.source_id or "-",
            r.hostname,
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(lines)


def _channel_meta(info: pylsl.StreamInfo) -> tuple[list[str], str]:
    """Channel labels (from ``desc/channels``, else ``ch1..chN``) and the first unit."""
    n = info.channel_count()
    labels = info.get_channel_labels() or []
    units = info.get_channel_units() or []
    names = [lab if lab else f"ch{i + 1}" for i, lab in enumerate(labels)]
    names += [f"ch{i + 1}" for i in range(len(names), n)]
    unit = next((u for u in units if u), "")
    return names[:n], unit


class LslSource:
    """A live LSL stream as an Attune :class:`~attune.sensors.types.Source`.

    Parameters
    ----------
    kind, name, source_id : str, optional
        Which stream to open (at least one); the first match is used.
    session_t0 : float
        LSL time (``pylsl.local_clock()``) of session time 0; timestamps handed over
        are ``lsl_time - session_t0`` seconds. Sources are usually opened first and
        the session runner sets this when its clock begins.
    stale_after_s : float
        No samples for this long (session time) marks the stream stale (an event).
    resolve_timeout_s : float
        How long to look for the stream when opening, seconds.
    max_buflen_s : float
        Most data the inlet buffers, seconds: older data is dropped, never steered on.
    ring_s : float
        Seconds of newest samples kept in the ring buffer.

    Raises
    ------
    SensorError
        No matching stream, or a stream whose format does not fit its kind (e.g.
        string-typed EEG).

    Notes
    -----
    Call :meth:`pull` from the engine thread only; it never blocks. Opening blocks
    (resolution, first clock offset). Reconnection: when the stream is lost or stale,
    a background thread looks for a new instance with the same ``source_id`` (a new
    publisher has a new uid) and opens it with fresh clock-sync and dejitter state, so
    timestamps after an outage are right from the first sample; the tick swaps it in.
    Errors of that thread are reported as events, never swallowed.
    """

    def __init__(
        self,
        *,
        kind: str | None = None,
        name: str | None = None,
        source_id: str | None = None,
        session_t0: float = 0.0,
        stale_after_s: float = 2.0,
        resolve_timeout_s: float = 5.0,
        max_buflen_s: float = 5.0,
        ring_s: float = 60.0,
        rate_window_s: float = 10.0,
        hold_s: float = 10.0,
    ) -> None:
        if kind is None and name is None and source_id is None:
            raise SensorError("LSL source: give a stream kind, name or source_id")
        what = ", ".join(
            f"{k}={v!r}"
            for k, v in (("kind", kind), ("name", name), ("source_id", source_id))
            if v is not None
        )
        found = [
            i
            for i in pylsl.resolve_streams(wait_time=min(1.0, resolve_timeout_s))
            if _matches(i, kind, name, source_id)
        ]
        if not found and source_id is not None:
            found = pylsl.resolve_byprop("source_id", source_id, timeout=resolve_timeout_s)
        if not found:
            raise SensorError(f"LSL: no stream with {what} found within {resolve_timeout_s} s")
        lsl_info = found[0]
        listing = _listing(lsl_info)
        attune_kind = kind or listing.kind
        if attune_kind is None:
            raise SensorError(
                f"LSL stream {listing.name!r}: type {listing.type!r} is not one Attune reads "
                f"(types for {', '.join(STREAM_KINDS)})"
            )
        is_string = listing.format == "string"
        if is_string != (attune_kind == "markers"):
            raise SensorError(
                f"LSL stream {listing.name!r}: {listing.format} samples for kind "
                f"{attune_kind!r}; expected "
                + ("string markers" if attune_kind == "markers" else "numeric samples")
            )
        # Clock synchronisation only: LSL's dejitter would smear a publisher's clock jump
        # over minutes and its monotonizer would stack samples on one time; the source
        # finds jumps itself (:meth:`_check_times`) and re-bases them.
        self._flags = pylsl.proc_clocksync
        # max_buflen is in seconds for regular streams, in hundreds of samples otherwise
        self._buflen = max(1, int(np.ceil(max_buflen_s)))
        self._timeout = resolve_timeout_s
        self._inlet: pylsl.StreamInlet | None = self._open(lsl_info)
        self._uid = lsl_info.uid()
        # the full description (channel labels, units) comes with the opened inlet
        labels, unit = _channel_meta(self._inlet.info(timeout=resolve_timeout_s))
        self.scale = unit_scale(attune_kind, normalise_unit(unit)) or 1.0
        self.info = StreamInfo(
            name=listing.name,
            kind=attune_kind,  # type: ignore[arg-type]
            fs=listing.fs,
            channels=tuple(labels),
            units=UNITS[attune_kind],
            source_id=listing.source_id,
        )
        self.session_t0 = session_t0
        self.stale_after_s = stale_after_s
        fs_guess = listing.fs if listing.fs > 0 else 10.0
        self._max = max(64, int(fs_guess))
        self._dest = (
            None if is_string else np.zeros((self._max, listing.n_channels), listing.format)
        )
        self.ring = RingBuffer(listing.n_channels, max(self._max, int(fs_guess * ring_s)))
        self._reader = Reader(self.ring)
        self.last_sample_t: float | None = None  # session time of the last tick with data
        self.stale = False
        self.n_received = 0
        self.events: list[str] = []
        self.error: str | None = None  # what the reconnect thread ran into, if anything
        self._fresh: pylsl.StreamInlet | None = None  # handed over by the reconnect thread
        self._shape = (listing.n_channels, listing.format, listing.fs)
        self._refused: set[str] = set()  # uids of streams refused as different
        self._notes: deque[str] = deque()  # events of the reconnect thread
        self.rate_window_s = rate_window_s
        self.hold_s = hold_s
        self._shift = 0.0  # correction added to this publisher's timestamps, s
        self._prev_ts = -np.inf  # newest timestamp written, session s
        self._dropped = 0  # samples out of time order since the last report
        self._jumped = False  # a clock jump was re-based in this pull
        self._hold_until = -np.inf  # session time until which samples are not used
        self._rate_bad = False  # the delivered rate is off the declared one
        self._rate_from: tuple[float, int] | None = None  # (wall s, n_received) of the window
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def _open(self, lsl_info: pylsl.StreamInfo, *, flush: bool = True) -> pylsl.StreamInlet:
        """Open an inlet (blocks: never call in a tick).

        ``flush`` drops what the publisher had buffered, so a first connection starts
        from the newest data. A reconnection keeps it: it is at most ``max_buflen_s``
        of data from the new publisher instance, produced during this session.
        """
        inlet = pylsl.StreamInlet(
            lsl_info, max_buflen=self._buflen, recover=False, processing_flags=self._flags
        )
        inlet.open_stream(timeout=self._timeout)
        # clock sync's first offset estimate blocks; take it here, never inside a tick
        inlet.time_correction(timeout=self._timeout)
        if flush:
            inlet.flush()
        return inlet

    def _different(self, info: pylsl.StreamInfo) -> str | None:
        """Why a stream found under this source_id is not this stream (None: it is)."""
        new = _listing(info)
        n, fmt, fs = self._shape
        if (new.n_channels, new.format, new.fs) == (n, fmt, fs):
            return None
        return (
            f"{new.n_channels} {new.format} channels at {new.fs:g} Hz, "
            f"was {n} {fmt} channels at {fs:g} Hz"
        )

    def _reconnect(self) -> None:
        """Background: wait for a new instance of the stream (same source_id), open it.

        An instance with another channel count, sample format or rate is a different
        stream under the same source_id: it is refused (an event), never read, and the
        search goes on; the modality holds meanwhile.
        """
        try:
            while not self._closing.is_set():
                for info in pylsl.resolve_byprop("source_id", self.info.source_id, timeout=0.3):
                    uid = info.uid()
                    if uid == self._uid or uid in self._refused:
                        continue
                    why = self._different(info)
                    if why is not None:
                        self._refused.add(uid)
                        self._notes.append(
                            f"warning: stream {self.info.name!r} came back under source_id "
                            f"{self.info.source_id!r} as a different stream ({why}): refused; "
                            "its modality holds until the original stream returns"
                        )
                        continue
                    self._fresh = self._open(info, flush=False)
                    self._uid = uid
                    return
        except Exception as e:  # reported by the next pull
            self.error = f"stream {self.info.name!r}: reconnecting failed: {e!r}"

    def _start_reconnect(self) -> None:
        if not self.info.source_id or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(
            target=self._reconnect, name=f"lsl-reconnect-{self.info.name}", daemon=True
        )
        self._thread.start()

    def _pull_once(self, inlet: pylsl.StreamInlet, labels: list[str]) -> int:
        """Move one chunk from ``inlet`` into the ring buffer; return its length."""
        if self._dest is None:
            samples, ts = inlet.pull_chunk(timeout=0.0, max_samples=self._max)
            labels += [x[0] for x in samples]
            block = np.zeros((1, len(ts)))
        else:
            _, ts = inlet.pull_chunk(timeout=0.0, max_samples=self._max, dest_obj=self._dest)
            block = self._dest[: len(ts)].T.astype(np.float64)
            if self.scale != 1.0:
                block *= self.scale
        n = len(ts)
        if n:
            times = np.asarray(ts, dtype=np.float64) - self.session_t0 + self._shift
            if self._dest is not None and self.info.fs > 0:  # regular numeric streams
                block, times = self._check_times(block, times)
            if times.size:
                self.ring.write(block, times)
                self._prev_ts = float(times[-1])
            self.n_received += n
        return n

    #: Steps back in time larger than this are a clock jump (smaller: out of order), s.
    JUMP_BACK_S = 0.5
    #: Timestamps further than this ahead of the receiving clock are a clock jump, s.
    JUMP_AHEAD_S = 0.5

    def _check_times(self, block: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Re-base clock jumps of the publisher and drop samples out of time order.

        A jump back (a step of more than :data:`JUMP_BACK_S` back) or ahead (samples
        stamped more than :data:`JUMP_AHEAD_S` after the receiving clock's now) moves
        the later timestamps so they follow the sample before the jump, is reported as
        an event and holds the stream for ``hold_s``. A real dropout (a step forward to
        a time that is not in the future) is left as a gap. Samples not after their
        predecessor are dropped, so no two samples share a time.
        """
        step = 1.0 / self.info.fs if self.info.fs > 0 else 0.0
        now = pylsl.local_clock() - self.session_t0 + self.JUMP_AHEAD_S
        for _ in range(4):  # a chunk holding more than a few jumps: the rest dropped below
            d = np.diff(times, prepend=self._prev_ts if np.isfinite(self._prev_ts) else times[0])
            back = np.flatnonzero(d < -self.JUMP_BACK_S)
            ahead = np.flatnonzero(times > now)
            if not back.size and not ahead.size:
                break
            if back.size and (not ahead.size or back[0] <= ahead[0]):
                i = int(back[0])
            else:  # the first step into the future
                i = int(ahead[0])
                big = np.flatnonzero(d[: i + 1] > step + self.JUMP_BACK_S)
                i = int(big[-1]) if big.size else i
            before = times[i - 1] if i > 0 else self._prev_ts
            if not np.isfinite(before):
                before = now - self.JUMP_AHEAD_S - step
            jump = float(times[i] - (before + step))
            times[i:] -= jump
            self._shift -= jump
            self._jumped = True
            self.events.append(
                f"warning: stream {self.info.name!r}: publisher clock jumped by {jump:+.2f} s: "
                f"timestamps re-based, stream held for {self.hold_s:g} s"
            )
        keep = np.diff(times, prepend=self._prev_ts) > 0
        keep &= times <= now
        if not keep.all():
            self._dropped += int(keep.size - np.count_nonzero(keep))
            return block[:, keep], times[keep]
        return block, times

    def _check_rate(self, t: float) -> None:
        """Compare the delivered sample rate (by the receiving clock) with the declared one.

        Over windows of ``rate_window_s`` of wall time without an outage; more than 10 %
        off is an event, and the stream is held until a window is within 10 % again.
        """
        if self.info.fs <= 0 or self._dest is None:
            return
        wall = pylsl.local_clock()
        if self.stale or self._rate_from is None:
            self._rate_from = (wall, self.n_received) if not self.stale else None
            return
        wall0, n0 = self._rate_from
        if wall - wall0 < self.rate_window_s:
            return
        measured = (self.n_received - n0) / (wall - wall0)
        self._rate_from = (wall, self.n_received)
        if self._dropped:  # reported once a window, not every tick
            self.events.append(
                f"warning: stream {self.info.name!r}: {self._dropped} sample(s) out of time "
                f"order dropped in {wall - wall0:.0f} s"
            )
            self._dropped = 0
        bad = abs(measured / self.info.fs - 1.0) > 0.10
        if bad and not self._rate_bad:
            self.events.append(
                f"warning: implausible sampling rate: stream {self.info.name!r} declares "
                f"{self.info.fs:g} Hz but delivers {measured:.1f} Hz: held, its samples "
                "are not used"
            )
        elif self._rate_bad and not bad:
            self.events.append(
                f"info: stream {self.info.name!r} delivers its declared {self.info.fs:g} Hz "
                "again: used again"
            )
        self._rate_bad = bad

    def pull(self, t: float) -> Chunk:
        """Return every sample received since the last call (non-blocking).

        Parameters
        ----------
        t : float
            Session time of the tick, seconds (live data is never ahead of it); the
            stale timer runs on it.
        """
        if self._fresh is not None:  # the reconnect thread found the stream again
            if self._inlet is not None:
                self._inlet.close_stream()
            self._inlet, self._fresh = self._fresh, None
            self._shift = 0.0  # a new publisher: its own clock
            self._rate_from = None
        if self.error is not None:
            self.events.append(self.error)
            self.error = None
        while self._notes:
            self.events.append(self._notes.popleft())
        labels: list[str] = []
        while self._inlet is not None:
            try:
                if self._pull_once(self._inlet, labels) < self._max:
                    break
            except LostError:
                self._inlet = None
                self._start_reconnect()
            except Exception as e:  # whatever the stream sends, never into the session loop
                self.events.append(
                    f"warning: stream {self.info.name!r}: unreadable ({type(e).__name__}: "
                    f"{e}); closed, looking for it again"
                )
                self._inlet.close_stream()
                self._inlet = None
                self._start_reconnect()
        if self.last_sample_t is None:
            self.last_sample_t = t  # the stale timer starts with the first tick
        if self.ring.count > self._reader.cursor:
            if self.stale:
                self.events.append(
                    f"stream {self.info.name!r} reconnected after "
                    f"{t - self.last_sample_t:.1f} s without samples"
                )
                self.stale = False
            self.last_sample_t = t
        elif not self.stale and t - self.last_sample_t > self.stale_after_s:
            self.stale = True
            self.events.append(  # an alarm for the therapist (console, report)
                f"ALARM medium stale-sensor: stream {self.info.name!r} stale: no samples for "
                f"{self.stale_after_s:g} s"
            )
            self._start_reconnect()
        self._check_rate(t)
        if self._jumped:
            self._jumped = False
            self._hold_until = t + self.hold_s
        data, times = self._reader.read_new()
        if times.size == 0 or t < self._hold_until or self._rate_bad:
            return empty_chunk(self.info)  # held: the modality goes stale, confidence falls
        return Chunk(self.info, data, times, labels=tuple(labels))

    def drain_events(self) -> list[str]:
        """Return and forget the events since the last call."""
        out, self.events = self.events, []
        return out

    def close(self) -> None:
        """Stop reconnecting and close the inlet."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        for inlet in (self._inlet, self._fresh):
            if inlet is not None:
                inlet.close_stream()


def local_clock() -> float:
    """LSL's clock, seconds (monotonic; the time base of every LSL timestamp)."""
    return pylsl.local_clock()
