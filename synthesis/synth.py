"""The pyo synthesizer, run in its own process (offline or live), and a silent stand-in.

pyo 1.1.0 can crash in native code (docs/architecture.md, "Known hazards"), so the parent never
imports pyo: :class:`OfflineRenderer` starts a child process (``multiprocessing``
"spawn" context) that owns the pyo server, builds the graph once, and renders audio
with the manual server (``audio="manual"``, one ``Server.process()`` per 240-sample
buffer) while the engine feeds it one message per control tick over a ``Pipe``. A
native crash kills the child only; :meth:`OfflineRenderer.close` (and the next
:meth:`OfflineRenderer.send`) then raises :class:`SynthError`.

Graph (built once, before the server starts; nothing is created afterwards):

- 8 plucked voices (arp and melody): FM, ratio 1, 8 ms attack, exponential-like
  (squared linear) decay, modulation index following the envelope and ``brightness``;
- 8 pad voices: FM plus a detuned sine, 1.2 s attack, 1.5 s release, summed on a pad
  bus whose gain swells with the resonance-breathing LFO (``breathing_hz``, 0.1 Hz = one
  ~10 s swell; phase locked to session time so a restarted child continues the cycle);
- an optional breathing pacer: a soft sine on the tonic whose amplitude rises on the
  inhale half of each breathing cycle and falls on the exhale;
- 2 bass voices: soft FM, 20 ms attack;
- a lowpass (``ButLP``) whose cutoff follows ``brightness`` (``SigTo``, 0.5 s ramp),
  ``Freeverb``, a master gain from ``loudness_db`` (``SigTo``, 0.25 s ramp, i.e. at
  most ~3 dB per 0.25 s tick step) times ``fade`` (``SigTo``, 1 s ramp), ``Compress``
  (threshold 4 dB under the ceiling, ratio 10) and a final ``Clip`` at the ceiling
  amplitude so no sample exceeds ``ceiling_dbfs``.

Voices are allocated oldest-first (round robin) by setting ``Sig`` values and calling
``Adsr.play()``.

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
from attune.synthesis.params import MusicParams

#: Samples per pyo buffer; 240 divides a 0.25 s control tick at 48 kHz (12000 samples).
BUFFER_SIZE: int = 240
#: RMS level in dBFS of the mix at unity master gain for typical parameters; the master
#: gain is ``10 ** ((loudness_db - MIX_REF_DBFS + level_trim_db(p)) / 20)`` so the RMS
#: follows ``loudness_db`` (within about 2 dB, measured).
MIX_REF_DBFS: float = -12.5

_VOICE_CODE = {"bass": 0, "pad": 1, "melody": 2, "arp": 3}
#: Depth of the resonance-breathing pad swell (pad gain from 1 - depth to 1).
BREATH_DEPTH: float = 0.7
#: Peak amplitude of the breathing-pacer tone at unity master gain.
PACER_AMP: float = 0.06
_N_PLUCK = 8
_N_PAD = 8
_N_BASS = 2


def level_trim_db(p: MusicParams) -> float:
    """Gain trim in dB that keeps the mix RMS near ``p.loudness_db``.

    The lowpass of a dark timbre and a sparse texture lower the RMS of the unity-gain
    mix; this trim (measured on 20 s renders, two seeds each) compensates, so that
    ``loudness_db`` stays the program level whatever the other parameters.
    """
    b, d = float(p.brightness), float(p.density)
    trim = 11.5 * (0.5 - b) if b < 0.5 else -2.5 * (b - 0.5)
    return trim - 3.3 * (d - 0.5)


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
        Rate of the pad swells in Hz (0 disables them).
    pacer : bool
        Add the breathing-pacer tone (only with ``breathing_hz > 0``).
    pacer_pitch : int
        MIDI pitch of the pacer tone.
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
    ) -> None:
        self.pyo = pyo
        self.objs: list[Any] = []  # keep references: pyo objects must never be collected
        keep = self.objs.append
        self.bright = pyo.SigTo(0.5, time=0.5, init=0.5)
        self.cutoff = pyo.SigTo(3000.0, time=0.5, init=3000.0)
        self.pluck_index = pyo.SigTo(1.5, time=0.5, init=1.5)
        self.pad_index = pyo.SigTo(0.6, time=0.5, init=0.6)
        self.gain = pyo.SigTo(0.0, time=0.25, init=0.0)
        self.fade = pyo.SigTo(0.0, time=1.0, init=0.0)
        for o in (self.bright, self.cutoff, self.pluck_index, self.pad_index):
            keep(o)
        keep(self.gain)
        keep(self.fade)

        # Resonance breathing: breath01 = 0.5 - 0.5 cos(2 pi f t), t in session seconds
        # (0 at the start of an inhale, 1 at its top). Sine's phase 0.75 turns sin into
        # -cos; the start phase carries the session time across restarts.
        hz = max(0.0, float(breathing_hz))
        phase = (0.75 + (start_s * hz) % 1.0) % 1.0
        self.breath = pyo.Sine(freq=hz, phase=phase, mul=0.5, add=0.5)
        depth = BREATH_DEPTH if hz > 0.0 else 0.0
        self.pad_swell = self.breath * depth + (1.0 - depth)
        pacer_amp = PACER_AMP if (pacer and hz > 0.0) else 0.0
        self.pacer_env = self.breath * self.breath * pacer_amp
        self.pacer = pyo.Sine(freq=440.0 * 2.0 ** ((pacer_pitch - 69) / 12.0), mul=self.pacer_env)
        self.pacer_pan = pyo.Pan(self.pacer, outs=2, pan=0.5)
        for o in (self.breath, self.pad_swell, self.pacer_env, self.pacer, self.pacer_pan):
            keep(o)

        self.voices: dict[str, list[tuple[Any, Any, Any]]] = {"pluck": [], "pad": [], "bass": []}
        self.last_used: dict[str, list[int]] = {}
        outs: list[Any] = []
        pad_outs: list[Any] = []

        for i in range(_N_PLUCK):
            freq, amp = pyo.Sig(440.0), pyo.Sig(0.0)
            env = pyo.Adsr(attack=0.008, decay=1.0, sustain=0.0, release=0.08, dur=1.2)
            # Squared linear envelope: exponential-like decay. Not Adsr.setExp(): a
            # linear segment can overshoot below 0 and pow() of it gives NaN, which
            # crashes FM's table lookup (segfault in Fm_readframes_aia, measured).
            env2 = env * env
            idx = env2 * self.pluck_index
            osc = pyo.FM(carrier=freq, ratio=1.0, index=idx, mul=env2 * amp)
            pan = pyo.Pan(osc, outs=2, pan=0.3 + 0.4 * (i % 2))
            for o in (freq, amp, env, env2, idx, osc, pan):
                keep(o)
            self.voices["pluck"].append((freq, amp, env))
            outs.append(pan)

        for i in range(_N_PAD):
            freq, amp = pyo.Sig(220.0), pyo.Sig(0.0)
            env = pyo.Adsr(attack=1.2, decay=0.8, sustain=0.75, release=1.5, dur=4.0)
            envamp = env * amp
            osc = pyo.FM(carrier=freq, ratio=1.0, index=self.pad_index, mul=envamp)
            det = pyo.Sine(freq=freq * 1.004, mul=envamp * 0.6)
            mix = pyo.Pan(osc + det, outs=2, pan=0.2 + 0.6 * (i % 4) / 3.0)
            for o in (freq, amp, env, envamp, osc, det, mix):
                keep(o)
            self.voices["pad"].append((freq, amp, env))
            pad_outs.append(mix)
        self.pad_bus = pyo.Mix(pad_outs, voices=2, mul=self.pad_swell)
        keep(self.pad_bus)
        outs.append(self.pad_bus)

        for _ in range(_N_BASS):
            freq, amp = pyo.Sig(55.0), pyo.Sig(0.0)
            env = pyo.Adsr(attack=0.02, decay=0.6, sustain=0.5, release=0.4, dur=2.0)
            bidx = self.bright * 0.8 + 0.3
            osc = pyo.FM(carrier=freq, ratio=1.0, index=bidx, mul=env * amp)
            pan = pyo.Pan(osc, outs=2, pan=0.5)
            for o in (freq, amp, env, bidx, osc, pan):
                keep(o)
            self.voices["bass"].append((freq, amp, env))
            outs.append(pan)
        outs.append(self.pacer_pan)

        for k, v in self.voices.items():
            self.last_used[k] = [0] * len(v)
        self.counter = 0
        self.played: list[tuple[float, float, int, int, int]] = []

        self.dry = pyo.Mix(outs, voices=2)
        self.lp = pyo.ButLP(self.dry, freq=self.cutoff)
        self.verb = pyo.Freeverb(self.lp, size=0.85, damp=0.5, bal=0.3)
        self.master = pyo.Sig(self.verb, mul=self.gain * self.fade)
        thresh_db = 20.0 * math.log10(ceiling_amp) - 4.0
        self.comp = pyo.Compress(
            self.master,
            thresh=thresh_db,
            ratio=10.0,
            risetime=0.002,
            falltime=0.15,
            lookahead=5.0,
            knee=0.3,
        )
        self.clip = pyo.Clip(self.comp, min=-ceiling_amp, max=ceiling_amp)
        self.clip.out()
        for o in (self.dry, self.lp, self.verb, self.master, self.comp, self.clip):
            keep(o)

    def set_params(self, p: tuple[float, ...]) -> None:
        """Ramp every control toward the parameters ``p`` (``astuple(MusicParams)``)."""
        mp_ = MusicParams(*p)
        b = float(mp_.brightness)
        self.bright.value = b
        self.cutoff.value = float(600.0 * (12000.0 / 600.0) ** b)  # 600 Hz .. 12 kHz
        self.pluck_index.value = 0.4 + 3.0 * b
        self.pad_index.value = 0.1 + 1.2 * b
        self.gain.value = float(
            10.0 ** ((mp_.loudness_db - MIX_REF_DBFS + level_trim_db(mp_)) / 20.0)
        )
        self.fade.value = float(max(0.0, min(1.0, mp_.fade)))

    def silence(self) -> None:
        """Ramp the master fade to 0 (1 s)."""
        self.fade.value = 0.0

    def trigger(self, note: tuple[float, float, int, int, int]) -> None:
        """Start one wire-form note on the oldest voice of its pool."""
        self.played.append(note)
        _, dur_s, pitch, velocity, code = note
        pool = "bass" if code == 0 else "pad" if code == 1 else "pluck"
        used = self.last_used[pool]
        i = min(range(len(used)), key=used.__getitem__)
        self.counter += 1
        used[i] = self.counter
        freq, amp, env = self.voices[pool][i]
        freq.value = float(440.0 * 2.0 ** ((pitch - 69) / 12.0))
        v = (velocity / 127.0) ** 1.5
        if pool == "pluck":
            amp.value = 0.30 * v
            env.dur = max(0.3, min(3.0, 1.5 * dur_s + 0.3))
            env.decay = env.dur - 0.08 - 0.008
        elif pool == "pad":
            amp.value = 0.10 * v
            env.dur = max(2.8, dur_s + 1.5)
        else:
            amp.value = 0.45 * v
            env.dur = max(0.6, dur_s + 0.4)
        env.play()


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
) -> None:
    """Entry point of the offline synth process (spawn); see :class:`OfflineRenderer`."""
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
            for note in notes[k:]:  # onsets at the very end of the interval
                graph.trigger(note)
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
    ) -> None:
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
        }
        self._proc: Any = None
        self._conn: Any = None
        self._t0 = 0.0
        self._last_t = self.start_s
        self._ready: tuple[Any, ...] | None = None

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
        self._proc = ctx.Process(
            target=target, args=(child_conn, *args), name="attune-synth", daemon=True
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
        Resonance-breathing swell rate of the pad in Hz (0.1 = 6 breaths/min; 0 = off).
    pacer : bool, default False
        Add the soft breathing-pacer tone (needs ``breathing_hz > 0``).
    pacer_pitch : int, default 62
        MIDI pitch of the pacer tone (D4, the default key's tonic).

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
    sr, ceiling_dbfs, start_s, breathing_hz, pacer, pacer_pitch
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
    ) -> None:
        super().__init__(
            sr=sr,
            ceiling_dbfs=ceiling_dbfs,
            start_s=start_s,
            breathing_hz=breathing_hz,
            pacer=pacer,
            pacer_pitch=pacer_pitch,
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
