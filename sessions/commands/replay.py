"""``attune replay``: a recording through the engine, or published over LSL."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.sessions.commands._common import (
    FS_HZ,
    SEED,
    SESSION_SECONDS,
    CliError,
    add_audio_flag,
    add_client_flag,
    add_intake_flag,
    add_report_flag,
    apply_intake_flag,
    check_seconds,
    cli_number,
    load_session_config,
    progress_bar,
    write_report,
)
from attune.sessions.commands.streams import KINDS

if TYPE_CHECKING:
    from attune.sensors.readers import Recording
    from attune.sessions.replay_run import ReplaySummary

NAME = "replay"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``replay`` to ``sub``."""
    rp = sub.add_parser(
        NAME,
        help="replay a recording (XDF, EDF, BDF, FIF, BrainVision, CSV, Polar) through the engine",
        description="Replay a recording through the whole engine on the virtual clock, as fast "
        "as the CPU allows (deterministic), or publish it as LSL outlets with --lsl.",
    )
    rp.add_argument(
        "file",
        metavar="FILE",
        type=Path,
        help="the recording, or a session folder: its kept raw signals replay exactly",
    )
    rp.add_argument(
        "--from-session",
        action="store_true",
        help="FILE is a session folder: replay the raw signals it kept, under its own "
        "configuration (the default when FILE holds a session.db)",
    )
    rp.add_argument("--fs", type=FS_HZ, help="sampling rate in Hz, for files that do not store it")
    rp.add_argument("--kind", choices=KINDS, help="kind of the chosen data")
    rp.add_argument(
        "--column", action="append", help="column or channel to use (repeat or comma-separate)"
    )
    rp.add_argument("--time-column", help="name of the time column of a CSV")
    rp.add_argument("--stream", action="append", help="stream name to use (repeatable)")
    rp.add_argument("--channels", help="comma-separated channel labels to keep")
    rp.add_argument("--lsl", action="store_true", help="publish as LSL outlets in real time")
    rp.add_argument(
        "--speed",
        type=cli_number(lo=0, lo_open=True, hi=1000),
        default=1.0,
        help="with --lsl: speed factor (1.0)",
    )
    rp.add_argument("--loop", action="store_true", help="with --lsl: start over at the end")
    rp.add_argument("--config", type=Path, help="session file (TOML) for the engine")
    rp.add_argument("--seed", type=SEED, help="override the session seed")
    rp.add_argument("--out", type=Path, help="output directory for session folders")
    rp.add_argument(
        "--duration-s",
        type=SESSION_SECONDS,
        metavar="S",
        help="replay only the first S seconds of the recording (default: all of it)",
    )
    rp.add_argument(
        "--participant",
        metavar="NAME",
        help="pseudonym to file the session under (default: the file's BIDS sub- label, "
        "else its name)",
    )
    add_intake_flag(rp)
    add_audio_flag(rp, default=False, what="also render the music to session.wav (default: off)")
    add_report_flag(rp)
    add_client_flag(rp)
    rp.add_argument(
        "--record-paths",
        action="store_true",
        help="keep the file's full path in the record and report (default: its name only)",
    )
    rp.set_defaults(no_control=False)
    return rp


def format_summary(s: ReplaySummary) -> str:
    """Return the text ``replay`` prints after a replay."""
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


def crop_recording(rec: Recording, duration_s: float) -> Recording:
    """Return ``rec`` holding only its first ``duration_s`` seconds.

    Every stream keeps the samples stamped before ``rec.start + duration_s`` (one origin
    for all streams, so they stay aligned); a recording already that short is returned
    as it is. The cut is noted in the recording's warnings.
    """
    from dataclasses import replace

    end = rec.start + duration_s
    if all(s.n_samples == 0 or s.timestamps[-1] < end for s in rec.streams):
        return rec
    streams = []
    for s in rec.streams:
        keep = s.timestamps < end
        labels = tuple(lb for lb, k in zip(s.labels, keep, strict=True)) if s.labels else ()
        streams.append(
            replace(s, data=s.data[:, keep], timestamps=s.timestamps[keep], labels=labels)
        )
    note = f"replayed the first {duration_s:g} s only (--duration-s)"
    return replace(rec, streams=tuple(streams), warnings=(*rec.warnings, note))


def run(args: argparse.Namespace) -> int:
    """Replay a recording through the engine, or publish it over LSL."""
    from attune.sensors.readers import read_recording
    from attune.sensors.types import SensorError

    if args.from_session or (args.file / "session.db").is_file():
        return _replay_session(args)
    columns = [c for arg in args.column or [] for c in arg.split(",") if c]
    channels = [c for c in (args.channels or "").split(",") if c]
    check_seconds("--duration-s", args.duration_s)
    try:
        rec = read_recording(
            args.file,
            fs=args.fs,
            kind=args.kind,
            columns=columns or None,
            time_column=args.time_column,
        )
        if args.duration_s is not None:
            rec = crop_recording(rec, args.duration_s)
        if args.lsl:
            return _publish(rec, args, channels)
        cfg = apply_intake_flag(args, load_session_config(args))
        if not args.audio:
            named = {} if args.config else {"name": "replay"}  # keep a session file's name
            cfg = cfg.model_copy(update={"render_audio": False, **named})
        from attune.sessions.replay_run import replay_recording

        summary = replay_recording(
            rec,
            cfg,
            names=args.stream or (),
            channels=channels,
            progress=progress_bar("replaying"),
            participant=args.participant,
        )
    except (SensorError, ValueError) as e:
        raise CliError(str(e)) from None
    print(format_summary(summary))
    write_report(summary.folder, args)
    return 0


def _replay_session(args: argparse.Namespace) -> int:
    """Replay the raw signals a session kept; say whether the ticks match the original."""
    from attune.sessions.raw_signals import compare_ticks, replay_session
    from attune.sessions.store import resolve_session

    folder = resolve_session(args.file, Path("attune-sessions"))
    out = replay_session(
        folder,
        output_dir=args.out,
        render_audio=bool(args.audio),
        progress=progress_bar("replaying"),
    )
    diffs = compare_ticks(folder, out.folder)
    print(f"Replayed session {folder.name} from its kept raw signals: {out.n_ticks} ticks")
    if diffs:
        print("  differs from the original in: " + ", ".join(diffs))
    else:
        print("  every tick identical to the original (features, estimate, target, music)")
    print(f"Session folder: {out.folder}")
    write_report(out.folder, args)
    return 0


def _publish(rec: Any, args: argparse.Namespace, channels: list[str]) -> int:
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
