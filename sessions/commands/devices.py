"""``attune devices``: audio output devices and MIDI output ports."""

from __future__ import annotations

import argparse

NAME = "devices"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``devices`` to ``sub``."""
    return sub.add_parser(
        NAME,
        help="list audio output devices and MIDI output ports",
        description="List audio output devices (portaudio) and MIDI output ports; live "
        "audio takes a device by index or name.",
    )


def run(args: argparse.Namespace) -> int:
    """List audio output devices and MIDI output ports."""
    from attune.synthesis.devices import describe_devices

    print(describe_devices())
    return 0
