"""``attune evaluate``: closed loop vs open-loop calm music on simulated listeners."""

from __future__ import annotations

import argparse
from pathlib import Path

from attune.sessions.commands._common import SEED, CliError, cli_number

NAME = "evaluate"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``evaluate`` to ``sub``."""
    ev = sub.add_parser(
        NAME,
        help="closed loop vs open-loop calm music on a population of simulated listeners",
        description="Run simulated listeners (random gains, set points, time constants, noise "
        "and artifact rates) closed loop and with fixed calm music; report the fraction "
        "reaching the target band (|arousal - goal| < 0.2 held 60 s), the median time to it, "
        "overshoot and safety-envelope violations. Exit status 1 if any tick broke the "
        "envelope.",
    )
    ev.add_argument(
        "--listeners",
        type=cli_number(lo=1, hi=100_000, integer=True),
        default=50,
        help="population size (50)",
    )
    ev.add_argument("--seed", type=SEED, default=0, help="population seed (0)")
    ev.add_argument(
        "--jobs",
        type=cli_number(lo=1, hi=1024, integer=True),
        default=None,
        help="worker processes (default: up to 2)",
    )
    ev.add_argument(
        "--goal-delta",
        type=cli_number(lo=-2, hi=2),
        default=-0.5,
        help="goal relative to the start (-0.5)",
    )
    ev.add_argument("--json", type=Path, help="also write the full report as JSON")
    return ev


def run(args: argparse.Namespace) -> int:
    """Run the population evaluation: closed loop against open-loop calm music."""
    from attune.sessions.evaluate import EvalProtocol, evaluate

    if args.listeners < 1:
        raise CliError(f"--listeners must be >= 1, got {args.listeners}")
    protocol = EvalProtocol(goal_delta=args.goal_delta)
    report = evaluate(args.listeners, seed=args.seed, protocol=protocol, jobs=args.jobs)
    print(report.format())
    if args.json is not None:
        args.json.write_text(report.to_json(), encoding="utf-8")
        print(f"report: {args.json}")
    bad = report.summary["closed"]["violations"] + report.summary["open"]["violations"]
    return 1 if bad else 0
