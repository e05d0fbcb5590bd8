"""``attune render-examples``: short WAVs across the arousal-valence plane."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "render-examples"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``render-examples`` to ``sub``."""
    r = sub.add_parser(
        NAME,
        help="render short example WAVs across the arousal-valence plane",
        description="Render one short WAV (and .mid) per quadrant of the arousal-valence "
        "plane: calm/aroused x positive/negative, for listening.",
    )
    r.add_argument("dir", metavar="DIR", type=Path, help="output directory")
    r.add_argument("--duration", type=float, default=20.0, help="seconds per example (20)")
    r.add_argument("--seed", type=int, default=1, help="composer seed (1)")
    r.add_argument(
        "--breathing-hz", type=float, default=0.0, help="resonance-breathing swells, Hz (0 = off)"
    )
    return r


def run(args: argparse.Namespace) -> int:
    """Render short WAVs across the arousal-valence plane."""
    from attune.synthesis.examples import render_examples
    from attune.synthesis.synth import SynthError

    try:
        done = render_examples(
            args.dir, duration_s=args.duration, seed=args.seed, breathing_hz=args.breathing_hz
        )
    except (SynthError, ValueError) as e:
        print(f"attune render-examples: {e}", file=sys.stderr)
        return 2
    for ex in done:
        p = ex.params
        print(
            f"{ex.name:17s} arousal {ex.arousal:+.1f} valence {ex.valence:+.1f}: "
            f"{p.tempo_bpm:.0f} BPM, {p.mode_name}, {p.loudness_db:.0f} dBFS -> {ex.wav}"
        )
    return 0
