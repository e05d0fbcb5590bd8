"""``attune render-examples``: a labelled 3 x 3 grid of examples over arousal and valence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attune.sessions.commands._common import SEED, cli_number

NAME = "render-examples"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``render-examples`` to ``sub``."""
    r = sub.add_parser(
        NAME,
        help="render a labelled 3 x 3 grid of examples over arousal and valence",
        description="Render one short WAV (and .mid) per cell of a 3 x 3 grid over the "
        "arousal-valence plane (calm/moderate/aroused x negative/neutral/positive) and one "
        "HTML page (index.html) with each example's spectrogram and piano roll.",
    )
    r.add_argument("dir", metavar="DIR", type=Path, help="output directory")
    r.add_argument(
        "--duration-s",
        "--duration",
        dest="duration",
        type=cli_number(lo=0, lo_open=True, hi=3600),
        default=20.0,
        metavar="S",
        help="seconds per example (20)",
    )
    r.add_argument("--seed", type=SEED, default=1, help="composer seed (1)")
    r.add_argument(
        "--breathing-hz",
        type=cli_number(lo=0, hi=1),
        default=0.0,
        help="resonance-breathing swells, Hz (0 = off)",
    )
    r.add_argument(
        "--palette", choices=("piano", "ambient"), default="piano", help="instruments (piano)"
    )
    return r


def run(args: argparse.Namespace) -> int:
    """Render the 3 x 3 grid of examples and its HTML page."""
    from attune.synthesis.examples import render_examples
    from attune.synthesis.synth import SynthError

    try:
        done = render_examples(
            args.dir,
            duration_s=args.duration,
            seed=args.seed,
            breathing_hz=args.breathing_hz,
            palette_name=args.palette,
        )
    except (SynthError, ValueError) as e:
        print(f"attune render-examples: {e}", file=sys.stderr)
        return 2
    for ex in done:
        p = ex.params
        print(
            f"{ex.name:17s} arousal {ex.arousal:+.1f} valence {ex.valence:+.1f}: "
            f"{p.tempo_bpm:.0f} BPM, {p.mode_name}, {p.loudness_db:.0f} LUFS -> {ex.wav}"
        )
    print(f"page: {Path(args.dir) / 'index.html'}")
    return 0
