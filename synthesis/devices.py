"""List audio output devices (portaudio, via pyo in a child process) and MIDI ports.

pyo is imported only in a short-lived child (``python -c``), so listing devices cannot
crash the caller and ``attune --help`` never loads pyo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from attune.synthesis.midi import list_midi_outputs

_LIST_CODE = (
    "import json, os; os.environ.setdefault('PYO_GUI_WX', '0'); import pyo; "
    "n, i = pyo.pa_get_output_devices(); d = pyo.pa_get_default_output(); "
    "print('@@' + json.dumps({'names': list(n), 'indexes': [int(k) for k in i], "
    "'default': int(d)}))"
)


def list_audio_outputs(timeout_s: float = 30.0) -> tuple[list[tuple[int, str]], int, str | None]:
    """Audio output devices as portaudio sees them.

    Parameters
    ----------
    timeout_s : float, default 30.0
        Longest wait for the listing child, seconds.

    Returns
    -------
    devices : list of (index, name)
        Output devices (empty if none).
    default : int
        Index of the default output device (-1 if none).
    problem : str or None
        One-line reason if the listing failed, else None.
    """
    env = dict(os.environ, PYO_GUI_WX="0")
    try:
        out = subprocess.run(
            [sys.executable, "-c", _LIST_CODE],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return [], -1, f"listing audio devices took longer than {timeout_s} s"
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("@@")]
    if out.returncode != 0 or not lines:
        err = (out.stderr.strip().splitlines() or ["unknown error"])[-1]
        return [], -1, f"cannot list audio devices: {err}"
    d = json.loads(lines[-1][2:])
    return list(zip(d["indexes"], d["names"], strict=True)), int(d["default"]), None


def describe_devices() -> str:
    """Human-readable listing of audio outputs and MIDI output ports (``attune devices``)."""
    devices, default, problem = list_audio_outputs()
    lines = ["Audio output devices (portaudio):"]
    if problem:
        lines.append(f"  ({problem})")
    elif not devices:
        lines.append("  (none found: live audio is unavailable; offline rendering still works)")
    for idx, name in devices:
        lines.append(f"  {idx:3d}  {name}{'  [default]' if idx == default else ''}")
    names, midi_problem = list_midi_outputs()
    lines.append("MIDI output ports:")
    if midi_problem:
        lines.append(f"  ({midi_problem}; .mid files are still written)")
    elif not names:
        lines.append("  (none found)")
    lines += [f"  {n}" for n in names]
    return "\n".join(lines)
