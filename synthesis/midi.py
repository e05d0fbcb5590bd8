"""Standard MIDI files of a composed session (mido), and readers for checking them.

:func:`write_midi` writes a type-1 file: track 0 carries the tempo map (a
``set_tempo`` at every beat whose tempo differs from the previous beat's, so the
absolute time of every beat matches :attr:`Composer.beats`), then one track per voice
with a program change and its notes at ``tick = round(beat * ticks_per_beat)``.

Time 0 of the file is the composer's first beat (``Composer(start_s=...)``); add
``start_s`` to the times read back to get session seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthesis.composer import Beat, NoteEvent

#: General MIDI program (0-based) and channel of each voice.
VOICE_PROGRAMS: dict[str, tuple[int, int]] = {
    "pad": (89, 0),  # Pad 2 (warm)
    "arp": (46, 1),  # Orchestral harp
    "melody": (11, 2),  # Vibraphone
    "bass": (32, 3),  # Acoustic bass
}


def write_midi(
    path: Path | str,
    notes: Sequence[NoteEvent],
    beats: Sequence[Beat],
    *,
    ticks_per_beat: int = 480,
) -> None:
    """Write notes and the tempo map to a type-1 standard MIDI file.

    Parameters
    ----------
    path : Path or str
        Output ``.mid`` file.
    notes : sequence of NoteEvent
        Notes to write; their ``beat`` and ``dur_beats`` give the ticks.
    beats : sequence of Beat
        Tempo map (:attr:`Composer.beats`); beat ``i`` must have ``index == i``.
    ticks_per_beat : int, default 480
        MIDI resolution in ticks per quarter note (one beat).

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

    for voice, (program, channel) in VOICE_PROGRAMS.items():
        vnotes = sorted((n for n in notes if n.voice == voice), key=lambda n: (n.beat, n.pitch))
        if not vnotes:
            continue
        events: list[tuple[int, int, int, int]] = []  # (tick, order, pitch, velocity)
        next_on: dict[int, int] = {}
        for n in reversed(vnotes):
            on = int(round(n.beat * tpb))
            off = max(on + 1, int(round((n.beat + n.dur_beats) * tpb)))
            if n.pitch in next_on:
                off = min(off, next_on[n.pitch])
            next_on[n.pitch] = on
            if off > on:
                events.append((on, 1, n.pitch, n.velocity))
                events.append((off, 0, n.pitch, 0))  # offs before ons at the same tick
            else:  # same pitch twice at one tick: keep a 1-tick note for the count
                events.append((on, 1, n.pitch, n.velocity))
                events.append((on, 0, n.pitch, 0))
        events.sort()
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=voice, time=0))
        track.append(mido.Message("program_change", program=program, channel=channel, time=0))
        now = 0
        for tick, kind, pitch, vel in events:
            if kind == 1:
                msg = mido.Message("note_on", note=pitch, velocity=vel, channel=channel)
            else:
                msg = mido.Message("note_off", note=pitch, velocity=0, channel=channel)
            track.append(msg.copy(time=tick - now))
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
