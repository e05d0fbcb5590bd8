"""A session's audio files: the WAV of a killed session repaired, a finished one compressed.

:func:`to_flac` compresses a finished WAV losslessly (live sessions keep FLAC, about half
the size).

libsndfile writes the RIFF and ``data`` chunk sizes of a WAV when the file is closed; a
synth process killed mid-render leaves them 0 or stale, and standard tools then read
no audio. :func:`repair_wav` rewrites the two sizes from the file's length (whole
frames only), in place; a file that is already consistent is left untouched.
"""

from __future__ import annotations

import os
from pathlib import Path


def repair_wav(path: Path) -> bool:
    """Fix the RIFF and ``data`` sizes of ``path`` to match its length; True if changed.

    Only the 8 header bytes holding the sizes are written; the samples are not touched.
    A file that is not a RIFF/WAVE file, has no ``data`` chunk, or is a symbolic link
    is left alone (False).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    with os.fdopen(fd, "r+b") as f:
        head = f.read(4096)
        length = os.fstat(f.fileno()).st_size
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False
        pos, frame, off = 12, 0, None
        while pos + 8 <= len(head):
            cid, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
            if cid == b"fmt " and pos + 24 <= len(head):
                frame = int.from_bytes(head[pos + 20 : pos + 22], "little")  # block align
            if cid == b"data":
                off = pos + 8
                break
            pos += 8 + size + (size & 1)
        if off is None or frame <= 0:
            return False
        n = length - off
        n -= n % frame
        n = min(n, 0xFFFFFFFF - off)
        riff = off - 8 + n
        want = (riff.to_bytes(4, "little"), n.to_bytes(4, "little"))
        if (head[4:8], head[off - 4 : off]) == want:
            return False
        f.seek(4)
        f.write(want[0])
        f.seek(off - 4)
        f.write(want[1])
    return True


def repair_session_audio(folder: Path) -> list[str]:
    """Repair every ``session*.wav`` of a session folder; return the names repaired."""
    return [p.name for p in sorted(Path(folder).glob("session*.wav")) if repair_wav(p)]


def to_flac(wav: Path) -> Path:
    """Compress ``wav`` losslessly to FLAC beside it (0600), then delete the WAV.

    Read and written in blocks of a second or so (memory stays small for hours of audio).
    Returns the FLAC's path.
    """
    import soundfile

    from attune.sessions.record import private_file

    flac = private_file(wav.with_suffix(".flac"))
    with soundfile.SoundFile(wav) as src:
        subtype = "PCM_24" if src.subtype == "PCM_24" else "PCM_16"
        with soundfile.SoundFile(
            flac,
            "w",
            samplerate=src.samplerate,
            channels=src.channels,
            format="FLAC",
            subtype=subtype,
        ) as dst:
            for block in src.blocks(blocksize=65_536, dtype="int32"):
                dst.write(block)
    wav.unlink()
    return flac
