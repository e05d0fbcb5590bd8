"""Backend-independent, seeded generative composer: :class:`MusicParams` in, notes out.

The composer lays a beat grid whose spacing follows the requested tempo beat by beat,
groups beats into 4/4 bars, 4-bar phrases, 8-bar periods and sections, and writes four
voices on it (docs/music.md):

- ``melody`` (the lead, always the top voice): built from a two-bar *motif*. Each
  4-bar phrase states the motif (bars 1-2), develops it as a sequence (bar 3: the
  motif's first bar transposed to the bar's chord) and closes with a cadence (bar 4).
  Phrases pair into 8-bar periods: the antecedent ends on the dominant (half cadence)
  and breathes on its last beat; the consequent restates the motif, develops it in
  inversion and closes on the tonic over a I chord (authentic cadence), held for the
  whole last bar.
- ``pad``: one voice-led chord per bar (diatonic triad or seventh of the latched mode),
  with dissonant extensions added as ``tension`` rises;
- ``arp`` (the keys accompaniment): chord tones on eighth-note subdivisions with
  probability following ``density``, in a pattern that changes with the section;
- ``bass``: the chord root on beat 1, root or fifth on beat 3, kept at or above
  :data:`BASS_MIN_PITCH` (49 Hz).

Sections alternate between two themes (A, B, A, B, ...), each lasting a whole number of
periods closest to :data:`SECTION_TARGET_S` (90 s, i.e. a change every 1-2 minutes):
each theme has its own motif, opening chords and accompaniment pattern; a returning
theme reuses its motif with new development chords. Accompaniment notes are folded
below the lowest melody note of their bar, so the melody stays on top.

Accents scale with the arousal the parameters express
(:func:`attune.synthesis.params.music_arousal`): calm music (arousal <= 0) has flat
velocities within each voice; aroused music accents downbeats. Articulation follows
density: melody and arp notes last ``1.1 - 0.6 * density`` of their written length.

Tempo changes take effect beat by beat and glide: each beat's tempo moves at most
``max_tempo_step`` (relative, default 2%) from the previous beat's toward the request
(below the ~1.5-6% just-noticeable change, docs/music.md). With ``breathing_hz > 0``
(resonance breathing, 0.1 Hz = 6 breaths/min) velocities swell with the breathing
cycle; the synth swells the pad with the same phase.

Mode and tension are latched at phrase boundaries, so harmony only changes there.
Every pitch of bass, arp and melody, and every pad pitch except the deliberate tension
extensions, belongs to the latched mode's scale. Output is deterministic for a seed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from attune.synthesis.params import MODE_STEPS, MODES, MusicParams, clip, music_arousal

Voice = Literal["bass", "pad", "melody", "arp"]

#: Beats per bar (4/4) and bars per phrase.
BEATS_PER_BAR: int = 4
BARS_PER_PHRASE: int = 4
BEATS_PER_PHRASE: int = BEATS_PER_BAR * BARS_PER_PHRASE
#: Beats per period (antecedent + consequent phrase).
BEATS_PER_PERIOD: int = 2 * BEATS_PER_PHRASE
#: Target length of a section in seconds; sections last whole periods.
SECTION_TARGET_S: float = 90.0
#: Lowest bass pitch (G1, 49 Hz): calm music keeps its power above 40 Hz.
BASS_MIN_PITCH: int = 31

#: Home MIDI pitch (before the key offset) of each layer's centre.
_BASS_HOME = 36
_PAD_HOME = 55
_ARP_HOME = 58
_MELODY_HOME = 72

#: Chord-degree transition weights (scale degree 0..6 -> next degree), I-vi-IV-V style.
_TRANSITIONS = np.array(
    [
        # to: I    ii   iii  IV   V    vi   vii
        [0.0, 0.15, 0.10, 0.30, 0.20, 0.25, 0.00],  # from I
        [0.05, 0.0, 0.05, 0.15, 0.60, 0.10, 0.05],  # from ii
        [0.10, 0.05, 0.0, 0.30, 0.10, 0.45, 0.00],  # from iii
        [0.30, 0.20, 0.05, 0.0, 0.35, 0.10, 0.00],  # from IV
        [0.45, 0.05, 0.05, 0.15, 0.0, 0.30, 0.00],  # from V
        [0.10, 0.30, 0.10, 0.30, 0.20, 0.0, 0.00],  # from vi
        [0.60, 0.00, 0.20, 0.00, 0.00, 0.20, 0.0],  # from vii
    ]
)

#: Accompaniment patterns (indices into the chord tones, up and down), per theme.
_ARP_PATTERNS: tuple[tuple[int, ...], ...] = ((0, 1, 2, 3, 4, 3, 2, 1), (0, 2, 1, 2, 0, 3, 1, 2))


@dataclass(frozen=True)
class NoteEvent:
    """One note.

    Attributes
    ----------
    t_s : float
        Onset in session seconds.
    beat : float
        Onset in beats since the composer's first beat (fractional; used for MIDI ticks).
    dur_s : float
        Duration in seconds (at the tempo of the onset beat).
    dur_beats : float
        Duration in beats.
    pitch : int
        MIDI note number.
    velocity : int
        MIDI velocity, 1..127.
    voice : {"bass", "pad", "melody", "arp"}
        Layer the note belongs to.
    """

    t_s: float
    beat: float
    dur_s: float
    dur_beats: float
    pitch: int
    velocity: int
    voice: Voice


@dataclass(frozen=True)
class Beat:
    """One beat of the tempo map.

    Attributes
    ----------
    index : int
        Beat number since the composer's first beat (0-based).
    t_s : float
        Time of the beat in session seconds.
    tempo_bpm : float
        Tempo from this beat to the next, in beats per minute: the next beat falls at
        ``t_s + 60 / tempo_bpm``.
    """

    index: int
    t_s: float
    tempo_bpm: float


#: One motif note: (onset in beats from the motif start, length in beats, scale-degree
#: offset from the motif's first note).
MotifNote = tuple[float, float, int]


@dataclass(frozen=True)
class _Theme:
    """What makes a section recognisable: motif, opening chords, accompaniment."""

    motif: tuple[MotifNote, ...]  # two bars (8 beats)
    anchor: int  # melody scale degree of the motif's first note
    opening: tuple[int, int]  # chord degrees of the first two bars of every phrase
    pattern: tuple[int, ...]  # arp pattern


@dataclass(frozen=True)
class _Section:
    """One section: a theme and the chords of its periods."""

    kind: int  # 0 = A, 1 = B
    start_beat: int
    n_periods: int
    theme: _Theme
    ante: tuple[int, ...]  # chord degree of each antecedent bar
    cons: tuple[int, ...]  # chord degree of each consequent bar


@dataclass(frozen=True)
class _Phrase:
    """Harmony latched for one phrase."""

    scale_pcs: tuple[int, ...]  # 7 pitch classes of the latched mode, tonic first
    tension: float
    degrees: tuple[int, ...]  # chord scale degree of each bar


#: Melody steps in scale degrees (stepwise motion twice as likely as a third).
_MELODY_STEPS: tuple[int, ...] = (-2, -1, -1, 1, 1, 2, 0)


def _scale_pitch(scale_pcs: tuple[int, ...], degree: int, octave_base: int) -> int:
    """MIDI pitch of scale ``degree`` (may exceed 6 or be negative) above ``octave_base``."""
    octave, idx = divmod(degree, 7)
    pc = scale_pcs[idx]
    # pitch of the pc at or above the tonic of octave_base
    tonic = octave_base + ((scale_pcs[0] - octave_base) % 12)
    return tonic + ((pc - scale_pcs[0]) % 12) + 12 * octave


def _nearest_pitch(pc: int, target: float) -> int:
    """MIDI pitch of pitch class ``pc`` nearest to ``target``."""
    base = math.floor(target) - 6
    return base + ((pc - base) % 12)


def _nearest_chord_degree(degree: int, root: int) -> int:
    """Scale degree nearest to ``degree`` that is a tone of the triad on ``root``."""
    tones = [root % 7 + c + 7 * k for c in (0, 2, 4) for k in range(-2, 4)]
    return min(tones, key=lambda c: (abs(c - degree), c))


def _fold_below(pitch: int, ceiling: int) -> int:
    """``pitch`` moved down by octaves until it is at most ``ceiling``."""
    while pitch > ceiling:
        pitch -= 12
    return pitch


class Composer:
    """Seeded generative composer.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same seed and the same parameter sequence
        give the same notes.
    key_pc : int, default 2
        Pitch class of the tonic (0 = C, 2 = D).
    start_s : float, default 0.0
        Session time of the first beat in seconds.
    max_tempo_step : float or None, default 0.02
        Largest relative tempo change from one beat to the next; None applies the
        requested tempo at the next beat as is.
    breathing_hz : float, default 0.0
        Resonance-breathing rate in Hz (0 = off): velocities follow
        ``0.8 + 0.2 * breath(t)`` with ``breath(t) = 0.5 - 0.5 cos(2 pi f t)``.

    Attributes
    ----------
    beats : list of Beat
        Every beat laid so far (the tempo map).
    n_notes : int
        Number of notes emitted so far.
    sections : list of (start_beat, kind)
        Start beat and theme (0 = A, 1 = B) of every section begun so far.

    Notes
    -----
    Not thread-safe; call :meth:`advance` from one thread. Each call costs time
    proportional to the number of beats it lays.
    """

    def __init__(
        self,
        *,
        seed: int,
        key_pc: int = 2,
        start_s: float = 0.0,
        max_tempo_step: float | None = 0.02,
        breathing_hz: float = 0.0,
    ) -> None:
        if not 0 <= int(key_pc) <= 11:
            raise ValueError(f"key_pc must be a pitch class in 0..11, got {key_pc!r}")
        if max_tempo_step is not None and not 0.0 < max_tempo_step <= 1.0:
            raise ValueError(f"max_tempo_step must be in (0, 1] or None, got {max_tempo_step!r}")
        if not 0.0 <= breathing_hz <= 0.5:
            raise ValueError(f"breathing_hz must be in [0, 0.5] Hz, got {breathing_hz!r}")
        self.max_tempo_step = max_tempo_step
        self.breathing_hz = float(breathing_hz)
        self._rng = np.random.default_rng(seed)
        self.key_pc = int(key_pc)
        self.start_s = float(start_s)
        self.beats: list[Beat] = []
        self.n_notes: int = 0
        self.sections: list[tuple[int, int]] = []
        self._next_beat_s = self.start_s
        self._pending: list[NoteEvent] = []
        self._phrase: _Phrase | None = None
        self._section: _Section | None = None
        self._themes: dict[int, _Theme] = {}
        self._pad_voicing: tuple[int, ...] = ()
        self._melody_degree = 7  # last melody scale degree (relative to the melody base)
        self._bar_melody: list[tuple[float, float, int]] = []  # (offset, dur, degree)
        self._ceiling = 127  # highest accompaniment pitch in the current bar
        self._arp_step = 0

    # ------------------------------------------------------------------ public
    def advance(self, params: MusicParams, t_end_s: float) -> list[NoteEvent]:
        """Compose every note with onset < ``t_end_s`` not composed before.

        Parameters
        ----------
        params : MusicParams
            Parameters holding over the interval since the previous call.
        t_end_s : float
            End of the interval in session seconds (exclusive).

        Returns
        -------
        list of NoteEvent
            New notes sorted by onset. Empty while ``params.fade <= 0`` (the beat
            clock keeps running).
        """
        p = params.clipped()
        silent = p.fade <= 0.0
        while self._next_beat_s < t_end_s:
            index = len(self.beats)
            tempo = float(p.tempo_bpm)
            if self.beats and self.max_tempo_step is not None:
                prev = self.beats[-1].tempo_bpm
                step = self.max_tempo_step
                tempo = min(max(tempo, prev * (1.0 - step)), prev * (1.0 + step))
            beat = Beat(index=index, t_s=self._next_beat_s, tempo_bpm=tempo)
            self.beats.append(beat)
            self._next_beat_s = beat.t_s + 60.0 / beat.tempo_bpm
            if index % BEATS_PER_PERIOD == 0:
                sec = self._section
                if sec is None or index >= sec.start_beat + sec.n_periods * BEATS_PER_PERIOD:
                    self._section = self._new_section(index, tempo, p)
            if index % BEATS_PER_PHRASE == 0:
                self._phrase = self._new_phrase(p, consequent=bool(index // BEATS_PER_PHRASE % 2))
            if not silent:
                self._pending.extend(self._compose_beat(beat, p))
        if silent:
            self._pending = [n for n in self._pending if n.t_s >= t_end_s]
            return []
        out = sorted((n for n in self._pending if n.t_s < t_end_s), key=lambda n: (n.t_s, n.pitch))
        self._pending = [n for n in self._pending if n.t_s >= t_end_s]
        self.n_notes += len(out)
        return out

    def scale_pcs(self) -> tuple[int, ...]:
        """Pitch classes of the currently latched mode scale (tonic first)."""
        if self._phrase is None:
            return tuple((self.key_pc + s) % 12 for s in MODE_STEPS["ionian"])
        return self._phrase.scale_pcs

    # ------------------------------------------------------------------ form
    def _draw_degree(self, prev: int, *, cadence: bool = False) -> int:
        w = _TRANSITIONS[prev].copy()
        if cadence:  # toward the dominant (or subdominant) before a cadence
            w[4] += 0.6
            w[3] += 0.3
            w[0] = 0.0
            if w[prev] > 0:
                w[prev] *= 0.2
        w /= w.sum()
        return int(self._rng.choice(7, p=w))

    def _new_theme(self, kind: int, density: float) -> _Theme:
        """Return a new two-bar motif with its opening chords (theme A starts on I)."""
        rng = self._rng
        first = 0 if kind == 0 else int(rng.choice([3, 5]))
        second = self._draw_degree(first)
        if second == 0:
            second = 3
        # rhythm: quarter and half notes when sparse, eighths appear as density rises
        # (no dotted values: the beat stays clear)
        opts = np.array([0.5, 1.0, 2.0])
        w = np.array([0.35 * density, 0.45, 0.35 * (1.2 - density)])
        w = np.maximum(w, 0.0) / np.maximum(w, 0.0).sum()
        onsets: list[tuple[float, float]] = []
        t = 0.0
        while t < 2 * BEATS_PER_BAR - 1e-9:
            dur = float(rng.choice(opts, p=w))
            bar_end = BEATS_PER_BAR * (math.floor(t / BEATS_PER_BAR + 1e-9) + 1)
            dur = min(dur, bar_end - t)  # notes do not cross the bar line
            onsets.append((t, dur))
            t += dur
        starts = [first + c + 7 * k for c in (0, 2, 4) for k in (-1, 0, 1)]
        anchor = int(rng.choice([a for a in starts if 6 <= a <= 11]))
        notes: list[MotifNote] = []
        deg = 0
        for i, (t0, dur) in enumerate(onsets):
            if i > 0:
                deg = int(clip(deg + _MELODY_STEPS[int(rng.integers(0, 7))], -4, 5))
                if deg == notes[-1][2] and rng.random() < 0.7:  # few repeated notes
                    deg += 1 if deg < 2 else -1
            if abs(t0 - BEATS_PER_BAR) < 1e-9:  # second bar's downbeat: a chord tone
                deg = _nearest_chord_degree(anchor + deg, second) - anchor
            notes.append((t0, dur, deg))
        return _Theme(
            motif=tuple(notes), anchor=anchor, opening=(first, second), pattern=_ARP_PATTERNS[kind]
        )

    def _new_section(self, start_beat: int, tempo: float, p: MusicParams) -> _Section:
        kind = 0 if not self.sections else 1 - self.sections[-1][1]
        if kind not in self._themes:
            self._themes[kind] = self._new_theme(kind, float(p.density))
        theme = self._themes[kind]
        period_s = BEATS_PER_PERIOD * 60.0 / tempo
        n = int(clip(round(SECTION_TARGET_S / period_s), 1, 16))
        first, second = theme.opening
        ante = (first, second, self._draw_degree(second, cadence=True), 4)
        third = 4 if self._rng.random() < 0.6 else 3
        cons = (first, second, third, 0)
        self.sections.append((start_beat, kind))
        return _Section(kind, start_beat, n, theme, ante, cons)

    def _new_phrase(self, p: MusicParams, *, consequent: bool = False) -> _Phrase:
        steps = MODE_STEPS[MODES[int(p.mode)]]
        scale = tuple((self.key_pc + s) % 12 for s in steps)
        sec = self._section
        assert sec is not None
        degrees = sec.cons if consequent else sec.ante
        return _Phrase(scale_pcs=scale, tension=float(p.tension), degrees=degrees)

    def _plan_melody_bar(
        self, bar: int, consequent: bool, density: float = 0.5
    ) -> list[tuple[float, float, int]]:
        """Melody of one bar: ``(offset_beats, dur_beats, scale degree)``.

        Below density 0.2 the motif is simplified: a note off the beat is merged into
        the note before it, so calm music keeps a plain, clear pulse.
        """
        sec, ph = self._section, self._phrase
        assert sec is not None and ph is not None
        th = sec.theme
        if bar < 2:  # the motif, restated as is
            notes = [
                (t - BEATS_PER_BAR * bar, d, th.anchor + deg)
                for t, d, deg in th.motif
                if BEATS_PER_BAR * bar <= t < BEATS_PER_BAR * (bar + 1)
            ]
        elif bar == 2:  # sequence: the motif's first bar moved to this bar's chord
            shift = (ph.degrees[2] - ph.degrees[0] + 3) % 7 - 3
            if consequent:  # development: the consequent answers in inversion
                first = th.motif[0][2]
                notes = [
                    (t, d, th.anchor + shift + 2 * first - deg)
                    for t, d, deg in th.motif
                    if t < BEATS_PER_BAR
                ]
            else:
                notes = [
                    (t, d, th.anchor + deg + shift) for t, d, deg in th.motif if t < BEATS_PER_BAR
                ]
        else:  # cadence
            root = 0 if consequent else ph.degrees[3]
            d = _nearest_chord_degree(self._melody_degree, root)
            if consequent:
                d = min((0, 7, 14), key=lambda c: abs(c - self._melody_degree))
                return [(0.0, float(BEATS_PER_BAR), d)]
            return [(0.0, float(BEATS_PER_BAR - 1), d)]
        if density < 0.2:
            merged: list[tuple[float, float, int]] = []
            for t, length, deg in notes:
                if merged and t % 1.0:
                    t0, d0, g0 = merged[-1]
                    merged[-1] = (t0, d0 + length, g0)
                else:
                    merged.append((t, length, deg))
            notes = merged
        return [(t, d, int(clip(deg, 2, 14))) for t, d, deg in notes]

    # ----------------------------------------------------------------- harmony
    def _chord_degrees(self, degree: int, tension: float) -> list[int]:
        """Scale degrees of the diatonic chord on ``degree`` (triad, seventh above 0.25)."""
        chord = [degree, degree + 2, degree + 4]
        if tension >= 0.25:
            chord.append(degree + 6)
        return chord

    def _voice_lead(self, pcs: list[int], center: float) -> tuple[int, ...]:
        """Voicing of ``pcs`` near ``center`` moving least from the previous voicing."""
        cands = [[_nearest_pitch(pc, center) + o for o in (-12, 0, 12)] for pc in pcs]
        cands = [[c for c in cs if center - 8 <= c <= center + 10] or cs[1:2] for cs in cands]
        prev = sorted(self._pad_voicing)
        best: tuple[float, tuple[int, ...]] | None = None
        # Up to 81 combinations per bar: integer sums in plain Python (exact, so the
        # same floats as np.mean / np.sum give, without their per-call overhead).
        for combo in itertools.product(*cands):
            notes = tuple(sorted(combo))
            if len(set(notes)) < len(notes):
                continue
            span = notes[-1] - notes[0]
            cost = 0.3 * abs(sum(notes) / len(notes) - center) + 0.1 * max(0, span - 12)
            if len(prev) == len(notes):
                cost += float(sum(abs(n - q) for n, q in zip(notes, prev, strict=True)))
            elif prev:
                cost += sum(min(abs(n - q) for q in prev) for n in notes) / len(notes)
            if best is None or cost < best[0]:
                best = (cost, notes)
        assert best is not None
        return best[1]

    def _tension_extensions(self, degree: int, tension: float, center: float) -> list[int]:
        """Extra pad pitches for ``tension``: 9th, 4th/11th, tritone, minor 2nd.

        The 9th and 4th are diatonic; the tritone and minor 2nd above the chord root
        are the deliberate out-of-scale dissonances (docs/music.md).
        """
        ph = self._phrase
        assert ph is not None
        root_pc = ph.scale_pcs[degree % 7]
        pcs: list[int] = []
        if tension >= 0.4:  # added 9th
            pcs.append(ph.scale_pcs[(degree + 1) % 7])
        if tension >= 0.6:  # added 4th / 11th
            pcs.append(ph.scale_pcs[(degree + 3) % 7])
        if tension >= 0.75:  # tritone above the root
            pcs.append((root_pc + 6) % 12)
        if tension >= 0.9:  # minor 2nd above the root
            pcs.append((root_pc + 1) % 12)
        return [_nearest_pitch(pc, center + 4.0) for pc in pcs]

    # ----------------------------------------------------------------- layers
    def _compose_beat(self, beat: Beat, p: MusicParams) -> list[NoteEvent]:
        ph, sec = self._phrase, self._section
        assert ph is not None and sec is not None
        spb = 60.0 / beat.tempo_bpm
        reg = int(round(p.register_st))
        in_phrase = beat.index % BEATS_PER_PHRASE
        bar, pos = divmod(in_phrase, BEATS_PER_BAR)
        degree = ph.degrees[bar]
        chord = self._chord_degrees(degree, ph.tension)
        key_base = self.key_pc
        notes: list[NoteEvent] = []
        consequent = bool(beat.index // BEATS_PER_PHRASE % 2)
        art = 1.1 - 0.6 * float(p.density)  # articulation: legato 1.1 .. detached 0.5
        # accents grow with the arousal expressed; calm music has none
        acc = clip(music_arousal(p), 0.0, 1.0)
        jitter = 1.0 + 5.0 * acc
        swell = 1.0
        if self.breathing_hz > 0.0:
            swell = 0.8 + 0.2 * (0.5 - 0.5 * np.cos(2.0 * np.pi * self.breathing_hz * beat.t_s))
        rng = self._rng

        def note(offset_beats: float, dur_beats: float, pitch: int, vel: float, voice: Voice):
            vel = (vel + jitter * rng.random()) * swell
            notes.append(
                NoteEvent(
                    t_s=beat.t_s + offset_beats * spb,
                    beat=beat.index + offset_beats,
                    dur_s=dur_beats * spb,
                    dur_beats=dur_beats,
                    pitch=int(clip(pitch, 0, 127)),
                    velocity=int(clip(round(vel), 1, 127)),
                    voice=voice,
                )
            )

        mel_base = _MELODY_HOME + key_base + reg - 12
        if pos == 0:  # plan the bar's melody first: the accompaniment stays below it
            self._bar_melody = self._plan_melody_bar(bar, consequent, float(p.density))
            lows = [_scale_pitch(ph.scale_pcs, d, mel_base) for _, _, d in self._bar_melody]
            low = min(lows) if lows else _scale_pitch(ph.scale_pcs, 5, mel_base)
            self._ceiling = low - 1

        # ---- pad: one voice-led chord per bar, below the melody
        if pos == 0:
            pcs = [ph.scale_pcs[d % 7] for d in chord]
            center = _PAD_HOME + key_base + reg
            voicing = self._voice_lead(pcs, center)
            self._pad_voicing = voicing
            ext = self._tension_extensions(degree, ph.tension, center)
            pad = sorted({_fold_below(x, self._ceiling) for x in list(voicing) + ext})
            for pitch in pad:
                note(0.0, float(BEATS_PER_BAR), pitch, 50.0, "pad")

        # ---- bass: root on beat 1, root or fifth on beat 3, above 49 Hz
        bass_base = _BASS_HOME + key_base + reg
        if pos == 0 or (pos == 2 and rng.random() < 0.4 + 0.5 * p.density):
            d = degree if pos == 0 or rng.random() < 0.5 else degree + 4
            pitch = _scale_pitch(ph.scale_pcs, d, bass_base - 5)
            while pitch < BASS_MIN_PITCH:
                pitch += 12
            note(0.0, 2.0, pitch, 70.0 + (10.0 * acc if pos == 0 else 0.0), "bass")

        # ---- arp (keys): chord tones on eighths in the section's pattern
        arp_base = _ARP_HOME + key_base + reg
        tones = sorted(_scale_pitch(ph.scale_pcs, d, arp_base - 6) for d in chord[:3])
        tones = tones + [t + 12 for t in tones[:2]]
        pattern = sec.theme.pattern
        for sub in range(2):
            on_beat = sub == 0
            prob = min(1.0, 0.7 + 1.0 * p.density) if on_beat else 0.8 * p.density
            step = self._arp_step
            self._arp_step += 1
            if rng.random() >= prob:
                continue
            pitch = _fold_below(tones[pattern[step % len(pattern)] % len(tones)], self._ceiling)
            if on_beat:
                vel = 58.0 + (16.0 if pos == 0 else 10.0) * acc
            else:
                vel = 52.0 - 4.0 * acc  # off-beats softer (below, never above, the beat)
            note(0.5 * sub, art, pitch, vel, "arp")

        # ---- melody: the planned notes starting in this beat
        for off, dur, d in self._bar_melody:
            if pos <= off < pos + 1:
                self._melody_degree = d
                pitch = _scale_pitch(ph.scale_pcs, d, mel_base)
                vel = 82.0 + (10.0 * acc if off == 0 else 4.0 * acc if off == 2 else 0.0)
                length = dur if bar == BARS_PER_PHRASE - 1 else dur * art
                note(off - pos, length, pitch, vel, "melody")
        return notes
