from __future__ import annotations

import itertools

import numpy as np
import pytest

from attune.synthesis.composer import BEATS_PER_PHRASE, Composer, NoteEvent
from attune.synthesis.params import MODE_STEPS, MODES, MusicParams

TICK_S = 0.25


def run(composer: Composer, params_at, duration_s: float) -> list[NoteEvent]:
    notes: list[NoteEvent] = []
    for k in range(1, int(round(duration_s / TICK_S)) + 1):
        t = k * TICK_S
        notes += composer.advance(params_at(t - TICK_S), t)
    return notes


def const(p: MusicParams):
    return lambda t: p


def scale_pcs(mode: int, key_pc: int = 2) -> set[int]:
    return {(key_pc + s) % 12 for s in MODE_STEPS[MODES[mode]]}


def test_deterministic_per_seed():
    p = MusicParams(tempo_bpm=75, density=0.6)
    a = run(Composer(seed=7), const(p), 60)
    b = run(Composer(seed=7), const(p), 60)
    c = run(Composer(seed=8), const(p), 60)
    assert a == b
    assert a != c
    assert len(a) > 50


def test_notes_in_interval_and_counted():
    comp = Composer(seed=1)
    p = MusicParams()
    prev = 0.0
    total = 0
    for k in range(1, 121):
        t = k * TICK_S
        out = comp.advance(p, t)
        assert all(prev <= n.t_s < t for n in out)
        assert [n.t_s for n in out] == sorted(n.t_s for n in out)
        total += len(out)
        prev = t
    assert comp.n_notes == total > 0


@pytest.mark.parametrize("mode", range(7))
def test_notes_in_mode_scale(mode):
    p = MusicParams(mode=mode, tension=0.9, density=0.8, register_st=3)
    notes = run(Composer(seed=mode), const(p), 120)
    scale = scale_pcs(mode)
    for voice in ("melody", "arp", "bass"):
        v = [n for n in notes if n.voice == voice]
        assert len(v) > 10
        frac = np.mean([n.pitch % 12 in scale for n in v])
        assert frac >= 0.9, (voice, frac)
    # pad: only the deliberate extensions may leave the scale; at low tension none do
    low = run(Composer(seed=mode), const(p.with_(tension=0.2)), 60)
    assert all(n.pitch % 12 in scale for n in low)


def test_mode_latched_at_phrase_boundaries():
    tempo = 120.0  # 0.5 s per beat, phrase = 16 beats = 8 s
    comp = Composer(seed=3)
    # ionian (1) until 3 s (mid-phrase), then phrygian (5)
    notes = run(comp, lambda t: MusicParams(tempo_bpm=tempo, mode=1 if t < 3.0 else 5), 24)
    first = [n for n in notes if n.beat < BEATS_PER_PHRASE]
    later = [n for n in notes if n.beat >= BEATS_PER_PHRASE and n.voice != "pad"]
    assert all(n.pitch % 12 in scale_pcs(1) for n in first if n.voice != "pad")
    assert np.mean([n.pitch % 12 in scale_pcs(5) for n in later]) >= 0.9
    # the phrygian b2 (D# for key D) must appear only after the phrase boundary
    assert any(n.pitch % 12 == 3 for n in later)
    assert not any(n.pitch % 12 == 3 for n in first)


def test_beats_follow_tempo_changes():
    comp = Composer(seed=0, start_s=1.0, max_tempo_step=None)

    def tempo_at(t: float) -> float:
        return 60.0 if t < 10.0 else 60.0 + 4.0 * (t - 10.0) if t < 20.0 else 100.0

    run(comp, lambda t: MusicParams(tempo_bpm=tempo_at(t)), 40)
    beats = comp.beats
    assert beats[0].t_s == 1.0
    assert [b.index for b in beats] == list(range(len(beats)))
    t = np.array([b.t_s for b in beats])
    bpm = np.array([b.tempo_bpm for b in beats])
    np.testing.assert_allclose(np.diff(t), 60.0 / bpm[:-1], rtol=1e-12)
    # each beat's tempo is the one requested in the tick it falls in
    expected = [tempo_at(TICK_S * np.floor(b.t_s / TICK_S)) for b in beats]
    np.testing.assert_allclose(bpm, expected)
    assert bpm[0] == 60.0 and bpm[-1] == 100.0
    assert t[-1] < 40.0 <= t[-1] + 60.0 / bpm[-1]
    # notes sit on the grid: onset times agree with their beat positions
    notes = run(
        Composer(seed=0, max_tempo_step=None), lambda t: MusicParams(tempo_bpm=tempo_at(t)), 40
    )
    comp2 = Composer(seed=0, max_tempo_step=None)
    run(comp2, lambda t: MusicParams(tempo_bpm=tempo_at(t)), 40)
    bt = np.array([b.t_s for b in comp2.beats])
    for n in notes:
        i = int(np.floor(n.beat))
        assert n.t_s == pytest.approx(bt[i] + (n.beat - i) * 60.0 / comp2.beats[i].tempo_bpm)


def test_no_notes_while_faded_out():
    comp = Composer(seed=5)

    def fade(t: float) -> float:
        return 1.0 if t < 10.0 or t >= 30.0 else 0.0

    n_beats_before = None
    got: list[NoteEvent] = []
    for k in range(1, 161):
        t = k * TICK_S
        out = comp.advance(MusicParams(tempo_bpm=90, fade=fade(t - TICK_S)), t)
        if fade(t - TICK_S) <= 0.0:
            assert out == []
        got += out
        if k == 40:
            n_beats_before = len(comp.beats)
    assert not any(10.0 <= n.t_s < 30.0 for n in got)
    assert any(n.t_s >= 30.0 for n in got)
    assert any(n.t_s < 10.0 for n in got)
    # 40 s at 90 BPM: the clock kept running (60 beats, 61 if float error lays 40.0 - eps)
    assert len(comp.beats) in (60, 61)
    assert n_beats_before in (15, 16)


def dissonance(pitches: list[int]) -> float:
    """Share of pitch pairs at interval class 1, 2 or 6 (seconds, tritone)."""
    pairs = list(itertools.combinations(sorted(set(pitches)), 2))
    ic = [min((a - b) % 12, (b - a) % 12) for a, b in pairs]
    return float(np.mean([i in (1, 2, 6) for i in ic])) if ic else 0.0


def pad_dissonance(tension: float, seed: int) -> float:
    notes = run(Composer(seed=seed), const(MusicParams(tension=tension)), 90)
    chords: dict[float, list[int]] = {}
    for n in notes:
        if n.voice == "pad":
            chords.setdefault(n.beat, []).append(n.pitch)
    assert len(chords) >= 20
    return float(np.mean([dissonance(c) for c in chords.values()]))


@pytest.mark.parametrize("seed", [0, 1])
def test_tension_raises_pad_dissonance(seed):
    d = [pad_dissonance(t, seed) for t in (0.0, 0.5, 1.0)]
    assert d[0] < d[1] < d[2]
    assert d[2] - d[0] > 0.2


def test_density_and_accents():
    sparse = run(Composer(seed=2), const(MusicParams(density=0.1)), 60)
    dense = run(Composer(seed=2), const(MusicParams(density=0.9)), 60)
    assert len(dense) > 1.5 * len(sparse)
    arp = [n for n in dense if n.voice == "arp"]
    on = [n.velocity for n in arp if n.beat == int(n.beat)]
    off = [n.velocity for n in arp if n.beat != int(n.beat)]
    assert on and off and min(on) > max(off)


def test_register_shifts_pitch():
    lo = run(Composer(seed=4), const(MusicParams(register_st=-12)), 40)
    hi = run(Composer(seed=4), const(MusicParams(register_st=12)), 40)
    assert np.mean([n.pitch for n in hi]) - np.mean([n.pitch for n in lo]) > 18


def test_tempo_jump_glides_beat_by_beat():
    comp = Composer(seed=0)  # default: at most 2% per beat
    run(comp, lambda t: MusicParams(tempo_bpm=60.0 if t < 10.0 else 120.0), 60)
    bpm = np.array([b.tempo_bpm for b in comp.beats])
    ratio = bpm[1:] / bpm[:-1]
    assert np.all(ratio <= 1.02 + 1e-12) and np.all(ratio >= 0.98 - 1e-12)
    assert bpm[0] == 60.0 and bpm[-1] == pytest.approx(120.0)
    assert np.sum(ratio > 1.0) >= 30  # about log(2) / log(1.02) = 35 beats of glide


def test_periods_of_two_phrases():
    """4-bar phrases in 8-bar periods: motif restated, period closes on the tonic over I."""
    p = MusicParams(tempo_bpm=120, mode=1, density=0.6)
    notes = run(Composer(seed=11), const(p), 160)  # 320 beats = 10 periods
    mel = [n for n in notes if n.voice == "melody"]
    pad = [n for n in notes if n.voice == "pad"]
    tonic_pc = 2
    period = 2 * BEATS_PER_PHRASE
    n_periods = int(max(n.beat for n in notes)) // period
    assert n_periods >= 9
    for k in range(n_periods):
        b0 = k * period
        last_bar = b0 + period - 4
        final = [n for n in mel if last_bar <= n.beat < b0 + period]
        assert len(final) == 1 and final[0].pitch % 12 == tonic_pc and final[0].beat == last_bar
        chord = {n.pitch % 12 for n in pad if n.beat == last_bar}
        assert tonic_pc in chord and 6 in chord  # D major triad: I
        # the antecedent breathes: no melody on its last beat
        assert not [n for n in mel if n.beat == b0 + BEATS_PER_PHRASE - 1]
        # the consequent restates the first two bars' rhythm (onsets and lengths)
        ante = [(n.beat - b0, n.dur_beats) for n in mel if b0 <= n.beat < b0 + 8]
        cons = [
            (n.beat - b0 - BEATS_PER_PHRASE, n.dur_beats)
            for n in mel
            if b0 + BEATS_PER_PHRASE <= n.beat < b0 + BEATS_PER_PHRASE + 8
        ]
        assert ante == cons


def test_articulation_follows_density():
    legato = run(Composer(seed=2), const(MusicParams(density=0.0)), 40)
    detached = run(Composer(seed=2), const(MusicParams(density=1.0)), 40)
    arp_l = np.array([n.dur_beats for n in legato if n.voice == "arp"])
    arp_d = np.array([n.dur_beats for n in detached if n.voice == "arp"])
    assert arp_l.size and arp_d.size
    np.testing.assert_allclose(arp_l, 1.1)
    np.testing.assert_allclose(arp_d, 0.5)


def test_breathing_swells_velocities():
    p = MusicParams(tempo_bpm=120, density=1.0)
    flat = run(Composer(seed=6), const(p), 60)
    breath = run(Composer(seed=6, breathing_hz=0.1), const(p), 60)
    assert [(n.t_s, n.pitch) for n in flat] == [(n.t_s, n.pitch) for n in breath]
    ratio = np.array([b.velocity / f.velocity for f, b in zip(flat, breath, strict=True)])
    t = np.array([n.t_s for n in flat])
    expected = 0.8 + 0.2 * (0.5 - 0.5 * np.cos(2 * np.pi * 0.1 * t))
    assert np.corrcoef(ratio, expected)[0, 1] > 0.95


def test_fast_params_helpers_equal_the_dataclass_way():
    """clipped/with_/params_for build what the dataclass constructor would."""
    import dataclasses

    from attune.synthesis.params import params_for

    p = MusicParams(tempo_bpm=200.0, mode=9, tension=-1.0, loudness_db=-3.0, fade=0.5)
    want = MusicParams(
        tempo_bpm=160.0, mode=6, tension=0.0, brightness=0.5, loudness_db=-6.0,
        density=0.5, register_st=0.0, fade=0.5,
    )  # fmt: skip
    got = p.clipped()
    assert dataclasses.asdict(got) == dataclasses.asdict(want) and type(got.mode) is int
    assert p.with_(fade=0.2) == dataclasses.replace(p, fade=0.2)
    with pytest.raises(TypeError):
        p.with_(volume=1.0)
    q = params_for(0.4, -0.3)
    assert q == MusicParams(**dataclasses.asdict(q)) and q.fade == 1.0


# ------------------------------------------------------------ issue 17: form and roles
from attune.synthesis.composer import BASS_MIN_PITCH, BEATS_PER_PERIOD  # noqa: E402
from attune.synthesis.midi import (  # noqa: E402
    VOICE_PROGRAMS,
    MidiRecorder,
    read_midi_note_spans,
    read_midi_notes,
)
from attune.synthesis.params import params_for  # noqa: E402


def write_session(tmp_path, params_at, duration_s: float, seed: int):
    """Compose ``duration_s`` and write it to MIDI; return (composer, path)."""
    comp = Composer(seed=seed)
    rec = MidiRecorder()
    for k in range(1, int(round(duration_s / TICK_S)) + 1):
        t = k * TICK_S
        p = params_at(t - TICK_S)
        rec.send(t, p, comp.advance(p, t))
    path = tmp_path / f"s{seed}.mid"
    rec.write(path, comp.beats)
    return comp, path


def wander(seed: int):
    """A slow random path over the arousal-valence plane (new target every 40 s)."""
    rng = np.random.default_rng(seed)
    targets = rng.uniform(-1, 1, size=(40, 2))

    def at(t: float) -> MusicParams:
        a, v = targets[int(t // 40.0)]
        return params_for(a, v)

    return at


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_melody_is_on_top(tmp_path, seed):
    """Must-show 5: no accompaniment note above a sounding melody note >= 90% of the time."""
    _, path = write_session(tmp_path, wander(seed), 300.0, seed)
    ch = {v: c for v, (_, c) in VOICE_PROGRAMS.items()}
    mel = np.array(read_midi_note_spans(path, channel=ch["melody"]))
    acc = np.array(
        [s for v in ("pad", "arp", "bass") for s in read_midi_note_spans(path, channel=ch[v])]
    )
    ts = np.arange(0.0, 300.0, 0.05)
    on_top = []
    for t in ts:
        m = mel[(mel[:, 0] <= t) & (mel[:, 1] > t), 2]
        if m.size == 0:
            continue
        a = acc[(acc[:, 0] <= t) & (acc[:, 1] > t), 2]
        on_top.append(a.size == 0 or a.max() < m.min())
    assert len(on_top) > 0.4 * ts.size  # the melody sounds most of the time
    assert np.mean(on_top) >= 0.9, np.mean(on_top)


def two_bar_windows(mel: np.ndarray, beat_s: np.ndarray) -> list[tuple[float, tuple, np.ndarray]]:
    """(start time, rhythm, intervals) of every two-bar window starting on a bar line.

    The rhythm is the onsets in beats from the window start; the intervals are the
    semitone steps between successive notes (so a transposed statement has the same).
    """
    beat_of = np.interp(mel[:, 0], beat_s, np.arange(beat_s.size))
    out = []
    for b0 in range(0, int(beat_of.max()) - 8, 4):
        sel = (beat_of >= b0 - 1e-3) & (beat_of < b0 + 8 - 1e-3)
        if sel.sum() < 3:
            continue
        rhythm = tuple(np.round(beat_of[sel] - b0, 2))
        out.append((float(beat_s[b0]), rhythm, np.diff(mel[sel, 2]).astype(int)))
    return out


def same_motif(a: tuple, b: tuple) -> bool:
    """Same rhythm and contour; each interval equal or one semitone apart (a diatonic
    transposition or a change of mode moves a third or a second by one semitone)."""
    if a[1] != b[1] or a[2].size != b[2].size:
        return False
    return bool(np.all(np.abs(a[2] - b[2]) <= 1) and np.all(np.sign(a[2]) == np.sign(b[2])))


@pytest.mark.parametrize("seed", list(range(6)))
def test_a_two_bar_motif_recurs_in_every_five_minutes(tmp_path, seed):
    """Must-show 5: some two-bar motif recurs (exact or transposed) >= 4 times per 5 min."""
    comp, path = write_session(tmp_path, wander(seed), 600.0, seed)
    ch = VOICE_PROGRAMS["melody"][1]
    mel = np.array(read_midi_note_spans(path, channel=ch))
    beat_s = np.array([b.t_s for b in comp.beats])
    wins = two_bar_windows(mel, beat_s)
    exact = 0
    for w0 in np.arange(0.0, 300.0 + 1e-9, 30.0):  # every 5-minute window
        inside = [w for w in wins if w0 <= w[0] < w0 + 300.0]
        counts = [sum(same_motif(a, b) for b in inside) for a in inside]
        assert max(counts) >= 4, (w0, sorted(counts)[-3:])
        best = inside[int(np.argmax(counts))]
        exact = max(exact, sum(np.array_equal(best[2], b[2]) for b in inside if b[1] == best[1]))
    assert exact >= 4  # including exact (same-interval) restatements
    # and not everything repeats: the music has more than one two-bar shape
    assert len({(w[1], tuple(w[2])) for w in wins}) >= 6


@pytest.mark.parametrize("tempo", [50.0, 85.0, 140.0])
def test_sections_alternate_every_one_to_two_minutes(tempo):
    comp = Composer(seed=5)
    p = MusicParams(tempo_bpm=tempo)
    run(comp, const(p), 600.0)
    starts = [comp.beats[b].t_s for b, _ in comp.sections]
    kinds = [k for _, k in comp.sections]
    assert kinds[:4] == [0, 1, 0, 1]
    lengths = np.diff(starts)
    assert np.all((lengths >= 60.0) & (lengths <= 120.0)), lengths
    assert all(b % BEATS_PER_PERIOD == 0 for b, _ in comp.sections)


def test_theme_b_differs_from_a_and_a_returns():
    comp = Composer(seed=2)
    notes = run(comp, const(MusicParams(tempo_bpm=120.0)), 400.0)
    mel = [n for n in notes if n.voice == "melody"]
    (a0, _), (b0, _), (a1, _) = comp.sections[:3]

    def bars(start: int) -> list[tuple[float, int]]:
        return [(n.beat - start, n.pitch) for n in mel if start <= n.beat < start + 8]

    assert bars(a0) == bars(a1)  # theme A returns with its motif
    assert bars(a0) != bars(b0)


def test_calm_music_has_no_accents_and_a_bass_above_40_hz(tmp_path):
    """Must-show 6 (MIDI side): calm music: flat velocities per phrase, bass >= 49 Hz."""
    for v in (-0.8, 0.0, 0.8):
        p = params_for(-0.9, v).with_(register_st=-12.0)  # lowest register: worst case
        comp, path = write_session(tmp_path, const(p), 120.0, seed=int(10 * v) + 10)
        beat_s = np.array([b.t_s for b in comp.beats])
        for voice, (_, ch) in VOICE_PROGRAMS.items():
            spans = read_midi_note_spans(path, channel=ch)
            if voice == "bass":
                hz = 440.0 * 2.0 ** ((np.array([s[2] for s in spans]) - 69) / 12)
                assert hz.min() > 40.0 and min(s[2] for s in spans) >= BASS_MIN_PITCH
        rows = read_midi_notes(path)
        t = np.array([r[0] for r in rows])
        vel = np.array([r[2] for r in rows])
        pitch = np.array([r[1] for r in rows])
        phrase = np.searchsorted(beat_s, t + 1e-6) // BEATS_PER_PHRASE
        notes = run(Composer(seed=int(10 * v) + 10), const(p), 120.0)
        assert len(notes) == len(rows)
        for ph in np.unique(phrase):
            for voice in ("melody", "arp", "bass", "pad"):
                sel = [
                    n.velocity
                    for n in notes
                    if n.voice == voice and int(n.beat // BEATS_PER_PHRASE) == ph
                ]
                if sel:
                    assert max(sel) - np.median(sel) <= 1.0, (v, voice, ph, sel)
        assert vel.size and pitch.size


def test_aroused_music_accents_the_downbeat():
    p = params_for(0.9, 0.0)
    notes = run(Composer(seed=1), const(p), 60.0)
    arp = [n for n in notes if n.voice == "arp"]
    down = [n.velocity for n in arp if n.beat % 4 == 0]
    off = [n.velocity for n in arp if n.beat % 1 != 0]
    assert np.mean(down) > np.mean(off) + 15
