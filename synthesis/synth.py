"""The pyo synthesizer, run in its own process, and a silent stand-in.

pyo 1.1.0 can crash in native code (DESIGN.md, "Known hazards"), so the parent never
imports pyo: :class:`OfflineRenderer` starts a child process (``multiprocessing``
"spawn" context) that owns the pyo server, builds the graph once, and renders audio
with the manual server (``audio="manual"``, one ``Server.process()`` per 240-sample
buffer) while the engine feeds it one message per control tick over a ``Pipe``. A
native crash kills the child only; :meth:`OfflineRenderer.close` (and the next
:meth:`OfflineRenderer.send`) then raises :class:`SynthError`.

Graph (built once, before the server starts; nothing is created afterwards):

- 8 plucked voices (arp and melody): FM, ratio 1, 8 ms attack, exponential-like
  (squared linear) decay, modulation index following the envelope and ``brightness``;
- 8 pad voices: FM plus a detuned sine, 1.2 s attack, 1.5 s release;
- 2 bass voices: soft FM, 20 ms attack;
- a lowpass (``ButLP``) whose cutoff follows ``brightness`` (``SigTo``, 0.5 s ramp),
  ``Freeverb``, a master gain from ``loudness_db`` (``SigTo``, 0.25 s ramp, i.e. at
  most ~3 dB per 0.25 s tick step) times ``fade`` (``SigTo``, 1 s ramp), ``Compress``
  (threshold 4 dB under the ceiling, ratio 10) and a final ``Clip`` at the ceiling
  amplitude so no sample exceeds ``ceiling_dbfs``.

Voices are allocated oldest-first (round robin) by setting ``Sig`` values and calling
``Adsr.play()``.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import signal
import time
import traceback
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, Literal

from synthesis.composer import NoteEvent
from synthesis.params import MusicParams

#: Samples per pyo buffer; 240 divides a 0.25 s control tick at 48 kHz (12000 samples).
BUFFER_SIZE: int = 240
#: RMS level in dBFS of the mix at unity master gain for typical parameters; the master
#: gain is ``10 ** ((loudness_db - MIX_REF_DBFS + level_trim_db(p)) / 20)`` so the RMS
#: follows ``loudness_db`` (within about 2 dB, measured).
MIX_REF_DBFS: float = -12.5

_VOICE_CODE = {"bass": 0, "pad": 1, "melody": 2, "arp": 3}
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
    """

    duration_s: float
    wall_s: float
    path: Path


# ---------------------------------------------------------------------------- child
class _Graph:
    """The pyo graph; created once in the child before the server starts."""

    def __init__(self, pyo: Any, *, ceiling_amp: float) -> None:
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

        self.voices: dict[str, list[tuple[Any, Any, Any]]] = {"pluck": [], "pad": [], "bass": []}
        self.last_used: dict[str, list[int]] = {}
        outs: list[Any] = []

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
            outs.append(mix)

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

        for k, v in self.voices.items():
            self.last_used[k] = [0] * len(v)
        self.counter = 0

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

    def trigger(self, dur_s: float, pitch: int, velocity: int, code: int) -> None:
        """Start one note on the oldest voice of its pool."""
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


def _child_main(
    conn: Any, wav_path: str, sr: int, ceiling_dbfs: float, bits: int, start_s: float
) -> None:
    """Entry point of the synth process (spawn); see :class:`OfflineRenderer`."""
    os.environ.setdefault("PYO_GUI_WX", "0")
    try:
        import pyo

        s = pyo.Server(sr=sr, nchnls=2, duplex=0, audio="manual", buffersize=BUFFER_SIZE)
        s.setVerbosity(1)
        s.boot()
        s.recordOptions(dur=-1, filename=wav_path, fileformat=0, sampletype=0 if bits == 16 else 1)
        # 0.999: margin so integer quantization of the WAV cannot round above the ceiling
        graph = _Graph(pyo, ceiling_amp=0.999 * 10.0 ** (ceiling_dbfs / 20.0))
        s.start()
        s.recstart()
        n_done = 0  # buffers processed
        while True:
            msg = conn.recv()
            if msg[0] == "close":
                break
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
                    _, dur_s, pitch, vel, code = notes[k]
                    graph.trigger(dur_s, pitch, vel, code)
                    k += 1
                s.process()
                n_done += 1
            for note in notes[k:]:  # onsets at the very end of the interval
                graph.trigger(*note[1:])
        s.recstop()
        s.stop()
        s.shutdown()
        conn.send(("done", n_done * BUFFER_SIZE / sr))
    except BaseException:  # report and exit non-zero; the parent raises SynthError
        try:
            conn.send(("error", traceback.format_exc()))
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


class OfflineRenderer:
    """Render a session to a 48 kHz stereo WAV through pyo in a child process.

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
        Session time of the WAV's first sample, in seconds.

    Notes
    -----
    Not thread-safe: call from the engine thread only. :meth:`send` returns once the
    message is in the pipe (it blocks only if the child falls ~64 kB of messages
    behind). pyo is imported only in the child.
    """

    def __init__(
        self,
        wav_path: Path,
        *,
        sr: int = 48000,
        ceiling_dbfs: float = -1.0,
        bits: Literal[16, 24] = 16,
        start_s: float = 0.0,
    ) -> None:
        if sr % (4 * BUFFER_SIZE):
            raise SynthError(f"sr must be a multiple of {4 * BUFFER_SIZE} Hz, got {sr!r}")
        if bits not in (16, 24):
            raise SynthError(f"bits must be 16 or 24, got {bits!r}")
        if not -40.0 <= ceiling_dbfs <= 0.0:
            raise SynthError(f"ceiling_dbfs must be in [-40, 0] dBFS, got {ceiling_dbfs!r}")
        self.wav_path = Path(wav_path)
        self.sr = int(sr)
        self.ceiling_dbfs = float(ceiling_dbfs)
        self.bits = int(bits)
        self.start_s = float(start_s)
        self._proc: Any = None
        self._conn: Any = None
        self._t0 = 0.0
        self._last_t = self.start_s

    @property
    def pid(self) -> int | None:
        """Process id of the synth child, or None before :meth:`start`."""
        return None if self._proc is None else self._proc.pid

    def start(self) -> None:
        """Start the synth child process."""
        if self._proc is not None:
            raise SynthError("OfflineRenderer.start() called twice")
        self.wav_path.parent.mkdir(parents=True, exist_ok=True)
        ctx = mp.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(
            target=_child_main,
            args=(
                child_conn,
                str(self.wav_path),
                self.sr,
                self.ceiling_dbfs,
                self.bits,
                self.start_s,
            ),
            name="attune-synth",
            daemon=True,
        )
        self._t0 = time.perf_counter()
        self._proc.start()
        child_conn.close()
        self._conn = parent_conn

    def send(self, t_end_s: float, params: MusicParams, notes: list[NoteEvent]) -> None:
        """Queue one tick: render up to ``t_end_s`` (session seconds) with ``notes``.

        Raises
        ------
        SynthError
            If the renderer is not started or the child has died.
        """
        if self._proc is None or self._conn is None:
            raise SynthError("OfflineRenderer.send() before start()")
        if not self._proc.is_alive():
            raise SynthError(self._death_message())
        payload = [
            (n.t_s, n.dur_s, int(n.pitch), int(n.velocity), _VOICE_CODE[n.voice]) for n in notes
        ]
        try:
            self._conn.send(("tick", float(t_end_s), astuple(params), payload))
        except (BrokenPipeError, ConnectionResetError, EOFError) as exc:
            self._proc.join(5.0)  # collect the exit code for the message
            raise SynthError(self._death_message()) from exc
        self._last_t = float(t_end_s)

    def close(self, timeout_s: float = 120.0) -> RenderStats:
        """Finish the WAV, wait for the child and return render statistics.

        Parameters
        ----------
        timeout_s : float, default 120.0
            Longest wait for the child to finish rendering, in seconds.

        Raises
        ------
        SynthError
            If the child died (the message names the exit code or signal), reported
            an error, or did not finish within ``timeout_s``.
        """
        if self._proc is None or self._conn is None:
            raise SynthError("OfflineRenderer.close() before start()")
        proc, conn = self._proc, self._conn
        reply: Any = None
        try:
            conn.send(("close",))
            deadline = time.perf_counter() + timeout_s
            while reply is None:
                if conn.poll(0.05):
                    reply = conn.recv()
                elif not proc.is_alive():
                    if conn.poll(0.05):
                        reply = conn.recv()
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
        if reply is None:
            raise SynthError(self._death_message())
        if reply[0] == "error":
            raise SynthError(f"synth process failed:\n{reply[1]}")
        if proc.exitcode not in (0, None):
            raise SynthError(self._death_message())
        return RenderStats(
            duration_s=float(reply[1]), wall_s=time.perf_counter() - self._t0, path=self.wav_path
        )

    def _death_message(self) -> str:
        code = None if self._proc is None else self._proc.exitcode
        return (
            f"synth process (pid {self.pid}) {_describe_exit(code)}; "
            f"audio in {self.wav_path} is incomplete"
        )


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
