"""``attune bench``: the benchmark suite."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "bench"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``bench`` to ``sub``."""
    bn = sub.add_parser(
        NAME,
        help="run the benchmark suite (per-tick cost vs naive, LSL latency, replay, render)",
        description="Measure, in one run on this machine: whole-engine per-tick cost for three "
        "EEG/ECG configurations beside the naive full-window recomputation (neurokit2, "
        "scipy.signal.welch), LSL loopback sample-to-synth latency, replay throughput, "
        "offline render speed, `attune --help` start-up and peak memory. Writes bench.json "
        "and bench.md and prints the table.",
    )
    size = bn.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="reduced sizes (under 2 minutes)")
    size.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes (seconds): checks that every stage runs; the figures mean nothing",
    )
    bn.add_argument(
        "--out", type=Path, default=Path("bench-results"), help="output directory (bench-results)"
    )
    return bn


def run(args: argparse.Namespace) -> int:
    """Run the benchmark suite; write JSON and Markdown, print the table."""
    from attune.benchmarks.suite import SMOKE, run_and_report

    return run_and_report(quick=args.quick, out=args.out, params=SMOKE if args.smoke else None)
