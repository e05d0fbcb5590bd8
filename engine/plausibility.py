"""Physiological and technical plausibility checks shared by the feature stages.

A stream whose samples arrive at a rate other than the one it declares puts every
time-based feature (heart rate, band powers) on a wrong time axis. :class:`RateCheck`
compares the rate measured from the timestamps with the declared one over a sliding
span and says so in an event once, and again when it is back in tolerance.
"""

from __future__ import annotations

import math

import numpy as np


class RateCheck:
    """Measured sampling rate against the declared one.

    Parameters
    ----------
    name : str
        Stream name, for the events.
    fs : float
        Declared sampling rate, Hz (> 0).
    tolerance : float, default 0.05
        Relative deviation allowed [E] (LSL dejittering and clock drift stay within
        0.1 %; a wrong declared rate is usually off by 2x or by a common rate's ratio).
    span_s : float, default 10.0
        Seconds of samples the measured rate is taken over.

    Attributes
    ----------
    ok : bool
        False while the measured rate is out of tolerance.
    measured_hz : float
        The last measured rate, Hz (NaN until ``span_s`` has been seen).
    """

    def __init__(
        self, name: str, fs: float, *, tolerance: float = 0.05, span_s: float = 10.0
    ) -> None:
        self.name = name
        self.fs = float(fs)
        self.tolerance = tolerance
        self.span_s = span_s
        self.ok = True
        self.measured_hz = float("nan")
        self._t0 = float("nan")
        self._n = 0

    def update(self, timestamps: np.ndarray) -> tuple[str, ...]:
        """Fold in a chunk's timestamps (s); return the events raised.

        Parameters
        ----------
        timestamps : ndarray, shape (n,)
            Sample times of the chunk, seconds.

        Returns
        -------
        tuple of str
            A warning when the rate leaves the tolerance, an info line when it returns.
        """
        n = timestamps.size
        if n == 0 or self.fs <= 0:
            return ()
        if not math.isfinite(self._t0):
            self._t0 = float(timestamps[0])
            self._n = 0
        self._n += n
        span = float(timestamps[-1]) - self._t0
        if span < self.span_s:
            return ()
        self.measured_hz = (self._n - 1) / span if span > 0 else float("inf")
        self._t0, self._n = float(timestamps[-1]), 1  # next span starts here
        ratio = self.measured_hz / self.fs
        good = abs(ratio - 1.0) <= self.tolerance
        if good == self.ok:
            return ()
        self.ok = good
        if not good:
            return (
                f"warning: implausible sampling rate: stream {self.name!r} declares "
                f"{self.fs:g} Hz but delivers {self.measured_hz:.1f} Hz: its features are "
                "not used",
            )
        return (f"info: stream {self.name!r} delivers its declared {self.fs:g} Hz again",)
