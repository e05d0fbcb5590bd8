"""The pyo synthesizer, run in its own process (offline or live), and a silent stand-in.

pyo 1.1.0 can crash in native code (e.g. a NaN read by a table lookup), so the parent never
imports pyo: :class:`OfflineRenderer` starts a child process (``multiprocessing``
"spawn" context) that owns the pyo server, builds the graph once, and renders audio
with the manual server (``audio="manual"``, one ``Server.process()`` per 240-sample
buffer) while the engine feeds it one message per control tick over a ``Pipe``. A
native crash kills the child only; :meth:`OfflineRenderer.close` (and the next
:meth:`OfflineRenderer.send`) then raises :class:`SynthError`.

Graph (built once, before the server starts; nothing is created afterwards):

- one bank of voices per composer voice, played by the palette's instruments
  (:mod:`attune.synthesis.instruments`: e.g. flute lead, electric piano, warm pad, round
  bass): additive wavetable oscillators (``Osc`` on a ``HarmTable``, no FM, so no
  sideband at 0 Hz), an ADSR envelope, a bell-like partial whose level follows
  ``brightness``, a detuned second oscillator on pads, a vibrato on the lead, and a
  stereo position per voice;
- every bank's gain swells with the resonance-breathing LFO (``breathing_hz``, 0.1 Hz =
  one ~10 s swell; phase locked to session time so a restarted child continues the
  cycle); an optional breathing pacer: a soft sine on the tonic whose amplitude rises on
  the inhale half of each breathing cycle and falls on the exhale;
- a master chain: ``ButHP`` at :data:`HIGHPASS_HZ` (below the lowest bass note, removes
  DC and sub-bass), a high shelf (``EQ``) and a ``ButLP`` whose gain and cutoff
  follow ``brightness``, a gentle glue
  compressor (2:1) on the unity-level mix, ``Freeverb``, the master gain
  (:func:`master_gain`, ``SigTo`` 0.25 s ramp) times ``fade`` (``SigTo``, 1 s ramp), a
  ``DCBlock``, a limiter (``Compress``, threshold 4 dB under the ceiling, ratio 10) and a
  final ``Clip`` at the ceiling amplitude so no sample exceeds ``ceiling_dbfs``.

``loudness_db`` is program loudness in LUFS at the output (ITU-R BS.1770 integrated
loudness): the master gain maps it through a static model of the unity-gain mix's
loudness (:data:`MIX_REF_LUFS` and :func:`level_trim_db`, i.e. :func:`master_gain`),
corrected once per tick by a gated loudness meter on that mix (``update_loudness``,
~6 s time constant, at most 0.1 dB per tick); see docs/music.md.

Voices are allocated oldest-first (round robin) by setting ``Sig`` values and calling
``Adsr.play()``; the attack of every voice but the pad sharpens with ``density``.

The child reports its health over the same pipe: ``("ready", n_objects, n_streams)``
after boot (or ``("error", text)``), and at close ``("done", ...)`` with the audio
length, the number and digest of the notes it played (:func:`notes_digest`) and the
number of pyo objects and server streams at start-up and at the end, so a test can
check that nothing was created mid-session.

Live mode (:class:`LiveSynth`) runs the identical graph on pyo's portaudio server on an
output device chosen by name or index and triggers each note at its onset time.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, Literal

from attune.synthesis.composer import NoteEvent
from attune.synthesis.instruments import DEFAULT_PALETTE, Instrument
from attune.synthesis.instruments import palette as get_palette
from attune.synthesis.params import PARAM_NAMES, MusicParams, make_params

#: Samples per pyo buffer; 240 divides a 0.25 s control tick at 48 kHz (12000 samples).
BUFFER_SIZE: int = 240
#: Integrated loudness in LUFS of the unity-gain mix for neutral parameters (measured
#: with pyloudnorm on renders of both palettes; docs/music.md).
MIX_REF_LUFS: float = -19.27
#: Loudness follower: smoothing per 0.25 s tick (~6 s time constant), largest change
#: per tick and largest correction of the static model, dB.
AGC_ALPHA: float = 0.04
AGC_STEP_DB: float = 0.1
AGC_RANGE_DB: float = 6.0
#: Corner of the master high-pass in Hz (the lowest bass note is 49 Hz).
HIGHPASS_HZ: float = 38.0
#: Low-pass cutoff at brightness 0 and 1, Hz (exponential in between).
CUTOFF_LO_HZ: float = 1500.0
CUTOFF_HI_HZ: float = 12000.0
#: High-shelf corner (Hz) and gain (dB) at brightness 0 and 1: the timbre's tilt.
TILT_HZ: float = 700.0
TILT_LO_DB: float = -10.0
TILT_HI_DB: float = 8.0

_VOICE_CODE = {"bass": 0, "pad": 1, "melody": 2, "arp": 3}
_VOICE_NAMES = {c: v for v, c in _VOICE_CODE.items()}
#: Depth of the resonance-breathing swell (music gain from 1 - depth to 1).
BREATH_DEPTH: float = 0.5
#: Peak amplitude of the breathing-pacer tone at unity master gain.
PACER_AMP: float = 0.06


def level_trim_db(p: MusicParams) -> float:
    """Gain trim in dB that keeps the integrated loudness at ``p.loudness_db``.

    Brightness (the high shelf) and density change the loudness of the unity-gain mix;
    this trim compensates, so that ``loudness_db`` stays the program loudness whatever
    the other parameters. Register and tempo move with density in the arousal mapping
    and are covered by its term.
    """
    b, d = float(p.brightness) - 0.5, float(p.density) - 0.5
    return TRIM_B * b + TRIM_D * d + TRIM_BD * b * d


#: Trim coefficients in dB: per unit of brightness, of density and of their product,
#: fitted by least squares to the integrated loudness of 60 renders of 16 s of
#: ``params_for(a, v)`` over the whole plane (both palettes, random seeds); residual
#: spread 0.8 LU, most of it from the notes themselves.
TRIM_B, TRIM_D, TRIM_BD = -6.34, -1.71, 1.33


def master_gain(p: MusicParams) -> float:
    """Static-model master gain that plays ``p`` at ``p.loudness_db`` LUFS (no fade).

    The synth child starts from this gain and corrects it by the loudness it measures.
    """
    return float(10.0 ** ((p.loudness_db - MIX_REF_LUFS + level_trim_db(p)) / 20.0))


class SynthError(Exception):
    """The synthesizer failed (child process died, bad argument, or render error)."""


@dataclass(frozen=True)
class RenderStats:
    """Summary of a finished render.

    Attributes
    ----------
    duration_s : float
        Audio rendered, in seconds.
    wall_s : float
        Wall-clock time from :meth:`start` to the end of :meth:`close`, in seconds.
    path : Path
        The WAV file written (``os.devnull`` for :class:`SilentBackend`).
    n_notes : int
        Notes the synth triggered.
    notes_digest : str
        :func:`notes_digest` of the notes triggered.
    n_objects_start, n_objects_end : int
        Live pyo objects (instances of ``PyoObjectBase``) in the child after the graph
        was built and at the end of the session (-1 if unknown).
    n_streams_start, n_streams_end : int
        Streams registered with the pyo server at the same two moments (-1 if unknown).
    """

    duration_s: float
    wall_s: float
    path: Path
    n_notes: int = 0
    notes_digest: str = ""
    n_objects_start: int = -1
    n_objects_end: int = -1
    n_streams_start: int = -1
    n_streams_end: int = -1


def note_payload(notes: Sequence[NoteEvent]) -> list[tuple[float, float, int, int, int]]:
    """Return the wire form of notes: ``(t_s, dur_s, pitch, velocity, voice_code)``."""
    return [(n.t_s, n.dur_s, int(n.pitch), int(n.velocity), _VOICE_CODE[n.voice]) for n in notes]


def notes_digest(payload: Sequence[tuple[float, float, int, int, int]]) -> str:
    """SHA-1 of a multiset of wire-form notes (order-independent).

    The synth child reports the digest of the notes it actually triggered; the same
    function over the notes written to MIDI must give the same string.
    """
    h = hashlib.sha1()
    for row in sorted(tuple(r) for r in payload):
        h.update(repr(row).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------- child
class _Graph:
    """The pyo graph; created once in the child before the server starts.

    Parameters
    ----------
    pyo : module
        The pyo module (imported in the child only).
    ceiling_amp : float
        Sample peak ceiling as a linear amplitude.
    start_s : float
        Session time of the first sample, seconds (phase of the breathing LFO).
    breathing_hz : float
        Rate of the swells in Hz (0 disables them).
    pacer : bool
        Add the breathing-pacer tone (only with ``breathing_hz > 0``).
    pacer_pitch : int
        MIDI pitch of the pacer tone.
    palette : str
        Name of the palette (:data:`attune.synthesis.instruments.PALETTES`).
    """

    def __init__(
        self,
        pyo: Any,
        *,
        ceiling_amp: float,
        start_s: float = 0.0,
        breathing_hz: float = 0.0,
        pacer: bool = False,
        pacer_pitch: int = 62,
        palette: str = DEFAULT_PALETTE,
    ) -> None:
        self.pyo = pyo
        self.instruments = get_palette(palette)
        self.objs: list[Any] = []  # keep references: pyo objects must never be collected
        keep = self.objs.append
        self.cutoff = pyo.SigTo(4000.0, time=0.5, init=4000.0)
        self.tine = pyo.SigTo(0.6, time=0.5, init=0.6)
        self.tilt_db = pyo.SigTo(0.0, time=0.5, init=0.0)
        self.gain = pyo.SigTo(0.0, time=0.25, init=0.0)
        self.fade = pyo.SigTo(0.0, time=1.0, init=0.0)
        for o in (self.cutoff, self.tine, self.tilt_db, self.gain, self.fade):
            keep(o)
        self.vib: Any = None
        if any(inst.vibrato > 0.0 for inst in self.instruments.values()):
            self.vib = pyo.Sine(freq=5.0)
            keep(self.vib)
        self.density = 0.5
        self._last: tuple[float, ...] = astuple(MusicParams())

        # Resonance breathing: breath01 = 0.5 - 0.5 cos(2 pi f t), t in session seconds
        # (0 at the start of an inhale, 1 at its top). Sine's phase 0.75 turns sin into
        # -cos; the start phase carries the session time across restarts. Built only
        # when breathing is on (every object costs CPU on every buffer).
        hz = max(0.0, float(breathing_hz))
        self.pad_swell: Any = 1.0
        extra: list[Any] = []
        if hz > 0.0:
            phase = (0.75 + (start_s * hz) % 1.0) % 1.0
            self.breath = pyo.Sine(freq=hz, phase=phase, mul=0.5, add=0.5)
            self.pad_swell = self.breath * BREATH_DEPTH + (1.0 - BREATH_DEPTH)
            keep(self.breath)
            keep(self.pad_swell)
            if pacer:
                self.pacer_env = self.breath * self.breath * PACER_AMP
                hz_p = 440.0 * 2.0 ** ((pacer_pitch - 69) / 12.0)
                self.pacer = pyo.Sine(freq=hz_p, mul=self.pacer_env)
                self.pacer_pan = pyo.Pan(self.pacer, outs=2, pan=0.5)
                for o in (self.pacer_env, self.pacer, self.pacer_pan):
                    keep(o)
                extra.append(self.pacer_pan)

        self.voices: dict[str, list[tuple[Any, list[tuple[Any, float]], Any]]] = {}
        self.streams: dict[str, list[list[Any]]] = {}  # per voice: streams to play/stop
        self.ends: dict[str, list[float]] = {}  # per voice: time its envelope ends (s)
        self.now = 0.0  # time of the current buffer, seconds since the child started
        self.last_used: dict[str, list[int]] = {}
        outs: list[Any] = []
        for voice, inst in self.instruments.items():
            outs.extend(self._bank(voice, inst))
        outs.extend(extra)
        for k, v in self.voices.items():
            self.last_used[k] = [0] * len(v)
        self.counter = 0
        self.played: list[tuple[float, float, int, int, int]] = []

        # Master: high-pass below the bass (and DC), tone, gentle glue compression on the
        # unity-level mix (so loudness_db keeps a slope of 1), reverb, gain and fade, DC
        # blocker, limiter, clip at the ceiling.
        self.dry = pyo.Mix(outs, voices=2)
        self.hp = pyo.ButHP(self.dry, freq=HIGHPASS_HZ)
        self.tilt = pyo.EQ(self.hp, freq=TILT_HZ, q=0.7, boost=self.tilt_db, type=2)
        self.lp = pyo.ButLP(self.tilt, freq=self.cutoff)
        self.glue = pyo.Compress(
            self.lp, thresh=-20.0, ratio=2.0, risetime=0.01, falltime=0.25, knee=0.5
        )
        self.verb = pyo.Freeverb(self.glue, size=0.82, damp=0.55, bal=0.28)
        # Loudness meter of the unity-gain mix (before gain and fade): K-weighting as a
        # +4 dB high shelf at 1.5 kHz (its low cut is the high-pass above), squared and
        # smoothed per channel; read once per tick by update_loudness().
        self.kw = pyo.EQ(self.verb, freq=1500.0, q=0.7, boost=4.0, type=2)
        self.kw_sq = self.kw * self.kw
        self.kw_ms = pyo.Follower(self.kw_sq, freq=2.0)
        self.deviation_db = 0.0  # measured minus modelled loudness of the unity mix
        self.target_db = -60.0
        self.model_db = MIX_REF_LUFS
        self.master = pyo.Sig(self.verb, mul=self.gain * self.fade)
        self.dcb = pyo.DCBlock(self.master)
        thresh_db = 20.0 * math.log10(ceiling_amp) - 4.0
        self.comp = pyo.Compress(
            self.dcb,
            thresh=thresh_db,
            ratio=10.0,
            risetime=0.002,
            falltime=0.15,
            lookahead=5.0,
            knee=0.3,
        )
        self.clip = pyo.Clip(self.comp, min=-ceiling_amp, max=ceiling_amp)
        self.clip.out()
        # The level of the samples actually sent out (mean square per channel, ~80 ms).
        self.out_sq = self.clip * self.clip
        self.out_ms = pyo.Follower(self.out_sq, freq=2.0)
        for o in (
            self.dry, self.hp, self.tilt, self.lp, self.glue, self.verb, self.kw, self.kw_sq,
            self.kw_ms, self.master, self.dcb,
            self.comp, self.clip, self.out_sq, self.out_ms,
        ):  # fmt: skip
            keep(o)

    def output_ms(self) -> float:
        """Mean square of the output samples over the last ~0.1 s, channels averaged."""
        vals = [float(v) for v in self.out_ms.get(all=True)]
        return sum(vals) / len(vals) if vals else 0.0

    def _bank(self, voice: str, inst: Instrument) -> list[Any]:
        """Build the voices of ``inst``; return its stereo outputs (one per position).

        Per voice: an ``Adsr`` whose ``mul`` carries the note's amplitude, an ``Osc``
        on the instrument's ``HarmTable`` (frequencies are plain floats set at each
        note, so no ``Sig`` objects), a detuned twin (pads) and a tine ``Sine`` on a
        shared bus whose level follows brightness. Voices are summed per stereo
        position before panning.
        """
        pyo, keep = self.pyo, self.objs.append
        table = pyo.HarmTable(list(inst.harmonics))
        keep(table)
        n_pos = len(inst.pans)
        buses: list[list[Any]] = [[] for _ in range(n_pos)]
        tines: list[Any] = []
        self.voices[voice] = []
        self.streams[voice] = []
        self.ends[voice] = []
        for i in range(inst.n_voices):
            env = pyo.Adsr(
                attack=inst.attack_s,
                decay=inst.decay_s,
                sustain=inst.sustain,
                release=inst.release_s,
                dur=2.0,
                mul=0.0,
            )
            keep(env)
            # Decaying instruments: squared linear envelope, an exponential-like decay
            # (not Adsr.setExp, whose overshoot below 0 gave NaN); sustained: linear.
            shape = env * env if inst.sustain == 0.0 else env
            keep(shape)
            oscs: list[tuple[Any, float]] = []
            streams: list[Any] = [] if shape is env else [shape]
            fsig = None
            if inst.vibrato > 0.0:
                fsig = pyo.Sig(440.0)
                fvib = fsig * (self.vib * inst.vibrato + 1.0)
                main = pyo.Osc(table, freq=fvib, mul=shape)
                for o in (fsig, fvib, main):
                    keep(o)
                    streams.append(o)
            else:
                main = pyo.Osc(table, freq=440.0, mul=shape)
                keep(main)
                streams.append(main)
                oscs.append((main, 1.0))
            buses[i % n_pos].append(main)
            if inst.detune > 0.0:
                twin = pyo.Osc(table, freq=440.0, mul=shape)
                keep(twin)
                streams.append(twin)
                oscs.append((twin, 1.0 + inst.detune))
                buses[i % n_pos].append(twin)
            if inst.tine_ratio > 0.0:
                tine = pyo.Sine(freq=440.0, mul=shape)
                keep(tine)
                streams.append(tine)
                oscs.append((tine, inst.tine_ratio))
                tines.append(tine)
            for o in streams:  # idle voices cost no CPU: played at a note, stopped after
                o.stop()
            self.voices[voice].append((env, oscs, fsig))
            self.streams[voice].append(streams)
            self.ends[voice].append(-1.0)
        outs: list[Any] = []
        swell = self.pad_swell
        for k, bus in enumerate(buses):
            mix = pyo.Mix(bus, voices=1, mul=swell)
            pan = pyo.Pan(mix, outs=2, pan=inst.pans[k])
            keep(mix)
            keep(pan)
            outs.append(pan)
        if tines:
            tmix = pyo.Mix(tines, voices=1, mul=self.tine * inst.tine_level)
            tpan = pyo.Pan(tmix, outs=2, pan=inst.pans[0])
            for o in (tmix, tmix.mul, tpan):
                keep(o)
            outs.append(tpan)
        return outs

    def set_params(self, p: tuple[float, ...]) -> None:
        """Ramp every control toward the parameters ``p`` (``astuple(MusicParams)``).

        A non-finite value (NaN from upstream) keeps the previous one: a NaN in a
        filter's or the reverb's state would silence the output for good.
        """
        p = tuple(v if math.isfinite(v) else q for v, q in zip(p, self._last, strict=True))
        self._last = p
        mp_ = make_params(dict(zip(PARAM_NAMES, p, strict=True)))
        b = float(mp_.brightness)
        self.cutoff.value = float(CUTOFF_LO_HZ * (CUTOFF_HI_HZ / CUTOFF_LO_HZ) ** b)
        self.tine.value = 0.15 + 0.85 * b
        self.tilt_db.value = TILT_LO_DB + (TILT_HI_DB - TILT_LO_DB) * b
        self.density = float(mp_.density)
        self.target_db = float(mp_.loudness_db)
        self.model_db = MIX_REF_LUFS - level_trim_db(mp_)
        self._apply_gain()
        self.fade.value = float(max(0.0, min(1.0, mp_.fade)))

    def silence(self) -> None:
        """Ramp the master fade to 0 (1 s)."""
        self.fade.value = 0.0

    def trigger(self, note: tuple[float, float, int, int, int]) -> None:
        """Start one wire-form note on the oldest voice of its instrument."""
        self.played.append(note)
        _, dur_s, pitch, velocity, code = note
        voice = _VOICE_NAMES[code]
        inst = self.instruments[voice]
        used = self.last_used[voice]
        i = min(range(len(used)), key=used.__getitem__)
        self.counter += 1
        used[i] = self.counter
        env, oscs, fsig = self.voices[voice][i]
        if self.ends[voice][i] < 0.0:
            for o in self.streams[voice][i]:
                o.play()
        hz = float(440.0 * 2.0 ** ((pitch - 69) / 12.0))
        if fsig is not None:
            fsig.value = hz
        for osc, ratio in oscs:
            osc.freq = hz * ratio
        amp = inst.level * (velocity / 127.0) ** 1.5
        env.mul = math.sqrt(amp) if inst.sustain == 0.0 else amp
        if voice != "pad":  # attack sharpens with density (an arousal cue)
            env.attack = inst.attack_s * (1.6 - 1.2 * self.density)
        if inst.sustain == 0.0:  # decaying: ring for about the written length
            env.dur = max(0.3, min(4.0, 1.5 * dur_s + 0.3))
            env.decay = max(0.05, env.dur - env.attack - inst.release_s)
        else:
            env.dur = max(env.attack + inst.decay_s, dur_s) + inst.release_s
        env.play()
        self.ends[voice][i] = self.now + float(env.dur) + 0.05

    def _apply_gain(self) -> None:
        self.gain.value = float(
            10.0 ** ((self.target_db - self.model_db - self.deviation_db) / 20.0)
        )

    def update_loudness(self) -> None:
        """Correct the master gain by the measured loudness of the unity-gain mix.

        Called once per tick. The loudness of the last ~0.5 s (BS.1770 form:
        ``-0.691 + 10 log10`` of the summed channel mean squares) is compared with the
        static model (:data:`MIX_REF_LUFS` and :func:`level_trim_db`); blocks more than
        10 LU under the running estimate, or under -70 LUFS, are gated out as in
        BS.1770. The deviation follows with a ~6 s time constant, at most
        :data:`AGC_STEP_DB` per tick and within +-:data:`AGC_RANGE_DB`, so the music's
        own dynamics stay and a content change never jumps the level.
        """
        ms = sum(float(v) for v in self.kw_ms.get(all=True))
        if not ms > 0.0 or not math.isfinite(ms):
            return
        block = -0.691 + 10.0 * math.log10(ms)
        estimate = self.model_db + self.deviation_db
        if block < -70.0 or block < estimate - 10.0:
            return
        step = AGC_ALPHA * (block - self.model_db - self.deviation_db)
        step = max(-AGC_STEP_DB, min(AGC_STEP_DB, step))
        self.deviation_db = max(-AGC_RANGE_DB, min(AGC_RANGE_DB, self.deviation_db + step))
        self._apply_gain()

    def check(self, t_s: float) -> None:
        """Raise :class:`SynthError` if the master bus holds a non-finite sample.

        A NaN or infinity stays in the filters' and reverb's state for good, which is
        heard as silence; failing loudly lets the supervisor restart the child (with a
        fade-in and a logged event) instead.
        """
        values = [*self.verb.get(all=True), *self.clip.get(all=True)]
        if not all(math.isfinite(v) for v in values):
            raise SynthError(f"synth produced a non-finite sample by t = {t_s:.2f} s")

    def reap(self, now_s: float) -> None:
        """Set the clock to ``now_s`` (s since start); stop voices whose note has ended."""
        self.now = now_s
        for voice, ends in self.ends.items():
            for i, end in enumerate(ends):
                if 0.0 <= end < now_s:
                    for o in self.streams[voice][i]:
                        o.stop()
                    ends[i] = -1.0


def _count_objects(pyo: Any, server: Any) -> tuple[int, int]:
    """``(live PyoObjectBase instances, server streams)`` in this process."""
    import gc

    gc.collect()
    n = sum(1 for o in gc.get_objects() if isinstance(o, pyo.PyoObjectBase))
    return n, int(server.getNumberOfStreams())


def _resolve_device(pyo: Any, device: int | str | None) -> int | None:
    """Output device index for ``device`` (index, exact or partial name, or None)."""
    names, indexes = pyo.pa_get_output_devices()
    if not indexes:
        raise SynthError("no audio output device found (portaudio lists none)")
    if device is None:
        default = int(pyo.pa_get_default_output())
        return default if default in indexes else int(indexes[0])
    if isinstance(device, int) or (isinstance(device, str) and device.strip().isdigit()):
        idx = int(device)
        if idx not in indexes:
            raise SynthError(f"audio device index {idx} not found; available: {list(indexes)}")
        return idx
    hits = [i for n, i in zip(names, indexes, strict=True) if str(device).lower() in n.lower()]
    if not hits:
        raise SynthError(f"no audio output device matches {device!r}; available: {names}")
    return int(hits[0])


def _child_main(
    conn: Any,
    wav_path: str,
    sr: int,
    ceiling_dbfs: float,
    bits: int,
    start_s: float,
    graph_kw: dict[str, Any] | None = None,
    level: Any = None,
) -> None:
    """Entry point of the offline synth process (spawn); see :class:`OfflineRenderer`.

    ``level`` (a shared ``multiprocessing`` array of one double) receives the output's
    mean square after every tick (:meth:`_ChildSynth.output_rms_dbfs`).
    """
    os.environ.setdefault("PYO_GUI_WX", "0")
    try:
        import pyo

        s = pyo.Server(sr=sr, nchnls=2, duplex=0, audio="manual", buffersize=BUFFER_SIZE)
        s.setVerbosity(1)
        s.boot()
        s.recordOptions(dur=-1, filename=wav_path, fileformat=0, sampletype=0 if bits == 16 else 1)
        # 0.999: margin so integer quantization of the WAV cannot round above the ceiling
        graph = _Graph(
            pyo,
            ceiling_amp=0.999 * 10.0 ** (ceiling_dbfs / 20.0),
            start_s=start_s,
            **(graph_kw or {}),
        )
        s.start()
        s.recstart()
        counts0 = _count_objects(pyo, s)
        conn.send(("ready", *counts0))
        n_done = 0  # buffers processed
        while True:
            msg = conn.recv()
            if msg[0] == "close":
                break
            if msg[0] == "ping":
                conn.send(("pong", start_s + n_done * BUFFER_SIZE / sr))
                continue
            _, t_end_s, params, notes = msg
            graph.set_params(params)
            n_target = int(round((t_end_s - start_s) * sr)) // BUFFER_SIZE
            notes = sorted(notes)
            k = 0
            while n_done < n_target:
                while (
                    k < len(notes)
                    and int(round((notes[k][0] - start_s) * sr)) // BUFFER_SIZE <= n_done
                ):
                    graph.trigger(notes[k])
                    k += 1
                s.process()
                n_done += 1
                if n_done % 50 == 0:  # every 0.25 s at 48 kHz
                    graph.reap(n_done * BUFFER_SIZE / sr)
                else:
                    graph.now = n_done * BUFFER_SIZE / sr
            for note in notes[k:]:  # onsets at the very end of the interval
                graph.trigger(note)
            graph.check(t_end_s)
            graph.update_loudness()
            if level is not None:
                level[0] = graph.output_ms()
        s.recstop()
        counts1 = _count_objects(pyo, s)
        s.stop()
        s.shutdown()
        conn.send(
            (
                "done",
                n_done * BUFFER_SIZE / sr,
                len(graph.played),
                notes_digest(graph.played),
                *counts0,
                *counts1,
            )
        )
    except BaseException as exc:  # report and exit non-zero; the parent raises SynthError
        try:
            text = str(exc) if isinstance(exc, SynthError) else traceback.format_exc()
            conn.send(("error", text))
        finally:
            os._exit(1)


def _child_live(
    conn: Any,
    device: int | str | None,
    sr: int,
    ceiling_dbfs: float,
    start_s: float,
    graph_kw: dict[str, Any] | None = None,
    lookahead_s: float = 0.25,
    level: Any = None,
) -> None:
    """Entry point of the live synth process: pyo's portaudio server on a device.

    Session time maps to the child's monotonic clock at the first tick message
    (``local = now + onset - (t_end - lookahead_s)``); notes wait in a heap and are
    triggered when due (polling the pipe with a timeout until the next onset).
    """
    os.environ.setdefault("PYO_GUI_WX", "0")
    try:
        import pyo

        index = _resolve_device(pyo, device)
        s = pyo.Server(sr=sr, nchnls=2, duplex=0, audio="portaudio", buffersize=BUFFER_SIZE * 2)
        s.setVerbosity(1)
        s.setOutputDevice(index)
        s.boot()
        if not s.getIsBooted():
            raise SynthError(f"could not open audio output device {device!r} (index {index})")
        graph = _Graph(
            pyo,
            ceiling_amp=0.999 * 10.0 ** (ceiling_dbfs / 20.0),
            start_s=start_s,
            **(graph_kw or {}),
        )
        s.start()
        counts0 = _count_objects(pyo, s)
        conn.send(("ready", *counts0))
        offset: float | None = None  # local monotonic time minus session time
        pending: list[tuple[float, tuple[float, float, int, int, int]]] = []
        last_t = start_s
        t0 = time.monotonic()
        while True:
            now = time.monotonic()
            graph.reap(now - t0)
            if level is not None:
                level[0] = graph.output_ms()
            while pending and pending[0][0] <= now:
                graph.trigger(heapq.heappop(pending)[1])
            wait = 0.05 if not pending else max(0.0, min(0.05, pending[0][0] - now))
            if not conn.poll(wait):
                continue
            msg = conn.recv()
            if msg[0] == "close":
                break
            if msg[0] == "ping":
                conn.send(("pong", last_t))
                continue
            _, t_end_s, params, notes = msg
            if offset is None:
                offset = time.monotonic() - (t_end_s - lookahead_s)
            graph.check(t_end_s)
            graph.update_loudness()
            graph.set_params(params)
            for note in notes:
                heapq.heappush(pending, (note[0] + offset, note))
            last_t = t_end_s
        graph.silence()  # fade out over 1 s before stopping the stream
        time.sleep(1.1)
        counts1 = _count_objects(pyo, s)
        s.stop()
        s.shutdown()
        conn.send(
            (
                "done",
                max(last_t - start_s, time.monotonic() - t0),
                len(graph.played),
                notes_digest(graph.played),
                *counts0,
                *counts1,
            )
        )
    except BaseException as exc:
        try:
            text = str(exc) if isinstance(exc, SynthError) else traceback.format_exc()
            conn.send(("error", text))
        finally:
            os._exit(1)


# --------------------------------------------------------------------------- parent
def _describe_exit(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name} (exit code {code})"
    return f"exited with code {code}"


class _ChildSynth:
    """Common parent side of the synth child: start, one message per tick, close."""

    _what = "synth"

    def __init__(
        self,
        *,
        sr: int,
        ceiling_dbfs: float,
        start_s: float,
        breathing_hz: float,
        pacer: bool,
        pacer_pitch: int,
        palette: str = DEFAULT_PALETTE,
    ) -> None:
        try:
            get_palette(palette)
        except ValueError as e:
            raise SynthError(str(e)) from None
        if sr % (4 * BUFFER_SIZE):
            raise SynthError(f"sr must be a multiple of {4 * BUFFER_SIZE} Hz, got {sr!r}")
        if not -40.0 <= ceiling_dbfs <= 0.0:
            raise SynthError(f"ceiling_dbfs must be in [-40, 0] dBFS, got {ceiling_dbfs!r}")
        if not 0.0 <= breathing_hz <= 0.5:
            raise SynthError(f"breathing_hz must be in [0, 0.5] Hz, got {breathing_hz!r}")
        self.sr = int(sr)
        self.ceiling_dbfs = float(ceiling_dbfs)
        self.start_s = float(start_s)
        self.graph_kw = {
            "breathing_hz": float(breathing_hz),
            "pacer": bool(pacer),
            "pacer_pitch": int(pacer_pitch),
            "palette": str(palette),
        }
        self._proc: Any = None
        self._conn: Any = None
        self._t0 = 0.0
        self._last_t = self.start_s
        self._ready: tuple[Any, ...] | None = None
        self._level: Any = None

    def output_rms_dbfs(self) -> float | None:
        """RMS of the samples the synth sent out over the last ~0.1 s, dBFS (None before start).

        Measured in the child on its output bus (after the master fade, the limiter and
        the clipper), so it is what the WAV or the sound card receives.
        """
        if self._level is None:
            return None
        ms = float(self._level[0])
        return 10.0 * math.log10(ms) if ms > 1e-12 else -120.0

    @property
    def pid(self) -> int | None:
        """Process id of the synth child, or None before :meth:`start`."""
        return None if self._proc is None else self._proc.pid

    @property
    def last_t(self) -> float:
        """Session time up to which audio was requested (the last ``t_end_s``), seconds."""
        return self._last_t

    def is_alive(self) -> bool:
        """Return True while the child process runs."""
        return self._proc is not None and self._proc.is_alive()

    def _target_args(self) -> tuple[Any, tuple[Any, ...]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def start(self) -> None:
        """Start the synth child process."""
        if self._proc is not None:
            raise SynthError(f"{type(self).__name__}.start() called twice")
        ctx = mp.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        target, args = self._target_args()
        self._level = ctx.Array("d", 1, lock=False)
        self._proc = ctx.Process(
            target=target,
            args=(child_conn, *args, self._level),
            name="attune-synth",
            daemon=True,
        )
        self._t0 = time.perf_counter()
        self._proc.start()
        child_conn.close()
        self._conn = parent_conn

    def wait_ready(self, timeout_s: float = 30.0) -> tuple[int, int]:
        """Block until the child has built its graph; return ``(n_objects, n_streams)``.

        Raises
        ------
        SynthError
            One line: the child's error (e.g. no audio device), its death, or a timeout.
        """
        if self._ready is not None:
            return int(self._ready[1]), int(self._ready[2])
        if self._conn is None:
            raise SynthError(f"{type(self).__name__}.wait_ready() before start()")
        try:
            if not self._conn.poll(timeout_s):
                raise SynthError(f"synth process not ready within {timeout_s} s")
            reply = self._conn.recv()
        except (EOFError, ConnectionResetError, BrokenPipeError):
            self._proc.join(5.0)
            raise SynthError(self._death_message()) from None
        if reply[0] == "error":
            self._proc.join(5.0)
            raise SynthError(str(reply[1]).strip().splitlines()[-1])
        self._ready = reply
        return int(reply[1]), int(reply[2])

    def ping(self, timeout_s: float = 60.0) -> float:
        """Ask the child how far it got: session time rendered (offline) or received.

        Blocks until the child has worked through every message sent before.

        Raises
        ------
        SynthError
            If the child is dead, failed, or does not answer within ``timeout_s``.
        """
        if self._proc is None or self._conn is None:
            raise SynthError(f"{type(self).__name__}.ping() before start()")
        try:
            self._conn.send(("ping",))
            while True:
                if not self._conn.poll(timeout_s):
                    raise SynthError(f"synth process did not answer within {timeout_s} s")
                reply = self._conn.recv()
                if reply[0] == "ready":
                    self._ready = reply
                elif reply[0] == "pong":
                    return float(reply[1])
                elif reply[0] == "error":
                    raise SynthError(str(reply[1]).strip().splitlines()[-1])
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._proc.join(5.0)
            raise SynthError(self._death_message()) from None

    def send(self, t_end_s: float, params: MusicParams, notes: list[NoteEvent]) -> None:
        """Queue one tick: render (or play) up to ``t_end_s`` (session s) with ``notes``.

        Raises
        ------
        SynthError
            If the synth is not started or the child has died.
        """
        if self._proc is None or self._conn is None:
            raise SynthError(f"{type(self).__name__}.send() before start()")
        if not self._proc.is_alive():
            raise SynthError(self._death_message())
        try:
            self._conn.send(("tick", float(t_end_s), astuple(params), note_payload(notes)))
        except (BrokenPipeError, ConnectionResetError, EOFError) as exc:
            self._proc.join(5.0)  # collect the exit code for the message
            raise SynthError(self._death_message()) from exc
        self._last_t = float(t_end_s)

    def close(self, timeout_s: float = 120.0) -> RenderStats:
        """Finish, wait for the child and return statistics.

        Parameters
        ----------
        timeout_s : float, default 120.0
            Longest wait for the child to finish, in seconds.

        Raises
        ------
        SynthError
            If the child died (the message names the exit code or signal), reported
            an error, or did not finish within ``timeout_s``.
        """
        if self._proc is None or self._conn is None:
            raise SynthError(f"{type(self).__name__}.close() before start()")
        proc, conn = self._proc, self._conn
        reply: Any = None
        try:
            conn.send(("close",))
            deadline = time.perf_counter() + timeout_s
            while reply is None or reply[0] in ("ready", "pong"):
                if reply is not None and reply[0] == "ready":
                    self._ready = reply
                reply = None
                if conn.poll(0.05):
                    reply = conn.recv()
                elif not proc.is_alive():
                    if conn.poll(0.05):
                        reply = conn.recv()
                        continue
                    break
                elif time.perf_counter() > deadline:
                    proc.kill()
                    proc.join(5.0)
                    raise SynthError(f"synth process did not finish within {timeout_s} s")
        except (BrokenPipeError, ConnectionResetError, EOFError):
            reply = None
        proc.join(10.0)
        conn.close()
        self._conn = None
        if reply is None or reply[0] in ("ready", "pong"):
            raise SynthError(self._death_message())
        if reply[0] == "error":
            raise SynthError(f"synth process failed:\n{reply[1]}")
        if proc.exitcode not in (0, None):
            raise SynthError(self._death_message())
        _, dur, n_notes, digest, o0, s0, o1, s1 = reply
        return RenderStats(
            duration_s=float(dur),
            wall_s=time.perf_counter() - self._t0,
            path=self._out_path(),
            n_notes=int(n_notes),
            notes_digest=str(digest),
            n_objects_start=int(o0),
            n_objects_end=int(o1),
            n_streams_start=int(s0),
            n_streams_end=int(s1),
        )

    def kill(self) -> None:
        """SIGKILL the child (tests and supervisors); a no-op if it is not running."""
        if self._proc is not None and self._proc.is_alive():
            os.kill(self._proc.pid, signal.SIGKILL)
            self._proc.join(10.0)

    def discard(self) -> None:
        """Forget a dead child: close the pipe and reap the process."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            self._proc.join(5.0)

    @property
    def exitcode(self) -> int | None:
        """Exit code of the child (negative: killed by that signal), None while alive."""
        return None if self._proc is None else self._proc.exitcode

    def _out_path(self) -> Path:
        return Path(os.devnull)

    def _death_message(self) -> str:
        code = None if self._proc is None else self._proc.exitcode
        return f"synth process (pid {self.pid}) {_describe_exit(code)}"


class OfflineRenderer(_ChildSynth):
    """Render a session to a stereo WAV through pyo in a child process.

    The child runs pyo's manual server (buffer 240 samples) and is fed over a
    ``multiprocessing`` ``Pipe`` while the engine runs: each :meth:`send` makes it
    render up to ``t_end_s`` with the controls ramped toward the tick's parameters and
    each note triggered at the buffer containing its onset.

    Parameters
    ----------
    wav_path : Path
        Output WAV file (created or overwritten).
    sr : int, default 48000
        Sampling rate in Hz; must be a multiple of 960 so 240-sample buffers tile a
        0.25 s tick.
    ceiling_dbfs : float, default -1.0
        Sample peak ceiling in dBFS enforced by the limiter and final clip.
    bits : {16, 24}, default 16
        WAV sample format.
    start_s : float, default 0.0
        Session time of the WAV's first sample, in seconds (a multiple of 5 ms).
    breathing_hz : float, default 0.0
        Resonance-breathing swell rate in Hz (0.1 = 6 breaths/min; 0 = off).
    pacer : bool, default False
        Add the soft breathing-pacer tone (needs ``breathing_hz > 0``).
    pacer_pitch : int, default 62
        MIDI pitch of the pacer tone (D4, the default key's tonic).
    palette : str, default "piano"
        Instrument palette (:data:`attune.synthesis.instruments.PALETTES`).

    Notes
    -----
    Not thread-safe: call from the engine thread only. :meth:`send` returns once the
    message is in the pipe (it blocks only if the child falls ~64 kB of messages
    behind). pyo is imported only in the child. The child starts silent and fades in
    (master fade ramp 1 s), so a restarted child resumes with a fade-in.
    """

    _what = "renderer"

    def __init__(
        self,
        wav_path: Path,
        *,
        sr: int = 48000,
        ceiling_dbfs: float = -1.0,
        bits: Literal[16, 24] = 16,
        start_s: float = 0.0,
        breathing_hz: float = 0.0,
        pacer: bool = False,
        pacer_pitch: int = 62,
        palette: str = DEFAULT_PALETTE,
    ) -> None:
        if bits not in (16, 24):
            raise SynthError(f"bits must be 16 or 24, got {bits!r}")
        super().__init__(
            sr=sr,
            ceiling_dbfs=ceiling_dbfs,
            start_s=start_s,
            breathing_hz=breathing_hz,
            pacer=pacer,
            pacer_pitch=pacer_pitch,
            palette=palette,
        )
        self.wav_path = Path(wav_path)
        self.bits = int(bits)

    def _target_args(self) -> tuple[Any, tuple[Any, ...]]:
        self.wav_path.parent.mkdir(parents=True, exist_ok=True)
        return _child_main, (
            str(self.wav_path),
            self.sr,
            self.ceiling_dbfs,
            self.bits,
            self.start_s,
            self.graph_kw,
        )

    def _out_path(self) -> Path:
        return self.wav_path

    def _death_message(self) -> str:
        return super()._death_message() + f"; audio in {self.wav_path} is incomplete"


class LiveSynth(_ChildSynth):
    """Play a session live through pyo's portaudio server, in a child process.

    Parameters
    ----------
    device : int or str or None
        Output device: portaudio index, (part of) its name, or None for the default.
        ``attune devices`` lists them.
    sr, ceiling_dbfs, start_s, breathing_hz, pacer, pacer_pitch, palette
        As for :class:`OfflineRenderer`.
    lookahead_s : float, default 0.25
        Latency added so the notes of a tick (composed up to one tick ahead) play at
        their onsets: session time ``t_end - lookahead_s`` of the first tick maps to
        the moment it arrives.

    Notes
    -----
    :meth:`start` waits until the device is open and raises :class:`SynthError` with a
    one-line message if it cannot be (no device, no match, device busy). :meth:`close`
    fades out over 1 s before stopping the stream.
    """

    _what = "live synth"

    def __init__(
        self,
        device: int | str | None = None,
        *,
        sr: int = 48000,
        ceiling_dbfs: float = -1.0,
        start_s: float = 0.0,
        breathing_hz: float = 0.0,
        pacer: bool = False,
        pacer_pitch: int = 62,
        lookahead_s: float = 0.25,
        palette: str = DEFAULT_PALETTE,
    ) -> None:
        super().__init__(
            sr=sr,
            ceiling_dbfs=ceiling_dbfs,
            start_s=start_s,
            breathing_hz=breathing_hz,
            pacer=pacer,
            pacer_pitch=pacer_pitch,
            palette=palette,
        )
        self.device = device
        self.lookahead_s = float(lookahead_s)

    def _target_args(self) -> tuple[Any, tuple[Any, ...]]:
        return _child_live, (
            self.device,
            self.sr,
            self.ceiling_dbfs,
            self.start_s,
            self.graph_kw,
            self.lookahead_s,
        )

    def start(self) -> None:
        """Start the child and wait until the audio device is open.

        Raises
        ------
        SynthError
            One line naming the problem (e.g. ``no audio output device found``).
        """
        super().start()
        try:
            self.wait_ready()
        except SynthError:
            self.discard()
            raise


class SilentBackend:
    """Same API as :class:`OfflineRenderer`, renders nothing (for benchmarks)."""

    def __init__(self, *, start_s: float = 0.0) -> None:
        self.start_s = float(start_s)
        self._last_t = self.start_s
        self._t0 = 0.0

    def start(self) -> None:
        """Start the wall clock."""
        self._t0 = time.perf_counter()

    def send(self, t_end_s: float, params: MusicParams, notes: list[NoteEvent]) -> None:
        """Accept one tick and discard it."""
        self._last_t = float(t_end_s)

    def close(self) -> RenderStats:
        """Return statistics; ``path`` is ``os.devnull``."""
        return RenderStats(
            duration_s=self._last_t - self.start_s,
            wall_s=time.perf_counter() - self._t0,
            path=Path(os.devnull),
        )
