"""Clocks that pace the loop: virtual (replay, simulation) and live (LSL time)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """What paces the loop: :class:`VirtualClock` (replay, simulation) or :class:`LiveClock`.

    Attributes
    ----------
    tick_s : float
        Tick period, seconds.
    """

    tick_s: float

    def begin(self) -> float:
        """Start the session clock; return the external time of session time 0, seconds."""
        ...

    def next_tick(self) -> float:
        """Return the session time of the next tick, seconds (a live clock waits for it)."""
        ...


class VirtualClock:
    """A clock that advances by exactly one tick per call: runs as fast as the CPU allows.

    Parameters
    ----------
    tick_s : float
        Tick period, seconds.
    t0 : float
        Time of the first tick, seconds.
    """

    def __init__(self, *, tick_s: float, t0: float = 0.0) -> None:
        self.tick_s = tick_s
        self.n = 0
        self.t0 = t0

    def begin(self) -> float:
        """Start the session clock; return the external time of session time 0."""
        return self.t0

    def next_tick(self) -> float:
        """Return the time of the next tick (computed from a counter: no drift)."""
        t = self.t0 + self.n * self.tick_s
        self.n += 1
        return t


class LiveClock:
    """Real-time pacing on an external clock (LSL's ``local_clock``), drift-corrected.

    Tick ``k`` is due at ``start + k * tick_s``: the schedule is computed from the
    counter, so sleeping late never accumulates into drift. A tick that is already
    late runs at once (no tick is skipped: the record keeps one row per period).

    Parameters
    ----------
    tick_s : float
        Tick period, seconds.
    now : callable
        The clock, seconds (e.g. ``pylsl.local_clock``).
    start : float, optional
        Clock reading of session time 0; defaults to ``now()`` when :meth:`begin` is
        called (or at construction).

    Notes
    -----
    :meth:`next_tick` sleeps: call it between ticks, never inside one.
    """

    def __init__(
        self, *, tick_s: float, now: Callable[[], float], start: float | None = None
    ) -> None:
        self.tick_s = tick_s
        self.now = now
        self.start = now() if start is None else start
        self.n = 0
        self.late_ticks = 0

    def next_tick(self) -> float:
        """Wait for the next tick; return the session time at which it actually began."""
        due = self.start + self.n * self.tick_s
        self.n += 1
        wait = due - self.now()
        if wait > 0:
            time.sleep(wait)
        elif wait < -self.tick_s:
            self.late_ticks += 1
        return self.now() - self.start

    def begin(self) -> float:
        """Restart the schedule now; return the clock reading of session time 0."""
        self.start = self.now()
        self.n = 0
        return self.start
