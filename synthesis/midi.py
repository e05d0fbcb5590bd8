"""MIDI out (mido): standard MIDI files, live ports, and readers for checking them.

:func:`write_midi` writes a type-1 file: track 0 carries the tempo map (a
``set_tempo`` at every beat whose tempo differs from the previous beat's, so the
absolute time of every beat matches :attr:`Composer.beats`), then one track per voice
with a program change, control changes for brightness (CC74) and loudness (CC7 from
``loudness_db``, CC11 from ``fade``) at every tick where they change, and its notes at
``tick = round(beat * ticks_per_beat)``.

:class:`MidiRecorder` is a synth backend that keeps every note and control change it
is sent (the same notes the pyo synth plays) for :meth:`MidiRecorder.write`.
:class:`MidiPortOutput` plays them to a named or virtual port; it needs mido's
python-rtmidi backend and an ALSA sequencer (or CoreMIDI / WinMM) and otherwise fails
with a one-line :class:`MidiError`.

Time 0 of the file is the composer's first beat (``Composer(start_s=...)``); add
``start_s`` to the times read back to get session seconds.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from attune.synthesis.composer import Beat, NoteEvent
from attune.synthesis.instruments import DEFAULT_PALETTE, gm_programs
from attune.synthesis.params import MusicParams, clip

#: Control numbers: brightness (sound controller 5, "brightness"), volume, expression.
CC_BRIGHTNESS, CC_VOLUME, CC_EXPRESSION = 74, 7, 11
#: loudness_db of the maximum CC7 value (the top of :data:`attune.synthesis.params.BOUNDS`).
CC_VOLUME_REF_DB: float = -6.0


class MidiError(Exception):
    """MIDI output failed (no backend, no such port); the message is one line."""


def control_values(p: MusicParams) -> dict[int, int]:
    """MIDI control values expressing ``p``.

    Parameters
    ----------
    p : MusicParams
        Parameters.

    Returns
    -------
    dict of int to int
        ``{74: brightness * 127, 7: volume, 11: fade * 127}``. CC7 follows the usual
        ``40 log10(v / 127)`` dB volume curve (GM recommended practice), relative to
        ``loudness_db = -6`` dBFS at 127.
    """
    rel_db = min(0.0, float(p.loudness_db) - CC_VOLUME_REF_DB)
    vol = int(round(127.0 * 10.0 ** (rel_db / 40.0)))
    return {
        CC_BRIGHTNESS: int(round(127.0 * clip(p.brightness, 0.0, 1.0))),
        CC_VOLUME: int(clip(vol, 0, 127)),
        CC_EXPRESSION: int(round(127.0 * clip(p.fade, 0.0, 1.0))),
    }


def _beat_of_time(t_s: np.ndarray, beats: Sequence[Beat]) -> np.ndarray:
    """Fractional beat position of session times through the tempo map (0 before it)."""
    if not beats:
        return np.zeros_like(t_s)
    bt = np.array([b.t_s for b in beats])
    bpm = np.array([b.tempo_bpm for b in beats])
    i = np.clip(np.searchsorted(bt, t_s, side="right") - 1, 0, len(bt) - 1)
    return np.maximum(0.0, i + (t_s - bt[i]) * bpm[i] / 60.0)


class MidiRecorder:
    """Synth backend that records every note and control change (for a ``.mid`` file).

    Parameters
    ----------
    start_s : float, default 0.0
        Session time of the first tick's start, seconds.
    palette : str, default "piano"
        Instrument palette: the General MIDI program of each voice's track.

    Attributes
    ----------
    notes : list of NoteEvent
        Every note sent, in order.
    controls : list of (t_s, control, value)
        Control changes at the start of the tick where they changed (session s).
    """

    def __init__(self, *, start_s: float = 0.0, palette: str = DEFAULT_PALETTE) -> None:
        self.programs = gm_programs(palette)
        self.notes: list[NoteEvent] = []
        self.controls: list[tuple[float, int, int]] = []
        self._t = float(start_s)
        self._last: dict[int, int] = {}

    def start(self) -> None:
        """Nothing to start (same API as the renderers)."""

    def send(self, t_end_s: float, params: MusicParams, notes: list[NoteEvent]) -> None:
        """Record one tick's notes and any control value that changed."""
        for cc, v in control_values(params).items():
            if self._last.get(cc) != v:
                self.controls.append((self._t, cc, v))
                self._last[cc] = v
        self.notes.extend(notes)
        self._t = float(t_end_s)

    def close(self) -> None:
        """Nothing to close (same API as the renderers)."""

    def write(self, path: Path | str, beats: Sequence[Beat], *, ticks_per_beat: int = 480) -> None:
        """Write the recorded notes and controls with the tempo map ``beats``."""
        write_midi(
            path,
            self.notes,
            beats,
            controls=self.controls,
            ticks_per_beat=ticks_per_beat,
            programs=self.programs,
        )


#: General MIDI program (0-based) and channel of each voice in the default palette
#: (:func:`attune.synthesis.instruments.gm_programs` gives them for any palette).
VOICE_PROGRAMS: dict[str, tuple[int, int]] = gm_programs(DEFAULT_PALETTE)


def write_midi(
    path: Path | str,
    notes: Sequence[NoteEvent],
    beats: Sequence[Beat],
    *,
    controls: Sequence[tuple[float, int, int]] = (),
    ticks_per_beat: int = 480,
    programs: dict[str, tuple[int, int]] | None = None,
) -> None:
    """Write notes, control changes and the tempo map to a type-1 standard MIDI file.

    Parameters
    ----------
    path : Path or str
        Output ``.mid`` file.
    notes : sequence of NoteEvent
        Notes to write; their ``beat`` and ``dur_beats`` give the ticks.
    beats : sequence of Beat
        Tempo map (:attr:`Composer.beats`); beat ``i`` must have ``index == i``.
    controls : sequence of (t_s, control, value)
        Control changes in session seconds (:attr:`MidiRecorder.controls`), written on
        every voice's channel at the tick of their time through the tempo map.
    ticks_per_beat : int, default 480
        MIDI resolution in ticks per quarter note (one beat).
    programs : dict, optional
        ``{voice: (General MIDI program, channel)}``; default :data:`VOICE_PROGRAMS`.
        Each voice is one track on its own channel.

    Notes
    -----
    Tempo is stored in whole microseconds per beat, so beat times drift from the
    composer's by at most 0.5 us per beat. A note cut short by the next onset of the
    same pitch in the same voice ends at that onset (MIDI cannot overlap them).
    """
    import mido

    tpb = int(ticks_per_beat)
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)

    tempo_track = mido.MidiTrack()
    tempo_track.append(mido.MetaMessage("track_name", name="tempo", time=0))
    tempo_track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    last_tick, last_tempo = 0, None
    for b in beats:
        tempo = int(round(60e6 / b.tempo_bpm))
        if tempo != last_tempo:
            tick = b.index * tpb
            tempo_track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=tick - last_tick))
            last_tick, last_tempo = tick, tempo
    if last_tempo is None:
        tempo_track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    mid.tracks.append(tempo_track)

    c_ticks = np.round(
        _beat_of_time(np.array([c[0] for c in controls], dtype=np.float64), beats) * tpb
    ).astype(int)
    for voice, (program, channel) in (programs or VOICE_PROGRAMS).items():
        vnotes = sorted((n for n in notes if n.voice == voice), key=lambda n: (n.beat, n.pitch))
        if not vnotes:
            continue
        # (tick, order, a, b): order 0 = note off, 1 = control change, 2 = note on
        events: list[tuple[int, int, int, int]] = [
            (int(tk), 1, int(cc), int(v)) for tk, (_, cc, v) in zip(c_ticks, controls, strict=True)
        ]
        next_on: dict[int, int] = {}
        for n in reversed(vnotes):
            on = int(round(n.beat * tpb))
            off = max(on + 1, int(round((n.beat + n.dur_beats) * tpb)))
            if n.pitch in next_on:
                off = min(off, next_on[n.pitch])
            next_on[n.pitch] = on
            if off > on:
                events.append((on, 2, n.pitch, n.velocity))
                events.append((off, 0, n.pitch, 0))  # offs before ons at the same tick
            else:  # same pitch twice at one tick: keep a 1-tick note for the count
                events.append((on, 2, n.pitch, n.velocity))
                events.append((on, 0, n.pitch, 0))
        events.sort()
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=voice, time=0))
        track.append(mido.Message("program_change", program=program, channel=channel, time=0))
        now = 0
        for tick, kind, pitch, vel in events:
            dt = tick - now
            if kind == 2:
                msg = mido.Message("note_on", note=pitch, velocity=vel, channel=channel, time=dt)
            elif kind == 1:
                msg = mido.Message(
                    "control_change", control=pitch, value=vel, channel=channel, time=dt
                )
            else:
                msg = mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=dt)
            track.append(msg)
            now = tick
        mid.tracks.append(track)
    mid.save(str(path))


def _tempo_changes(mid: object) -> list[tuple[int, int]]:
    """``(tick, us_per_beat)`` of every ``set_tempo`` in any track, by tick."""
    changes: list[tuple[int, int]] = []
    for track in mid.tracks:  # type: ignore[attr-defined]
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                changes.append((tick, msg.tempo))
    changes.sort()
    if not changes or changes[0][0] > 0:
        changes.insert(0, (0, 500000))
    return changes


def _ticks_to_seconds(ticks: np.ndarray, changes: list[tuple[int, int]], tpb: int) -> np.ndarray:
    """Convert absolute ticks to seconds through the tempo map."""
    c_ticks = np.array([c[0] for c in changes], dtype=np.float64)
    c_tempo = np.array([c[1] for c in changes], dtype=np.float64) / 1e6 / tpb  # s per tick
    c_secs = np.concatenate([[0.0], np.cumsum(np.diff(c_ticks) * c_tempo[:-1])])
    i = np.searchsorted(c_ticks, ticks, side="right") - 1
    return c_secs[i] + (ticks - c_ticks[i]) * c_tempo[i]


def read_midi_notes(path: Path | str) -> list[tuple[float, int, int]]:
    """Read every note onset from a MIDI file.

    Parameters
    ----------
    path : Path or str
        MIDI file.

    Returns
    -------
    list of (t_s, pitch, velocity)
        One entry per ``note_on`` with velocity > 0, in seconds from the file start
        through the file's tempo map, sorted by time then pitch.
    """
    import mido

    mid = mido.MidiFile(str(path))
    changes = _tempo_changes(mid)
    ticks: list[int] = []
    rows: list[tuple[int, int]] = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                ticks.append(tick)
                rows.append((msg.note, msg.velocity))
    secs = _ticks_to_seconds(np.asarray(ticks, dtype=np.float64), changes, mid.ticks_per_beat)
    out = [(float(t), int(p), int(v)) for t, (p, v) in zip(secs, rows, strict=True)]
    return sorted(out)


def read_tempo_map(path: Path | str) -> list[tuple[float, float]]:
    """Read the tempo map of a MIDI file.

    Parameters
    ----------
    path : Path or str
        MIDI file.

    Returns
    -------
    list of (t_s, tempo_bpm)
        Time in seconds from the file start and tempo in beats per minute of every
        tempo change (a default 120 BPM at 0 s if the file sets none at tick 0).
    """
    import mido

    mid = mido.MidiFile(str(path))
    changes = _tempo_changes(mid)
    ticks = np.array([c[0] for c in changes], dtype=np.float64)
    secs = _ticks_to_seconds(ticks, changes, mid.ticks_per_beat)
    return [(float(t), 60e6 / c[1]) for t, c in zip(secs, changes, strict=True)]


def read_midi_controls(path: Path | str) -> list[tuple[float, int, int, int]]:
    """Read every control change of a MIDI file.

    Returns
    -------
    list of (t_s, channel, control, value)
        In seconds from the file start through its tempo map, sorted by time.
    """
    import mido

    mid = mido.MidiFile(str(path))
    changes = _tempo_changes(mid)
    ticks: list[int] = []
    rows: list[tuple[int, int, int]] = []
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "control_change":
                ticks.append(tick)
                rows.append((msg.channel, msg.control, msg.value))
    secs = _ticks_to_seconds(np.asarray(ticks, dtype=np.float64), changes, mid.ticks_per_beat)
    return sorted((float(t), *r) for t, r in zip(secs, rows, strict=True))


def list_midi_outputs() -> tuple[list[str], str | None]:
    """Names of the MIDI output ports, and why there are none if listing failed.

    Returns
    -------
    names : list of str
        Output port names (empty if none or if listing failed).
    problem : str or None
        One-line reason when the ports cannot be listed (no python-rtmidi backend, no
        ALSA sequencer), else None.
    """
    import mido

    try:
        return list(mido.get_output_names()), None
    except ImportError:
        return [], "MIDI ports need python-rtmidi (pip install python-rtmidi)"
    except Exception as exc:  # rtmidi raises SystemError without an ALSA sequencer
        return [], f"MIDI ports unavailable: {str(exc).strip().splitlines()[0]}"


def find_midi_output(name: str) -> str:
    """Return the full name of the first MIDI output port whose name contains ``name``.

    Matching ignores case. Listing never opens a port.

    Raises
    ------
    MidiError
        One line naming ``name`` and listing the available ports (or why there are
        none, e.g. no python-rtmidi backend or no ALSA sequencer).
    """
    names, problem = list_midi_outputs()
    hits = [n for n in names if name.lower() in n.lower()]
    if hits:
        return hits[0]
    if problem:
        available = f"none ({problem})"
    else:
        available = ", ".join(repr(n) for n in names) if names else "none"
    raise MidiError(f"no MIDI output port matches {name!r}; available: {available}")


def open_midi_output(name: str | None = None, *, virtual: bool = False) -> Any:
    """Open a mido output port by (part of its) name, or a virtual port.

    Raises
    ------
    MidiError
        One line: no backend, no sequencer, or no port matching ``name`` (naming it and
        listing the available ports).
    """
    import mido

    try:
        if virtual:
            return mido.open_output(name or "Attune", virtual=True)
        if name is None:
            names = mido.get_output_names()
            if not names:
                raise MidiError("no MIDI output port found")
            return mido.open_output(names[0])
        return mido.open_output(find_midi_output(name))
    except MidiError:
        raise
    except ImportError:
        raise MidiError("MIDI ports need python-rtmidi (pip install python-rtmidi)") from None
    except Exception as exc:
        raise MidiError(f"cannot open MIDI output: {str(exc).strip().splitlines()[0]}") from None


class MidiPortOutput:
    """Synth backend that plays notes and control changes to a MIDI port in real time.

    Parameters
    ----------
    port : object
        An open mido output port (:func:`open_midi_output`), or anything with a
        ``send(msg)`` method.
    lookahead_s : float, default 0.25
        Latency added so a tick's notes (composed up to a tick ahead) play on time.
    clock : callable, default time.monotonic
        Seconds clock used to schedule messages.
    thread : bool, default True
        Run a background thread that sends messages when due; with ``False`` call
        :meth:`pump` yourself (tests, virtual clocks).
    palette : str, default "piano"
        Instrument palette whose General MIDI programs are sent at :meth:`start`.

    Notes
    -----
    :meth:`send` only queues messages (it never blocks on the port). The scheduler
    thread records an error and stops instead of failing silently; :attr:`error` holds
    it and the next :meth:`send` raises :class:`MidiError`.
    """

    def __init__(
        self,
        port: Any,
        *,
        lookahead_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        thread: bool = True,
        palette: str = DEFAULT_PALETTE,
    ) -> None:
        self.programs = gm_programs(palette)
        self.port = port
        self.lookahead_s = float(lookahead_s)
        self.clock = clock
        self.error: BaseException | None = None
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = 0
        self._offset: float | None = None
        self._last: dict[int, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True) if thread else None

    def start(self) -> None:
        """Send the program changes and start the scheduler thread."""
        import mido

        for program, channel in self.programs.values():
            self.port.send(mido.Message("program_change", program=program, channel=channel))
        if self._thread is not None:
            self._thread.start()

    def _push(self, due: float, msg: Any) -> None:
        heapq.heappush(self._heap, (due, self._seq, msg))
        self._seq += 1

    def send(self, t_end_s: float, params: MusicParams, notes: list[NoteEvent]) -> None:
        """Queue one tick's control changes and notes (on and off)."""
        import mido

        if self.error is not None:
            raise MidiError(f"MIDI output failed: {self.error}")
        now = self.clock()
        if self._offset is None:
            self._offset = now - (float(t_end_s) - self.lookahead_s)
        with self._lock:
            for cc, v in control_values(params).items():
                if self._last.get(cc) != v:
                    self._last[cc] = v
                    for _, ch in self.programs.values():
                        msg = mido.Message("control_change", control=cc, value=v, channel=ch)
                        self._push(now, msg)
            for n in notes:
                ch = self.programs[n.voice][1]
                on = n.t_s + self._offset
                msg = mido.Message("note_on", note=n.pitch, velocity=n.velocity, channel=ch)
                self._push(on, msg)
                self._push(on + n.dur_s, mido.Message("note_off", note=n.pitch, channel=ch))
        self._wake.set()

    def pump(self, now: float | None = None) -> int:
        """Send every queued message due at ``now`` (default: the clock); return the count."""
        t = self.clock() if now is None else now
        sent = 0
        while True:
            with self._lock:
                if not self._heap or self._heap[0][0] > t:
                    return sent
                _, _, msg = heapq.heappop(self._heap)
            self.port.send(msg)
            sent += 1

    def _run(self) -> None:
        try:
            while not self._stop:
                self.pump()
                with self._lock:
                    wait = 0.05 if not self._heap else self._heap[0][0] - self.clock()
                self._wake.wait(max(0.0, min(0.05, wait)))
                self._wake.clear()
        except BaseException as exc:  # visible failed state, never silent
            self.error = exc

    def close(self) -> None:
        """Send what is left (note-offs included), silence every channel and close."""
        import mido

        self._stop = True
        self._wake.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(2.0)
        self.pump(float("inf"))
        for _, ch in self.programs.values():
            self.port.send(mido.Message("control_change", control=123, value=0, channel=ch))
        close = getattr(self.port, "close", None)
        if close is not None:
            close()


def read_midi_note_spans(
    path: Path | str, *, channel: int | None = None
) -> list[tuple[float, float, int]]:
    """Read every note of a MIDI file (or of one channel) with its end.

    Parameters
    ----------
    path : Path or str
        MIDI file.
    channel : int, optional
        Only notes on this channel (0-based; :data:`VOICE_PROGRAMS` gives each voice's).

    Returns
    -------
    list of (t_on_s, t_off_s, pitch)
        Seconds from the file start through its tempo map, sorted by onset.
    """
    import mido

    mid = mido.MidiFile(str(path))
    changes = _tempo_changes(mid)
    spans: list[tuple[int, int, int]] = []
    for track in mid.tracks:
        tick = 0
        open_: dict[tuple[int, int], list[int]] = {}
        for msg in track:
            tick += msg.time
            if channel is not None and getattr(msg, "channel", channel) != channel:
                continue
            if msg.type == "note_on" and msg.velocity > 0:
                open_.setdefault((msg.channel, msg.note), []).append(tick)
            elif msg.type in ("note_off", "note_on"):
                starts = open_.get((msg.channel, msg.note))
                if starts:
                    spans.append((starts.pop(0), tick, msg.note))
    if not spans:
        return []
    arr = np.array(spans, dtype=np.float64)
    on = _ticks_to_seconds(arr[:, 0], changes, mid.ticks_per_beat)
    off = _ticks_to_seconds(arr[:, 1], changes, mid.ticks_per_beat)
    out = [(float(a), float(b), int(p)) for a, b, p in zip(on, off, arr[:, 2], strict=True)]
    return sorted(out)
