from __future__ import annotations

import mido
import numpy as np

from attune.synthesis.composer import Composer, NoteEvent
from attune.synthesis.midi import read_midi_notes, read_tempo_map, write_midi
from attune.synthesis.params import MusicParams

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
    assert programs == {89, 4, 73, 32}  # piano palette: warm pad, e-piano, flute, bass

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


# ---------------------------------------------------------------- issue 7 additions
import pytest  # noqa: E402

from attune.synthesis.analysis import chord_roughness  # noqa: E402
from attune.synthesis.midi import (  # noqa: E402
    MidiError,
    MidiPortOutput,
    MidiRecorder,
    control_values,
    list_midi_outputs,
    open_midi_output,
    read_midi_controls,
    read_midi_note_spans,
)
from attune.synthesis.params import MODE_STEPS, MODES, params_for  # noqa: E402


def record(params_at, duration_s: float, seed: int) -> tuple[Composer, MidiRecorder]:
    comp = Composer(seed=seed)
    rec = MidiRecorder()
    for k in range(1, int(round(duration_s / TICK_S)) + 1):
        t = k * TICK_S
        p = params_at(t - TICK_S)
        rec.send(t, p, comp.advance(p, t))
    return comp, rec


@pytest.mark.parametrize(
    ("arousal", "valence"),
    [(-0.6, 0.9), (0.6, 0.9), (-0.6, 0.4), (0.6, 0.4), (-0.6, -0.4), (0.6, -0.4),
     (-0.6, -0.9), (0.6, -0.9)],
)  # fmt: skip
def test_midi_pitch_classes_fit_the_mode(tmp_path, arousal, valence):
    """Must-show 4: >= 90% of written notes in the scale; valence picks major or minor."""
    p = params_for(arousal, valence)
    comp, rec = record(lambda t: p, 120.0, seed=int(10 * (arousal + valence) + 20))
    path = tmp_path / "m.mid"
    rec.write(path, comp.beats)
    pcs = np.array([pitch % 12 for _, pitch, _ in read_midi_notes(path)])
    assert pcs.size > 200
    key = comp.key_pc
    scale = {(key + s) % 12 for s in MODE_STEPS[MODES[p.mode]]}
    assert np.mean([pc in scale for pc in pcs]) >= 0.9
    major3, minor3 = np.mean(pcs == (key + 4) % 12), np.mean(pcs == (key + 3) % 12)
    if valence > 0:
        assert p.mode <= 2 and major3 > 0.05 and minor3 < 0.02  # Lydian/Ionian/Mixolydian
    else:
        assert p.mode >= 3 and minor3 > 0.05 and major3 < 0.02  # Dorian ... Locrian


@pytest.mark.parametrize("seed", [0, 1])
def test_chord_dissonance_rises_with_tension(tmp_path, seed):
    """Must-show 5: Sethares roughness of the sounding chords (from the MIDI file)."""
    rough = []
    for tension in (0.0, 0.25, 0.5, 0.75, 1.0):
        comp, rec = record(lambda t, x=tension: MusicParams(tension=x), 90.0, seed)
        path = tmp_path / f"t{tension}.mid"
        rec.write(path, comp.beats)
        rough.append(float(np.mean(chord_roughness(read_midi_note_spans(path), t_max=88.0))))
    assert all(b > a for a, b in zip(rough, rough[1:], strict=False)), rough
    assert rough[-1] > 1.5 * rough[0], rough


def test_control_changes_written_where_they_change(tmp_path):
    def params_at(t: float) -> MusicParams:
        return MusicParams(
            tempo_bpm=80.0,
            brightness=0.2 if t < 10.0 else 0.8,
            loudness_db=-30.0 if t < 20.0 else -20.0,
            fade=min(1.0, t / 4.0),
        )

    comp, rec = record(params_at, 30.0, seed=0)
    path = tmp_path / "cc.mid"
    rec.write(path, comp.beats)
    ccs = read_midi_controls(path)
    mid = mido.MidiFile(path)
    programs = {m.program for tr in mid.tracks for m in tr if m.type == "program_change"}
    assert programs == {89, 4, 73, 32}
    for cc in (74, 7, 11):
        rows = [(t, v) for t, ch, c, v in ccs if c == cc and ch == 0]
        assert rows, cc
        # every written value equals control_values() of the params at that time
        for t, v in rows:
            assert v == control_values(params_at(round(t / TICK_S) * TICK_S))[cc], (cc, t)
    b = [(t, v) for t, ch, c, v in ccs if c == 74 and ch == 0]
    assert [v for _, v in b] == [25, 102] and abs(b[1][0] - 10.0) < 2e-3
    vol = [v for t, ch, c, v in ccs if c == 7 and ch == 0]
    assert vol[0] < vol[1]  # 10 dB louder: higher CC7 (40 log10 curve: x 1.78)
    assert vol[1] / vol[0] == pytest.approx(10 ** (10 / 40), rel=0.03)
    assert len([1 for _, ch, c, _ in ccs if c == 11 and ch == 0]) == 17  # fade: every tick


def test_notes_in_midi_are_the_notes_pyo_played(tmp_path):
    from attune.synthesis.synth import OfflineRenderer, note_payload, notes_digest

    comp = Composer(seed=9)
    rec = MidiRecorder()
    synth = OfflineRenderer(tmp_path / "a.wav")
    synth.start()
    for k in range(1, 81):
        t = k * TICK_S
        p = MusicParams(tempo_bpm=100.0, density=0.8)
        notes = comp.advance(p, t)
        for backend in (synth, rec):  # as the Engine does
            backend.send(t, p, notes)
    stats = synth.close()
    rec.write(tmp_path / "a.mid", comp.beats)
    assert stats.n_notes == len(rec.notes) == len(read_midi_notes(tmp_path / "a.mid")) > 50
    assert stats.notes_digest == notes_digest(note_payload(rec.notes))


class FakePort:
    def __init__(self):
        self.sent = []

    def send(self, msg):
        self.sent.append(msg)


def test_port_output_schedules_on_its_clock():
    now = [100.0]
    port = FakePort()
    out = MidiPortOutput(port, lookahead_s=0.25, clock=lambda: now[0], thread=False)
    out.start()
    assert [m.type for m in port.sent] == ["program_change"] * 4
    comp = Composer(seed=0)
    p = MusicParams(tempo_bpm=120.0, density=1.0)
    notes = comp.advance(p, 0.25)
    out.send(0.25, p, notes)
    out.pump(100.0)
    first = [m for m in port.sent if m.type == "note_on"]
    assert len(first) == sum(n.t_s <= 0.0 for n in notes)  # onset 0 maps to "now"
    assert {m.control for m in port.sent if m.type == "control_change"} == {7, 11, 74}
    out.pump(100.0 + 0.25)
    assert len([m for m in port.sent if m.type == "note_on"]) == len(notes)
    out.close()
    ons = sum(m.type == "note_on" for m in port.sent)
    offs = sum(m.type == "note_off" for m in port.sent)
    assert ons == offs == len(notes)
    assert port.sent[-1].type == "control_change" and port.sent[-1].control == 123


def test_ports_fail_soft_without_backend():
    names, problem = list_midi_outputs()
    if problem is not None:  # no python-rtmidi or no ALSA sequencer here
        assert names == [] and "\n" not in problem
        with pytest.raises(MidiError) as exc:
            open_midi_output("anything")
        assert "\n" not in str(exc.value)


@pytest.mark.parametrize("palette", ["piano", "ambient"])
def test_each_voice_on_its_own_channel_with_its_program(tmp_path, palette):
    """Each voice is one track on its own channel with the palette's GM program."""
    from attune.synthesis.instruments import PALETTES

    comp = Composer(seed=4)
    rec = MidiRecorder(palette=palette)
    for k in range(1, 121):
        t = k * TICK_S
        p = MusicParams(density=0.8)
        rec.send(t, p, comp.advance(p, t))
    path = tmp_path / f"{palette}.mid"
    rec.write(path, comp.beats)
    mid = mido.MidiFile(path)
    seen = {}
    for tr in mid.tracks[1:]:
        name = next(m.name for m in tr if m.type == "track_name")
        chans = {m.channel for m in tr if hasattr(m, "channel")}
        prog = [m.program for m in tr if m.type == "program_change"]
        assert len(chans) == 1 and len(prog) == 1
        seen[name] = (prog[0], chans.pop())
    assert set(seen) == {"pad", "arp", "melody", "bass"}
    assert len({c for _, c in seen.values()}) == 4
    for voice, (prog, _) in seen.items():
        assert prog == PALETTES[palette][voice].gm_program


@pytest.mark.parametrize("palette", ["piano", "ambient"])
def test_session_file_palette_reaches_the_midi_file(short_config, palette):
    """``[audio] palette`` of a session file chooses the instruments of session.mid."""
    import mido

    from attune.sessions.simulated_run import run_simulation
    from attune.synthesis.instruments import gm_programs

    cfg = short_config()
    cfg = cfg.model_copy(update={"audio": cfg.audio.model_copy(update={"palette": palette})})
    s = run_simulation(cfg)
    programs = {
        (m.channel, m.program)
        for track in mido.MidiFile(s.folder / "session.mid").tracks
        for m in track
        if m.type == "program_change"
    }
    assert programs == {(ch, prog) for prog, ch in gm_programs(palette).values()}
