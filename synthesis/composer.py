"""Backend-independent, seeded generative composer: :class:`MusicParams` in, notes out.

The composer lays a beat grid whose spacing follows the requested tempo beat by beat,
groups beats into 4/4 bars and 4-bar phrases, and writes four layers on it:

- ``pad``: one voice-led chord per bar (diatonic triad or seventh of the latched mode),
  with dissonant extensions added as ``tension`` rises;
- ``bass``: the chord root on beat 1, root or fifth on beat 3;
- ``arp``: chord tones on eighth-note subdivisions with probability following
  ``density``; on-beat notes are accented so the pulse is clear;
- ``melody``: a stepwise walk on the mode scale, landing on chord tones on strong beats,
  phrased in 4-bar phrases paired into 8-bar periods: the first phrase (antecedent)
  ends on a half cadence and breathes (rest on its last beat); the second
  (consequent) restates the first two bars' rhythm and contour and closes on the tonic
  over a I chord (authentic cadence), held for the whole last bar.

Articulation follows density: notes of melody and arp last ``1.1 - 0.6 * density`` of
their written length (legato when sparse and calm, detached when dense). Tempo changes
take effect beat by beat and glide: each beat's tempo moves at most
``max_tempo_step`` (relative, default 2%) from the previous beat's toward the request
(below the ~1.5-6% just-noticeable change, docs/music.md). With
``breathing_hz > 0`` (resonance breathing, 0.1 Hz = 6 breaths/min) velocities swell
with the breathing cycle; the synth swells the pad with the same phase.

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

from attune.synthesis.params import MODE_STEPS, MODES, MusicParams, clip

Voice = Literal["bass", "pad", "melody", "arp"]

#: Beats per bar (4/4) and bars per phrase.
BEATS_PER_BAR: int = 4
BARS_PER_PHRASE: int = 4
BEATS_PER_PHRASE: int = BEATS_PER_BAR * BARS_PER_PHRASE

#: Home MIDI pitch (before the key offset) of each layer's centre.
_BASS_HOME = 36
_PAD_HOME = 57
_ARP_HOME = 64
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


@dataclass(frozen=True)
class _Phrase:
    """Harmony latched for one phrase."""

    scale_pcs: tuple[int, ...]  # 7 pitch classes of the latched mode, tonic first
    tension: float
    degrees: tuple[int, ...]  # chord scale degree of each bar


#: Melody steps in scale degrees, drawn uniformly (stepwise motion twice as likely).
_MELODY_STEPS: tuple[int, ...] = (-2, -1, -1, 0, 1, 1, 2)


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
        self._motif: dict[int, tuple[bool, int, float]] = {}
        self._rng = np.random.default_rng(seed)
        self.key_pc = int(key_pc)
        self.start_s = float(start_s)
        self.beats: list[Beat] = []
        self.n_notes: int = 0
        self._next_beat_s = self.start_s
        self._pending: list[NoteEvent] = []
        self._phrase: _Phrase | None = None
        self._last_degree = 0
        self._pad_voicing: tuple[int, ...] = ()
        self._melody_degree = 7  # scale degree relative to the melody octave base
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

    # ----------------------------------------------------------------- harmony
    def _new_phrase(self, p: MusicParams, *, consequent: bool = False) -> _Phrase:
        steps = MODE_STEPS[MODES[int(p.mode)]]
        scale = tuple((self.key_pc + s) % 12 for s in steps)
        degrees = [0]
        for bar in range(1, BARS_PER_PHRASE):
            w = _TRANSITIONS[degrees[-1]].copy()
            if consequent and bar == BARS_PER_PHRASE - 1:
                degrees.append(0)  # authentic cadence: the period closes on I
                continue
            if bar == BARS_PER_PHRASE - 1 or (consequent and bar == BARS_PER_PHRASE - 2):
                # half cadence (antecedent) or the dominant before the final I
                w[4] += 0.6
                w[3] += 0.3
                w[0] = 0.0
                if w[degrees[-1]] > 0:
                    w[degrees[-1]] *= 0.2
            w /= w.sum()
            degrees.append(int(self._rng.choice(7, p=w)))
        return _Phrase(scale_pcs=scale, tension=float(p.tension), degrees=tuple(degrees))

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
        ph = self._phrase
        assert ph is not None
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
        swell = 1.0
        if self.breathing_hz > 0.0:
            swell = 0.8 + 0.2 * (0.5 - 0.5 * np.cos(2.0 * np.pi * self.breathing_hz * beat.t_s))

        def note(offset_beats: float, dur_beats: float, pitch: int, vel: float, voice: Voice):
            vel = vel * swell
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

        # ---- pad: one voice-led chord per bar
        if pos == 0:
            pcs = [ph.scale_pcs[d % 7] for d in chord]
            center = _PAD_HOME + key_base + reg
            voicing = self._voice_lead(pcs, center)
            self._pad_voicing = voicing
            ext = self._tension_extensions(degree, ph.tension, center)
            pad = list(voicing) + [e for e in ext if e not in voicing]
            for pitch in pad:
                note(0.0, float(BEATS_PER_BAR), pitch, 52 + 8 * self._rng.random(), "pad")

        # ---- bass: root on beat 1, root or fifth on beat 3
        bass_base = _BASS_HOME + key_base + reg
        if pos == 0:
            pitch = _scale_pitch(ph.scale_pcs, degree, bass_base - 5)
            note(0.0, 2.0, pitch, 96, "bass")
        elif pos == 2 and self._rng.random() < 0.4 + 0.5 * p.density:
            d = degree + 4 if self._rng.random() < 0.5 else degree
            pitch = _scale_pitch(ph.scale_pcs, d, bass_base - 5)
            note(0.0, 2.0, pitch, 72, "bass")

        # ---- arp: chord tones on eighths; on-beat notes accented
        arp_base = _ARP_HOME + key_base + reg
        tones = sorted(_scale_pitch(ph.scale_pcs, d, arp_base - 6) for d in chord)
        tones = tones + [t + 12 for t in tones[:2]]
        pattern = tones + tones[-2:0:-1]  # up and down
        for sub in range(2):
            on_beat = sub == 0
            prob = min(1.0, 0.5 + 1.0 * p.density) if on_beat else 0.8 * p.density
            step = self._arp_step
            self._arp_step += 1
            if self._rng.random() >= prob:
                continue
            pitch = pattern[step % len(pattern)]
            if on_beat:
                vel = (100 if pos == 0 else 90) + 6 * self._rng.random()
            else:
                vel = 48 + 8 * self._rng.random()
            note(0.5 * sub, art, pitch, vel, "arp")

        # ---- melody: 4-bar phrases paired into 8-bar periods
        mel_base = _MELODY_HOME + key_base + reg - 12
        last_bar = bar == BARS_PER_PHRASE - 1
        if consequent and last_bar:
            if pos == 0:  # close the period on the tonic, held for the bar
                d = min((0, 7, 14), key=lambda c: abs(c - self._melody_degree))
                self._melody_degree = d
                pitch = _scale_pitch(ph.scale_pcs, d, mel_base)
                note(0.0, float(BEATS_PER_BAR), pitch, 78 + 6 * self._rng.random(), "melody")
            return notes
        if last_bar and pos == BEATS_PER_BAR - 1:
            return notes  # the antecedent breathes before its answer
        motif_slot = in_phrase if in_phrase < 2 * BEATS_PER_BAR else None
        if consequent and motif_slot is not None and motif_slot in self._motif:
            play, step, dur = self._motif[motif_slot]  # restate the antecedent's motif
        else:
            play = pos == 0 or bool(self._rng.random() < 0.3 + 0.6 * p.density)
            # = int(rng.choice(_MELODY_STEPS)) (choice draws integers(0, 7)), 5x cheaper
            step = _MELODY_STEPS[int(self._rng.integers(0, 7))]
            dur = 2.0 if pos in (0, 2) and self._rng.random() < 0.5 else 1.0
            if not consequent and motif_slot is not None:
                self._motif[motif_slot] = (play, step, dur)
        if play:
            d = int(clip(self._melody_degree + step, 4, 13))
            if pos in (0, 2):  # land on a chord tone on strong beats
                tones_d = [c + 7 * k for c in chord[:3] for k in (-1, 0, 1, 2)]
                d = min(tones_d, key=lambda c: (abs(c - d), c))
                d = int(clip(d, 2, 15))
            self._melody_degree = d
            pitch = _scale_pitch(ph.scale_pcs, d, mel_base)
            vel = (80 if pos == 0 else 74) + 6 * self._rng.random()
            note(0.0, dur * art, pitch, vel, "melody")
        return notes
