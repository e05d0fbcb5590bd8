"""The level check before the music starts: a short calm clip at the session's starting loudness.

The clip (calm music at the loudness the session will start at) is composed once and
sent to two synths with the same notes and parameters: the offline renderer, whose
samples are measured (RMS and peak in dBFS, loudness in LUFS), and, when the session
names an ``audio.device``, the live synth on that device, so the therapist hears what
was measured. Without a device the measured clip is only rendered (and the reply says so).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from attune.sessions.config import SessionConfig

#: Length of the clip, seconds (the first second is the synth's fade-in, not measured).
CLIP_S = 3.0
#: Calm music: arousal and valence of the clip.
CALM = (-0.5, 0.3)


def level_check(cfg: SessionConfig, *, seconds: float = CLIP_S) -> dict[str, Any]:
    """Render (and, with a device, play) the calm clip; return its measured level.

    Returns
    -------
    dict
        ``rms_dbfs``, ``peak_dbfs``, ``lufs`` (measured after the 1 s fade-in),
        ``set_loudness_db`` (the session's starting loudness, LUFS), ``device`` (the
        configured output or None) and ``played`` (True when sent to the device).
    """
    from attune.sessions.build import _audio_device, starting_params
    from attune.sessions.console.meter import level_of, pcm_to_float
    from attune.synthesis.composer import Composer
    from attune.synthesis.params import params_for
    from attune.synthesis.supervisor import read_wav_frames
    from attune.synthesis.synth import LiveSynth, OfflineRenderer

    loud = starting_params(cfg).loudness_db
    params = params_for(*CALM).with_(loudness_db=loud, fade=1.0)
    composer = Composer(seed=cfg.seed)
    tick = cfg.tick_s
    n = int(round(seconds / tick))
    blocks = [(k * tick + tick, composer.advance(params, k * tick + tick)) for k in range(n)]
    played = False
    with tempfile.TemporaryDirectory(prefix="attune-level-") as tmp:
        wav = Path(tmp) / "clip.wav"
        pal = cfg.audio.palette
        synths: list[Any] = [OfflineRenderer(wav, sr=cfg.sample_rate_hz, palette=pal)]
        if cfg.audio.device is not None:
            synths.append(LiveSynth(_audio_device(cfg), sr=cfg.sample_rate_hz, palette=pal))
        started: list[Any] = []
        try:
            for s in synths:
                s.start()
                started.append(s)
            for t_end, notes in blocks:
                for s in synths:
                    s.send(t_end, params, notes)
                if len(synths) > 1:  # the device plays in real time: pace the blocks
                    time.sleep(tick)
            played = len(synths) > 1
        finally:
            for s in started:
                s.close()
        raw, nch, width = read_wav_frames(wav)
        x = pcm_to_float(raw.tobytes(), nch, width)
    sr = cfg.sample_rate_hz
    measured = x[int(1.0 * sr) :] if x.shape[0] > 2 * sr else x
    out = level_of(np.asarray(measured), sr)
    out.update(
        {
            "set_loudness_db": loud,
            "device": None if cfg.audio.device is None else str(cfg.audio.device),
            "played": played,
        }
    )
    return out
