"""``attune evaluate``: closed loop vs a scripted ramp, frozen calm music and an oracle loop."""

from __future__ import annotations

import argparse
from pathlib import Path

from attune.sessions.commands._common import SEED, CliError, cli_number

NAME = "evaluate"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``evaluate`` to ``sub``."""
    ev = sub.add_parser(
        NAME,
        help="closed loop vs scripted ramp, frozen calm music and a perfect-sensor loop on "
        "simulated listeners",
        description="Run simulated listeners of known response classes (strong, moderate and "
        "weak responders, non-responders, paradoxical) under four conditions on the same "
        "seeds: the closed loop, a scripted feed-forward ramp without feedback, the "
        "frozen calm preset, and the closed loop fed the listener's true state (oracle: "
        "what a perfect sensor would give). Print per class: success (mean true arousal "
        "over the last 60 s within 0.2 of the goal), median time to target, end error, "
        "overshoot; the alarms raised (true and false); the estimator's correlation with "
        "the truth; envelope violations on every tick. Exit status 1 if any tick broke "
        "the envelope.",
    )
    ev.add_argument(
        "--split",
        choices=("tuning", "heldout"),
        default="heldout",
        help="listener seed space: tune on 'tuning', report on 'heldout' (default)",
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
        help="worker processes (default: all CPUs)",
    )
    ev.add_argument(
        "--goal-delta",
        type=cli_number(lo=-2, hi=2),
        default=-0.5,
        help="goal relative to the start (-0.5)",
    )
    ev.add_argument("--json", type=Path, help="also write the full report as JSON")
    ev.add_argument("--markdown", type=Path, help="also write the tables as markdown")
    return ev


def run(args: argparse.Namespace) -> int:
    """Run the population evaluation and print the per-class tables."""
    import sys

    from tqdm import tqdm

    from attune.sessions.evaluate import EvalProtocol, evaluate

    if args.listeners < 1:
        raise CliError(f"--listeners must be >= 1, got {args.listeners}")
    if args.jobs is not None and args.jobs < 1:
        raise CliError(f"--jobs must be >= 1, got {args.jobs}")
    protocol = EvalProtocol(goal_delta=args.goal_delta)
    with tqdm(total=args.listeners, unit="listener", file=sys.stderr, mininterval=0.5) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        report = evaluate(
            args.listeners,
            seed=args.seed,
            split=args.split,
            protocol=protocol,
            jobs=args.jobs,
            progress=progress,
        )
    text = report.format()
    print(text)
    if args.json is not None:
        args.json.write_text(report.to_json(), encoding="utf-8")
        print(f"report: {args.json}")
    if args.markdown is not None:
        args.markdown.write_text(text + "\n", encoding="utf-8")
        print(f"tables: {args.markdown}")
    return 1 if report.summary["violations"] else 0
