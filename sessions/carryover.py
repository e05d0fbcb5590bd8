"""Personalisation across visits: what one session learned seeds the next.

At the end of a session whose loop learned the listener's response
(``[control] learn_response``) the runner keeps :func:`learned_record` in the session
store (table ``learned``, :meth:`attune.sessions.store.SessionStore.save_learned`): the
final :class:`~attune.engine.response.ResponseState` (response gain and its
uncertainty, the verdict), the musical levers the loop moved and how far, and the
palette played. :func:`load_carry_over` reads it back as a :class:`CarryOver`, which
:func:`attune.sessions.build.build_engine` takes to seed the next session's learner
(``attune simulate --carry-from SESSION``): the learner starts from the carried gain
instead of the population prior, and a visit that ended ``paradoxical`` or ``none``
starts the next one at the neutral preset instead of pushing. The session's events
and report say what was carried over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from attune.engine.response import ResponseState

if TYPE_CHECKING:
    from attune.engine.controller import Controller

#: Version of the ``learned`` record.
LEARNED_VERSION = 1


@dataclass(frozen=True)
class CarryOver:
    """What a previous visit learned of this listener.

    Attributes
    ----------
    source : str
        The session it comes from (folder name).
    response : ResponseState
        The response learner's final state.
    levers : dict of str to float
        Arousal cues the loop moved and by how much (tempo BPM, loudness dB, density,
        register semitones), from the start of the transition to the end.
    palette : str or None
        The palette the session played (None if unknown).
    """

    source: str
    response: ResponseState
    levers: dict[str, float]
    palette: str | None = None

    def describe(self) -> str:
        """One line for the session's events and report."""
        record = {"response": self.response.to_dict(), "levers": self.levers}
        return f"carry-over from {self.source}: " + describe_learned(
            {**record, "palette": self.palette}
        )


def learned_record(controller: Controller, palette: str | None) -> dict | None:
    """Return what the session's loop learned, as a JSON-able dict (None: it learned nothing)."""
    learner = controller.response
    if learner is None or learner.ref is None:
        return None
    st = learner.state
    return {
        "version": LEARNED_VERSION,
        "response": st.to_dict(),
        "levers": dict(st.levers),
        "palette": palette,
    }


def describe_learned(record: dict) -> str:
    """One line saying what a :func:`learned_record` holds."""
    r = record["response"]
    moved = ", ".join(f"{k} {v:+.1f}" for k, v in record["levers"].items() if abs(v) > 1e-3)
    return (
        f"response '{r['verdict']}', gain {r['gain']:+.2f} (sd {r['gain_sd']:.2f}); "
        f"levers moved: {moved or 'none'}; palette {record.get('palette') or 'unknown'}"
    )


def load_carry_over(session_folder: Path | str) -> CarryOver | None:
    """Read what the session in ``session_folder`` learned (None if it learned nothing).

    Raises
    ------
    attune.sessions.store.StoreError
        If the folder has no readable store, or its ``learned`` row is malformed
        (one line naming the store and the field).
    """
    from attune.sessions.store import StoreError, read_learned, store_path

    folder = Path(session_folder)
    data = read_learned(folder)
    if data is None:
        return None
    try:
        response = ResponseState.from_dict(dict(data["response"]))
        levers = {str(k): float(v) for k, v in dict(data.get("levers") or {}).items()}
    except (KeyError, TypeError, ValueError) as e:
        raise StoreError(f"{store_path(folder)}: table learned: {e}") from None
    palette = data.get("palette")
    return CarryOver(
        source=folder.name,
        response=response,
        levers=levers,
        palette=palette if isinstance(palette, str) else None,
    )
