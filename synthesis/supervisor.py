"""Crash isolation: a synth backend that restarts its pyo child when it dies.

pyo 1.1.0 can crash in native code (e.g. a NaN read by a table lookup). The synth therefore
runs in a child process (:class:`~attune.synthesis.synth.OfflineRenderer` or
:class:`~attune.synthesis.synth.LiveSynth`), and :class:`SupervisedSynth` stands between it and
the engine with the same ``start`` / ``send`` / ``close`` API:

- on every :meth:`SupervisedSynth.send` it checks that the child lives (and catches the
  :class:`~attune.synthesis.synth.SynthError` of a broken pipe); a dead child is reported
  through ``on_event(t, text)`` (``"warning: synth process died (SIGKILL); restarting
  with fade-in"``) and replaced by a new child that continues the same session
  timeline from the start of the current tick. The new child starts silent and fades
  in (master fade ramp 1 s), so sound resumes within one tick plus ~1 s.
- it never raises into the engine for a crash: after ``max_restarts`` restarts it
  reports that it gives up and drops the audio (the session and its record go on).
- offline, each child writes its own segment (``session.wav``, then
  ``session.part2.wav``, ...). At :meth:`SupervisedSynth.close` the segments are joined
  into one WAV of the session's full duration: the time the synth was dead is filled
  with silence so audio time stays aligned with the record, and the cut at a crash is
  smoothed with a 20 ms raised-cosine fade-out so the file has no click there. The
  segment files are then deleted.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from attune.synthesis.composer import NoteEvent
from attune.synthesis.instruments import DEFAULT_PALETTE
from attune.synthesis.params import MusicParams
from attune.synthesis.synth import LiveSynth, OfflineRenderer, RenderStats, SynthError

#: Length of the fade-out applied where a crashed segment's audio stops, seconds.
CRASH_FADE_S: float = 0.02


def _death_reason(code: int | None) -> str:
    """Short reason for an exit code: ``SIGKILL``, ``exit code 1``, ``unknown``."""
    import signal

    if code is None:
        return "unknown"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def read_wav_frames(path: Path) -> tuple[np.ndarray, int, int]:
    """Read the PCM frames of a WAV, tolerating a header left unfinished by a crash.

    A child killed mid-render leaves the RIFF and data sizes unwritten (0) or stale;
    the frames are then everything after the data chunk header, cut to whole frames.

    Parameters
    ----------
    path : Path
        WAV file with integer PCM samples (16 or 24 bit).

    Returns
    -------
    raw : ndarray, shape (n_frames, n_channels * sample_width), uint8
        The frames as raw little-endian bytes.
    n_channels : int
        Channel count.
    sample_width : int
        Bytes per sample (2 or 3).
    """
    data = Path(path).read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return np.empty((0, 4), np.uint8), 2, 2
    pos, nch, width, off, size = 12, 2, 2, None, 0
    while pos + 8 <= len(data):
        cid, csize = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if cid == b"fmt ":
            nch = int.from_bytes(data[pos + 10 : pos + 12], "little")
            width = int.from_bytes(data[pos + 22 : pos + 24], "little") // 8
        if cid == b"data":
            off, size = pos + 8, csize
            break
        pos += 8 + csize + (csize & 1)
    if off is None:
        return np.empty((0, nch * width), np.uint8), nch, width
    avail = len(data) - off
    n = size if 0 < size <= avail else avail
    frame = nch * width
    n -= n % frame
    raw = np.frombuffer(data, dtype=np.uint8, count=n, offset=off).reshape(-1, frame)
    return raw, nch, width


def _fade_tail(raw: np.ndarray, width: int, nch: int, n_fade: int) -> np.ndarray:
    """Apply a raised-cosine fade-out to the last ``n_fade`` frames of raw PCM."""
    n_fade = min(n_fade, raw.shape[0])
    if n_fade <= 0:
        return raw
    tail = raw[-n_fade:].reshape(n_fade, nch, width)
    if width == 2:
        x = tail.copy().view("<i2")[..., 0].astype(np.float64)
    else:  # 24-bit: sign-extend three bytes
        b = tail.astype(np.int32)
        x = (b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)).astype(np.float64)
        x[x >= 2**23] -= 2**24
    g = 0.5 + 0.5 * np.cos(np.pi * (np.arange(n_fade) + 1) / n_fade)
    y = np.round(x * g[:, None]).astype(np.int32)
    if width == 2:
        out = y.astype("<i2").view(np.uint8).reshape(n_fade, nch * 2)
    else:
        yb = (y & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(n_fade, nch, 4)[..., :3]
        out = yb.reshape(n_fade, nch * 3)
    res = raw.copy()
    res[-n_fade:] = out
    return res


def join_segments(
    out_path: Path,
    segments: list[tuple[float, Path, bool]],
    *,
    start_s: float,
    end_s: float,
    sr: int,
) -> float:
    """Join WAV segments into one file covering ``[start_s, end_s)`` of session time.

    Parameters
    ----------
    out_path : Path
        Output WAV (16 or 24 bit PCM, as the segments).
    segments : list of (seg_start_s, path, crashed)
        Segments in time order: session time of each segment's first sample, its file,
        and whether its child crashed (its end then gets a 20 ms fade-out).
    start_s, end_s : float
        Session time span of the output, seconds.
    sr : int
        Sampling rate in Hz.

    Returns
    -------
    float
        Seconds of silence inserted for the time the synth was dead.
    """
    total = int(round((end_s - start_s) * sr))
    bounds = [int(round((s - start_s) * sr)) for s, _, _ in segments] + [total]
    parts = [read_wav_frames(p) for _, p, _ in segments]
    nch, width = parts[0][1], parts[0][2]
    frame = nch * width
    silence = 0
    tmp = out_path.with_name(out_path.name + ".joining")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(nch)
        w.setsampwidth(width)
        w.setframerate(sr)
        for k, (raw, _, _) in enumerate(parts):
            need = max(0, bounds[k + 1] - bounds[k])
            have = raw[:need]
            if segments[k][2] or have.shape[0] < need:
                have = _fade_tail(have, width, nch, int(round(CRASH_FADE_S * sr)))
            w.writeframes(have.tobytes())
            gap = need - have.shape[0]
            if gap > 0:
                silence += gap
                w.writeframes(bytes(gap * frame))
    os.replace(tmp, out_path)
    return silence / sr


class SupervisedSynth:
    """Synth backend with crash isolation and restart; same API as the renderers.

    Parameters
    ----------
    wav_path : Path or None
        Output WAV (offline). Required for ``audio="offline"``.
    audio : {"offline", "portaudio"}, default "offline"
        Render to a file through the manual server, or play live through portaudio.
    device : int or str or None
        Live output device (index or name); ignored offline.
    sr, ceiling_dbfs, bits, start_s, breathing_hz, pacer, pacer_pitch, palette
        Passed to every child (see :class:`~attune.synthesis.synth.OfflineRenderer`).
    on_event : callable, optional
        Called as ``on_event(t_s, text)`` for a death, restart or giving up (e.g. the
        session record's ``event``).
    max_restarts : int, default 5
        Restarts allowed per session; after that the audio is dropped (with an event).

    Attributes
    ----------
    n_restarts : int
        Restarts so far.
    silence_s : float
        Silence inserted into the joined WAV for dead time (after :meth:`close`).

    Notes
    -----
    Not thread-safe: call from the engine thread. :meth:`start` raises
    :class:`~attune.synthesis.synth.SynthError` if the first child cannot start (e.g. no audio
    device); :meth:`send` and :meth:`close` never raise for a crashed child.
    """

    def __init__(
        self,
        wav_path: Path | None = None,
        *,
        audio: Literal["offline", "portaudio"] = "offline",
        device: int | str | None = None,
        sr: int = 48000,
        ceiling_dbfs: float = -1.0,
        bits: Literal[16, 24] = 16,
        start_s: float = 0.0,
        breathing_hz: float = 0.0,
        pacer: bool = False,
        pacer_pitch: int = 62,
        palette: str = DEFAULT_PALETTE,
        on_event: Callable[[float, str], None] | None = None,
        max_restarts: int = 5,
    ) -> None:
        if audio not in ("offline", "portaudio"):
            raise SynthError(f"audio must be 'offline' or 'portaudio', got {audio!r}")
        if audio == "offline" and wav_path is None:
            raise SynthError("wav_path is required for audio='offline'")
        self.wav_path = None if wav_path is None else Path(wav_path)
        self.audio = audio
        self.device = device
        self.start_s = float(start_s)
        self.sr = int(sr)
        self._kw: dict[str, Any] = {
            "sr": sr,
            "ceiling_dbfs": ceiling_dbfs,
            "breathing_hz": breathing_hz,
            "pacer": pacer,
            "pacer_pitch": pacer_pitch,
            "palette": palette,
        }
        self.bits = bits
        self.on_event = on_event
        self.max_restarts = int(max_restarts)
        self.n_restarts = 0
        self.silence_s = 0.0
        self._child: OfflineRenderer | LiveSynth | None = None
        self._segments: list[tuple[float, Path, bool]] = []
        self._last_t = self.start_s
        self._gave_up = False
        self._stats: list[RenderStats] = []
        self._t0 = 0.0
        # Validate the arguments now (one-line SynthError), like the renderers do.
        self._make_child(self.start_s, self.wav_path or Path(os.devnull), dry=True)

    # ------------------------------------------------------------------ children
    def _make_child(self, start_s: float, path: Path, *, dry: bool = False):
        if self.audio == "offline":
            return OfflineRenderer(path, bits=self.bits, start_s=start_s, **self._kw)
        return LiveSynth(self.device, start_s=start_s, **self._kw)

    def _segment_path(self, k: int) -> Path:
        assert self.wav_path is not None
        return self.wav_path.with_name(f"{self.wav_path.stem}.part{k}{self.wav_path.suffix}")

    def _spawn(self, start_s: float) -> None:
        if self.audio == "offline":
            k = len(self._segments) + 1
            path = self.wav_path if k == 1 else self._segment_path(k)
            assert path is not None
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            self._segments.append((start_s, path, False))
        else:
            path = Path(os.devnull)
        child = self._make_child(start_s, path)
        child.start()
        self._child = child

    @property
    def pid(self) -> int | None:
        """Process id of the current synth child (None if none)."""
        return None if self._child is None else self._child.pid

    def output_rms_dbfs(self) -> float | None:
        """RMS of the current child's output over the last ~0.1 s, dBFS (None if none)."""
        return None if self._child is None else self._child.output_rms_dbfs()

    @property
    def child(self) -> OfflineRenderer | LiveSynth | None:
        """The current child backend (for tests and health displays)."""
        return self._child

    def _event(self, t: float, text: str) -> None:
        if self.on_event is not None:
            self.on_event(float(t), text)

    def _mark_crashed(self) -> None:
        if self._segments:
            s, p, _ = self._segments[-1]
            self._segments[-1] = (s, p, True)

    def _handle_death(self, t: float) -> None:
        """Report a dead child and start a new one at session time ``t``."""
        child = self._child
        reason = _death_reason(None if child is None else child.exitcode)
        if child is not None:
            child.discard()
        self._mark_crashed()
        self._child = None
        if self.n_restarts >= self.max_restarts:
            self._gave_up = True
            self._event(
                t,
                f"error: synth process died ({reason}) after {self.n_restarts} restarts; "
                "continuing without sound",
            )
            return
        self.n_restarts += 1
        self._event(t, f"warning: synth process died ({reason}); restarting with fade-in")
        try:
            self._spawn(t)
        except SynthError as exc:  # e.g. the live device vanished: try again next tick
            self._child = None
            self._event(t, f"warning: synth restart failed: {str(exc).splitlines()[0]}")

    # ------------------------------------------------------------------ public API
    def start(self) -> None:
        """Start the first synth child.

        Raises
        ------
        SynthError
            If it cannot start (live: no such audio device), with a one-line message.
        """
        import time

        self._t0 = time.perf_counter()
        self._spawn(self.start_s)

    def send(self, t_end_s: float, params: MusicParams, notes: list[NoteEvent]) -> None:
        """Forward one tick to the child, restarting it first if it died.

        Never raises for a crashed child; the tick's audio is lost only if the new
        child cannot start.
        """
        t_from = self._last_t
        self._last_t = float(t_end_s)
        if self._gave_up:
            return
        if self._child is None or not self._child.is_alive():
            self._handle_death(t_from)
            if self._child is None:
                return
        try:
            self._child.send(t_end_s, params, notes)
        except SynthError:
            self._handle_death(t_from)
            if self._child is not None:
                try:
                    self._child.send(t_end_s, params, notes)
                except SynthError:
                    pass  # noticed on the next tick

    def kill_child(self) -> None:
        """SIGKILL the current child (fault injection for tests and drills)."""
        if self._child is not None:
            self._child.kill()

    def close(self) -> RenderStats:
        """Finish the current child, join the WAV segments and return statistics.

        Returns
        -------
        RenderStats
            ``duration_s`` covers the whole session; ``n_notes`` sums the children's
            notes; the object counts are those of the last child.
        """
        import time

        last: RenderStats | None = None
        if self._child is not None:
            try:
                last = self._child.close()
            except SynthError as exc:
                self._mark_crashed()
                reason = _death_reason(self._child.exitcode)
                self._event(
                    self._last_t,
                    f"warning: synth process died ({reason}) before the end; "
                    f"audio after it is silent ({str(exc).splitlines()[0]})",
                )
            self._child = None
        if last is not None:
            self._stats.append(last)
        if self.audio == "offline" and self.wav_path is not None:
            needs_join = len(self._segments) > 1 or any(c for _, _, c in self._segments)
            if needs_join:
                first = self._segments[0]
                moved = self._segment_path(1)
                os.replace(first[1], moved)
                segs = [(first[0], moved, first[2]), *self._segments[1:]]
                self.silence_s = join_segments(
                    self.wav_path, segs, start_s=self.start_s, end_s=self._last_t, sr=self.sr
                )
                for _, p, _ in segs:
                    p.unlink(missing_ok=True)
        path = self.wav_path if self.audio == "offline" else Path(os.devnull)
        assert path is not None
        return RenderStats(
            duration_s=self._last_t - self.start_s,
            wall_s=time.perf_counter() - self._t0,
            path=path,
            n_notes=sum(s.n_notes for s in self._stats),
            notes_digest=last.notes_digest if (last is not None and self.n_restarts == 0) else "",
            n_objects_start=-1 if last is None else last.n_objects_start,
            n_objects_end=-1 if last is None else last.n_objects_end,
            n_streams_start=-1 if last is None else last.n_streams_start,
            n_streams_end=-1 if last is None else last.n_streams_end,
        )
