"""The ``attune`` command line.

Imports are lazy: ``attune --help`` loads neither the engine nor mne, neurokit2 or pyo.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _progress_bar(label: str):
    """Return a callback drawing progress on stderr: a bar on a terminal, else 10% lines."""
    last = [-1]
    tty = sys.stderr.isatty()
    step = 1 if tty else 10

    def draw(frac: float) -> None:
        pct = int(frac * 100) // step * step
        if pct == last[0]:
            return
        last[0] = pct
        if tty:
            filled = pct * 30 // 100
            sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {pct:3d}%")
            if pct >= 100:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(f"{label}: {pct}%\n")
        sys.stderr.flush()

    return draw


def _load(args: argparse.Namespace):
    from attune.sessions.config import SessionConfig, load_config

    cfg = load_config(args.config) if args.config else SessionConfig()
    changes: dict = {}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.out is not None:
        changes["output_dir"] = Path(args.out)
    if args.no_audio:
        changes["render_audio"] = False
    if args.no_control:
        changes["control"] = cfg.control.model_copy(update={"enabled": False})
    return cfg.model_copy(update=changes) if changes else cfg


def _fmt_summary(s) -> str:
    ttt = "not reached" if s.time_to_target_s is None else f"reached at {s.time_to_target_s:.0f} s"
    early = " (ended early: interrupted)" if getattr(s, "interrupted", False) else ""
    lines = [
        f"Session of {s.duration_s / 60:.1f} min on the simulated listener{early}",
        f"  arousal (true): start {s.start_arousal:+.2f} -> end {s.end_arousal:+.2f}"
        f"   (goal {s.goal_arousal:+.2f}; engine estimate at end {s.end_arousal_estimate:+.2f})",
        f"  target band |arousal - goal| < 0.2 held 60 s: {ttt}",
        f"  notes composed: {s.n_notes}",
        f"  wall time: {s.engine_wall_s:.1f} s"
        + (f"; audio rendered at {s.render_speed_x:.0f}x real time" if s.render_speed_x else ""),
        "  files:",
    ]
    lines += [f"    {k:8s} {v}" for k, v in s.files.items() if k != "folder"]
    lines.append(f"Session folder: {s.folder}")
    return "\n".join(lines)


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run a session on the simulated listener."""
    cfg = _load(args)
    from attune.sessions.simulated_run import run_simulation

    summary = run_simulation(
        cfg, progress=_progress_bar("simulating"), realtime=getattr(args, "realtime", False)
    )
    print(_fmt_summary(summary))
    _report(summary.folder, args)
    return 0


def _report(folder: Path, args: argparse.Namespace | None = None) -> None:
    """Write the session's HTML report and print its path (the last line of a run).

    Nothing is written when ``args.no_report`` is set.
    """
    if getattr(args, "no_report", False):
        return
    from attune.sessions.report import write_report

    print(f"Report: {write_report(folder)}")


def _session(args: argparse.Namespace) -> Path:
    """Return the session folder named by ``args.session`` (a folder, or an id under ``--dir``)."""
    from attune.sessions.store import resolve_session

    return resolve_session(args.session, args.dir)


def cmd_export(args: argparse.Namespace) -> int:
    """Write a table of a recorded session as CSV or JSON lines."""
    from attune.sessions.export import ExportError, export_table

    folder = _session(args)
    try:
        if args.out is None:
            export_table(folder, args.table, fmt=args.format)
        else:
            from attune.sessions.record import private_open

            with private_open(args.out) as f:
                n = export_table(folder, args.table, f, fmt=args.format)
            print(f"{n} rows of {args.table} written to {args.out}", file=sys.stderr)
    except ExportError as e:
        raise CliError(f"export: {e}") from None
    return 0


def cmd_sessions(args: argparse.Namespace) -> int:
    """List the sessions recorded under ``--dir``."""
    from attune.sessions.store import list_sessions

    found, problems = list_sessions(args.dir)
    if not found:
        print(f"no sessions in {args.dir}")
    else:
        head = ("id", "mode", "participant", "started (UTC)", "length", "ticks", "beats", "status")
        rows = [
            (
                s.folder.name,
                s.meta.get("mode") or "-",
                s.meta.get("participant") or "-",
                (s.meta.get("started_utc") or "-")[:19].replace("T", " "),
                f"{s.duration_s / 60:.1f} min",
                str(s.n_ticks),
                str(s.n_beats),
                s.meta["status"],
            )
            for s in found
        ]
        widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
        for r in (head, *rows):
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for line in problems:
        print(f"attune sessions: unreadable: {line}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML report of a recorded session."""
    _report(_session(args))
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    """Add an annotation to a session, running or finished."""
    from attune.sessions.store import annotate

    folder = _session(args)
    t = annotate(folder, " ".join(args.text), t_s=args.t_s, author=args.author)
    print(f"annotation filed at {t:.2f} s in {folder.name}")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    """List audio output devices and MIDI output ports."""
    from attune.synthesis.devices import describe_devices

    print(describe_devices())
    return 0


def cmd_render_examples(args: argparse.Namespace) -> int:
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


#: Tables ``attune export`` offers (kept here so ``--help`` needs no import).
EXPORT_CHOICES: tuple[str, ...] = ("ticks", "beats", "events", "annotations")
#: Where session folders are looked up by id (the default ``output_dir``).
SESSIONS_DIR = Path("attune-sessions")


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def cmd_streams(args: argparse.Namespace) -> int:
    """List the LSL streams on the network."""
    from attune.sensors.lsl_source import find_streams, format_streams_table

    rows = find_streams(kind=args.kind, name=args.name, wait_s=args.wait)
    print(format_streams_table(rows))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run a live session on the LSL streams named in the session file."""
    from attune.sensors.types import SensorError
    from attune.sessions.config import load_config

    cfg = load_config(args.config)
    if args.out is not None:
        cfg = cfg.model_copy(update={"output_dir": args.out})
    if args.no_audio:
        cfg = cfg.model_copy(update={"render_audio": False})
    from attune.sessions.live_run import run_live

    try:
        out = run_live(cfg, duration_s=args.duration_s, progress=_progress_bar("live"))
    except (SensorError, ValueError) as e:
        raise CliError(str(e)) from None
    state = "stopped early (faded out, store closed)" if out.interrupted else "ended"
    print(f"Live session {state} after {out.n_ticks * cfg.tick_s:.1f} s, {out.n_ticks} ticks")
    print(f"Session folder: {out.folder}")
    _report(out.folder, args)
    return 0


def _fmt_replay(s) -> str:
    hr = "-" if s.mean_hr_bpm is None else f"{s.mean_hr_bpm:.1f} bpm"
    lines = [f"Replayed {s.path}"]
    lines += [f"  stream   {d}" for d in s.streams]
    lines += [
        f"  {s.duration_s:.1f} s of signal in {s.wall_s:.1f} s ({s.speed_x:.0f}x real time),"
        f" {s.n_ticks} ticks",
        f"  beats {s.n_beats}, mean HR {hr}, markers {s.n_markers}",
        f"  arousal estimate: {s.arousal_start:+.2f} after baseline -> {s.arousal_end:+.2f} at end",
    ]
    lines += [f"  note     {w}" for w in s.warnings]
    if s.interrupted:
        lines.append("  interrupted: the record holds every tick up to the stop")
    lines += [f"    {k:8s} {v}" for k, v in s.files.items()]
    lines.append(f"Session folder: {s.folder}")
    return "\n".join(lines)


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a recording through the engine, or publish it over LSL."""
    from attune.sensors.readers import read_recording
    from attune.sensors.types import SensorError

    columns = [c for arg in args.column or [] for c in arg.split(",") if c]
    channels = [c for c in (args.channels or "").split(",") if c]
    try:
        rec = read_recording(
            args.file,
            fs=args.fs,
            kind=args.kind,
            columns=columns or None,
            time_column=args.time_column,
        )
        if args.lsl:
            return _publish(rec, args, channels)
        cfg = _load(args)
        if not args.audio:
            named = {} if args.config else {"name": "replay"}  # keep a session file's name
            cfg = cfg.model_copy(update={"render_audio": False, **named})
        from attune.sessions.replay_run import replay_recording

        summary = replay_recording(
            rec,
            cfg,
            names=args.stream or (),
            channels=channels,
            progress=_progress_bar("replaying"),
        )
    except (SensorError, ValueError) as e:
        raise CliError(str(e)) from None
    print(_fmt_replay(summary))
    _report(summary.folder, args)
    return 0


def _publish(rec, args: argparse.Namespace, channels: list[str]) -> int:
    """Publish the recording's streams as LSL outlets until it ends (or Ctrl-C)."""
    from attune.sensors.lsl_player import publish_streams
    from attune.sensors.readers import select_streams

    streams = (
        select_streams(rec, names=args.stream or (), channels=channels)
        if (args.stream or channels)
        else rec.streams
    )

    def ready() -> None:
        for st in streams:
            rate = "irregular" if st.info.fs == 0 else f"{st.info.fs * args.speed:g} Hz"
            print(
                f"publishing {st.info.name!r} ({st.info.kind}, {st.info.n_channels} ch, {rate},"
                f" source_id {st.info.source_id!r})",
                flush=True,
            )
        print(f"speed {args.speed:g}x" + (", looping" if args.loop else "") + "; Ctrl-C stops")

    try:
        n = publish_streams(streams, speed=args.speed, loop=args.loop, ready=ready)
    except KeyboardInterrupt:
        print("stopped")
        return 0
    print(f"published {n} samples")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
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


def cmd_control(args: argparse.Namespace) -> int:
    """Send a therapist command to a running session."""
    from attune.engine.controller import CommandError, parse_command
    from attune.sessions.therapist import TherapistError, send_command

    line = " ".join(args.words)
    try:
        parse_command(line)
        accepted = send_command(args.session, line, timeout_s=args.timeout)
    except (CommandError, TherapistError) as e:
        print(f"attune control: {e}", file=sys.stderr)
        return 2
    print(f"ok: {accepted}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark suite; write JSON and Markdown, print the table."""
    from attune.benchmarks.suite import run_and_report

    return run_and_report(quick=args.quick, out=args.out)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``attune``."""
    p = argparse.ArgumentParser(
        prog="attune",
        description="Attune: a real-time adaptive music therapy engine. Biosignals (HRV, EEG) "
        "in, affect-driven generative music out, within safety limits.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in (
        ("simulate", "run a closed-loop session on the simulated listener"),
        ("demo", "the default simulated session: 10 min, aroused listener led to calm"),
    ):
        s = sub.add_parser(name, help=help_text, description=help_text)
        s.add_argument("--config", type=Path, help="session file (TOML); default: the demo session")
        s.add_argument("--seed", type=int, help="override the session seed")
        s.add_argument("--out", type=Path, help="output directory for session folders")
        s.add_argument("--no-audio", action="store_true", help="skip audio rendering")
        s.add_argument("--no-report", action="store_true", help="do not write report.html")
        s.add_argument(
            "--realtime",
            action="store_true",
            help="pace the session on the wall clock like a live one (default: as fast as "
            "the CPU allows); plays to the session's [audio] device and [midi] port",
        )
        s.add_argument(
            "--no-control",
            action="store_true",
            help="freeze the music at its starting parameters (open loop)",
        )
        s.set_defaults(func=cmd_simulate)
    session_help = "session folder, or a session id listed by `attune sessions`"
    dir_help = f"where session ids are looked up ({SESSIONS_DIR})"
    e = sub.add_parser(
        "export",
        help="write a table of a recorded session as CSV",
        description="Write a table of a recorded session as CSV (or JSON lines). ticks: one "
        "row per tick; beats: time_s (seconds from the start of the recording), rr_ms, "
        "corrected (0/1); events: t_s, event; annotations: t_s, author, text, created_utc.",
    )
    e.add_argument("session", metavar="SESSION", help=session_help)
    e.add_argument(
        "table",
        metavar="TABLE",
        choices=EXPORT_CHOICES,
        help=f"one of: {', '.join(EXPORT_CHOICES)}",
    )
    e.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json")
    e.add_argument("--out", type=Path, help="output file, created 0600 (default: stdout)")
    e.add_argument("--dir", type=Path, default=SESSIONS_DIR, help=dir_help)
    e.set_defaults(func=cmd_export)
    ls = sub.add_parser(
        "sessions",
        help="list recorded sessions",
        description="List the sessions recorded under DIR: id, mode, pseudonym, start, length, "
        "ticks, beats and status (ended, interrupted, running, or crashed when its process "
        "is gone).",
    )
    ls.add_argument(
        "--dir", type=Path, default=SESSIONS_DIR, help=f"session directory ({SESSIONS_DIR})"
    )
    ls.set_defaults(func=cmd_sessions)
    rpt = sub.add_parser(
        "report",
        help="write the HTML report of a session",
        description="Write SESSION/report.html: a self-contained page with figures of the "
        "estimate against the target, heart, EEG, music, signal quality, events and a summary.",
    )
    rpt.add_argument("session", metavar="SESSION", help=session_help)
    rpt.add_argument("--dir", type=Path, default=SESSIONS_DIR, help=dir_help)
    rpt.set_defaults(func=cmd_report)
    an = sub.add_parser(
        "annotate",
        help="add a note to a session, running or finished",
        description="File a one-line annotation into the session's store; in a running session "
        "it is stamped with the newest tick's time unless --t-s says otherwise.",
    )
    an.add_argument("session", metavar="SESSION", help=session_help)
    an.add_argument("text", metavar="TEXT", nargs="+", help="the note (pseudonyms only)")
    an.add_argument("--t-s", type=float, help="session time of the note, seconds")
    an.add_argument("--author", default="", help="who wrote it (role or initials)")
    an.add_argument("--dir", type=Path, default=SESSIONS_DIR, help=dir_help)
    an.set_defaults(func=cmd_annotate)
    d = sub.add_parser(
        "devices",
        help="list audio output devices and MIDI output ports",
        description="List audio output devices (portaudio) and MIDI output ports; live "
        "audio takes a device by index or name.",
    )
    d.set_defaults(func=cmd_devices)
    r = sub.add_parser(
        "render-examples",
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
    r.set_defaults(func=cmd_render_examples)
    st = sub.add_parser(
        "streams",
        help="list the LSL streams on the network",
        description="List the Lab Streaming Layer streams visible on the network: name, type, "
        "Attune kind, channels, rate, format, source id, host.",
    )
    st.add_argument("--kind", choices=("eeg", "ecg", "ppg", "rr", "markers"), help="only this kind")
    st.add_argument("--name", help="only streams with this exact name")
    st.add_argument("--wait", type=float, default=1.0, help="seconds to listen (1.0)")
    st.set_defaults(func=cmd_streams)
    rn = sub.add_parser(
        "run",
        help="run a live session on LSL streams (wearables, amplifiers)",
        description="Run a live session: read the LSL streams named in the session file, "
        "pace the loop in real time, publish Attune's state, music and markers over LSL. "
        "Ctrl-C ends it gracefully.",
    )
    rn.add_argument("config", metavar="CONFIG", type=Path, help="session file (TOML)")
    rn.add_argument("--duration-s", type=float, help="stop after this many seconds")
    rn.add_argument("--out", type=Path, help="output directory for session folders")
    rn.add_argument("--no-audio", action="store_true", help="do not render the music to WAV")
    rn.add_argument("--no-report", action="store_true", help="do not write report.html")
    rn.set_defaults(func=cmd_run)
    rp = sub.add_parser(
        "replay",
        help="replay a recording (XDF, EDF, BDF, FIF, BrainVision, CSV, Polar) through the engine",
        description="Replay a recording through the whole engine on the virtual clock, as fast "
        "as the CPU allows (deterministic), or publish it as LSL outlets with --lsl.",
    )
    rp.add_argument("file", metavar="FILE", type=Path, help="the recording")
    rp.add_argument("--fs", type=float, help="sampling rate in Hz, for files that do not store it")
    rp.add_argument(
        "--kind", choices=("eeg", "ecg", "ppg", "rr", "markers"), help="kind of the chosen data"
    )
    rp.add_argument(
        "--column", action="append", help="column or channel to use (repeat or comma-separate)"
    )
    rp.add_argument("--time-column", help="name of the time column of a CSV")
    rp.add_argument("--stream", action="append", help="stream name to use (repeatable)")
    rp.add_argument("--channels", help="comma-separated channel labels to keep")
    rp.add_argument("--lsl", action="store_true", help="publish as LSL outlets in real time")
    rp.add_argument("--speed", type=float, default=1.0, help="with --lsl: speed factor (1.0)")
    rp.add_argument("--loop", action="store_true", help="with --lsl: start over at the end")
    rp.add_argument("--config", type=Path, help="session file (TOML) for the engine")
    rp.add_argument("--seed", type=int, help="override the session seed")
    rp.add_argument("--out", type=Path, help="output directory for session folders")
    rp.add_argument("--audio", action="store_true", help="also render the music to WAV")
    rp.add_argument("--no-report", action="store_true", help="do not write report.html")
    rp.set_defaults(func=cmd_replay, no_audio=False, no_control=False)
    ev = sub.add_parser(
        "evaluate",
        help="closed loop vs open-loop calm music on a population of simulated listeners",
        description="Run simulated listeners (random gains, set points, time constants, noise "
        "and artifact rates) closed loop and with fixed calm music; report the fraction "
        "reaching the target band (|arousal - goal| < 0.2 held 60 s), the median time to it, "
        "overshoot and safety-envelope violations. Exit status 1 if any tick broke the "
        "envelope.",
    )
    ev.add_argument("--listeners", type=int, default=50, help="population size (50)")
    ev.add_argument("--seed", type=int, default=0, help="population seed (0)")
    ev.add_argument("--jobs", type=int, default=None, help="worker processes (default: up to 2)")
    ev.add_argument(
        "--goal-delta", type=float, default=-0.5, help="goal relative to the start (-0.5)"
    )
    ev.add_argument("--json", type=Path, help="also write the full report as JSON")
    ev.set_defaults(func=cmd_evaluate)
    ct = sub.add_parser(
        "control",
        help="send a therapist command to a running session",
        description="Send a command to the session running in SESSION_FOLDER: pin NAME VALUE | "
        "unpin NAME|all | goal AROUSAL [VALENCE] | pause | resume | skip | estop "
        "(emergency stop: fade to silence within 2 s) | end (fade out and end the session).",
    )
    ct.add_argument("session", metavar="SESSION_FOLDER", type=Path, help="the session folder")
    ct.add_argument("words", metavar="COMMAND", nargs="+", help="the command and its arguments")
    ct.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply (5)")
    ct.set_defaults(func=cmd_control)
    bn = sub.add_parser(
        "bench",
        help="run the benchmark suite (per-tick cost vs naive, LSL latency, replay, render)",
        description="Measure, in one run on this machine: whole-engine per-tick cost for three "
        "EEG/ECG configurations beside the naive full-window recomputation (neurokit2, "
        "scipy.signal.welch), LSL loopback sample-to-synth latency, replay throughput, "
        "offline render speed, `attune --help` start-up and peak memory. Writes bench.json "
        "and bench.md and prints the table.",
    )
    bn.add_argument("--quick", action="store_true", help="reduced sizes (under 2 minutes)")
    bn.add_argument(
        "--out", type=Path, default=Path("bench-results"), help="output directory (bench-results)"
    )
    bn.set_defaults(func=cmd_bench)
    from attune.sessions.commands import batch as batch_command  # light: argparse only

    batch_command.add_parser(sub).set_defaults(func=batch_command.run)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``attune``; returns the exit code."""
    args = build_parser().parse_args(argv)
    from attune.sessions.config import ConfigError
    from attune.sessions.store import StoreError

    try:
        return args.func(args)
    except (ConfigError, CliError, StoreError) as e:
        print(f"attune: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("attune: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed it
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
