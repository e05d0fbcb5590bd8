from __future__ import annotations

import mido
import numpy as np

from synthesis.composer import Composer, NoteEvent
from synthesis.midi import read_midi_notes, read_tempo_map, write_midi
from synthesis.params import MusicParams

TICK_S = 0.25


def compose(duration_s: float, seed: int = 0) -> tuple[Composer, list[NoteEvent]]:
    comp = Composer(seed=seed)
    notes: list[NoteEvent] = []
    for k in range(1, int(round(duration_s / TICK_S)) + 1):
        t = k * TICK_S
        tempo = 60.0 + 30.0 * np.sin(2 * np.pi * t / 120.0) ** 2  # 60..90 BPM sweep
        notes += comp.advance(MusicParams(tempo_bpm=tempo, density=0.7), t)
    return comp, notes


def test_roundtrip(tmp_path):
    comp, notes = compose(180.0)
    path = tmp_path / "s.mid"
    write_midi(path, notes, comp.beats)
    mid = mido.MidiFile(path)
    assert mid.type == 1
    assert len(mid.tracks) == 5  # tempo + 4 voices
    programs = {m.program for tr in mid.tracks for m in tr if m.type == "program_change"}
    assert programs == {89, 46, 11, 32}

    back = read_midi_notes(path)
    assert len(back) == comp.n_notes == len(notes)
    t_back = np.array([t for t, _, _ in back])
    t_ref = np.sort([n.t_s for n in notes])
    # ticks quantise onsets to 1/480 beat (<= 1.1 ms at 60 BPM)
    assert np.max(np.abs(t_back - t_ref)) < 1.2e-3
    assert sorted(p for _, p, _ in back) == sorted(n.pitch for n in notes)

    tempo_map = read_tempo_map(path)
    assert len(tempo_map) > 10
    # reconstruct each beat's time from the file's tempo map: ticks of beat i = i * 480
    tm_t = np.array([t for t, _ in tempo_map])
    tm_bpm = np.array([b for _, b in tempo_map])
    beat_t = np.array([b.t_s for b in comp.beats])
    # beat time = time of last tempo change + elapsed beats at that tempo
    change_beat = np.concatenate([[0.0], np.cumsum(np.diff(tm_t) * tm_bpm[:-1] / 60.0)])
    idx = np.searchsorted(change_beat, np.arange(len(beat_t)) + 1e-6, side="right") - 1
    recon = tm_t[idx] + (np.arange(len(beat_t)) - change_beat[idx]) * 60.0 / tm_bpm[idx]
    assert np.max(np.abs(recon - beat_t)) < 1e-3
    for t, bpm in tempo_map:
        i = int(np.argmin(np.abs(beat_t - t)))
        assert abs(beat_t[i] - t) < 1e-3
        assert abs(bpm - comp.beats[i].tempo_bpm) < 0.01


def test_constant_tempo_has_one_tempo_event(tmp_path):
    comp = Composer(seed=1)
    notes: list[NoteEvent] = []
    for k in range(1, 81):
        notes += comp.advance(MusicParams(tempo_bpm=72.0), k * TICK_S)
    path = tmp_path / "c.mid"
    write_midi(path, notes, comp.beats)
    assert read_tempo_map(path) == [(0.0, 60e6 / round(60e6 / 72.0))]
    back = read_midi_notes(path)
    assert len(back) == len(notes)
    assert all(1 <= v <= 127 for _, _, v in back)
