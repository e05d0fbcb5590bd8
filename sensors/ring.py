"""Preallocated multi-channel ring buffer with a monotonic sample counter."""

from __future__ import annotations

import numpy as np

from attune.sensors.types import SensorError


class RingBuffer:
    """Fixed-capacity buffer of the newest samples of one stream.

    Writes never allocate: samples go into a preallocated ``(n_channels, capacity)``
    array. :attr:`count` is the total number of samples ever written (monotonic), so a
    reader remembers a counter value as its cursor and reads have no side effects.

    Parameters
    ----------
    n_channels : int
        Rows of the buffer.
    capacity : int
        Number of newest samples kept.

    Notes
    -----
    Not thread-safe: one writer and readers on the same thread (the engine tick).
    """

    def __init__(self, n_channels: int, capacity: int) -> None:
        if n_channels < 1 or capacity < 1:
            raise SensorError(
                f"ring buffer needs n_channels >= 1 and capacity >= 1, "
                f"got {n_channels} and {capacity}"
            )
        self._data = np.zeros((n_channels, capacity))
        self._times = np.zeros(capacity)
        self.capacity = capacity
        self.count = 0

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return int(self._data.shape[0])

    def write(self, data: np.ndarray, timestamps: np.ndarray) -> None:
        """Append samples.

        Parameters
        ----------
        data : ndarray, shape (n_channels, n)
            New samples, time last.
        timestamps : ndarray, shape (n,)
            Their times in seconds.
        """
        n = data.shape[1]
        if data.shape[0] != self.n_channels:
            raise SensorError(
                f"ring buffer has {self.n_channels} channels, got data shaped {data.shape}"
            )
        if n == 0:
            return
        if n > self.capacity:  # only the newest samples survive anyway
            data, timestamps = data[:, -self.capacity :], timestamps[-self.capacity :]
            self.count += n - self.capacity
            n = self.capacity
        start = self.count % self.capacity
        first = min(n, self.capacity - start)
        self._data[:, start : start + first] = data[:, :first]
        self._times[start : start + first] = timestamps[:first]
        if first < n:
            self._data[:, : n - first] = data[:, first:]
            self._times[: n - first] = timestamps[first:]
        self.count += n

    def oldest(self) -> int:
        """Counter value of the oldest sample still held."""
        return max(0, self.count - self.capacity)

    def read(self, since: int, until: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return samples with counter in ``[since, until)`` (copies).

        Parameters
        ----------
        since : int
            Counter of the first sample wanted; clamped to :meth:`oldest`.
        until : int, optional
            Counter one past the last sample wanted; defaults to :attr:`count`.

        Returns
        -------
        data : ndarray, shape (n_channels, n)
        timestamps : ndarray, shape (n,)
        """
        until = self.count if until is None else min(until, self.count)
        since = max(since, self.oldest())
        n = max(0, until - since)
        idx = (since + np.arange(n)) % self.capacity
        return self._data[:, idx], self._times[idx]

    def last(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the newest ``n`` samples (fewer if fewer were written)."""
        return self.read(self.count - n)


class Reader:
    """A cursor into a :class:`RingBuffer`; each consumer owns one.

    Parameters
    ----------
    ring : RingBuffer
        The buffer to read.
    """

    def __init__(self, ring: RingBuffer) -> None:
        self.ring = ring
        self.cursor = ring.count
        self.missed = 0  # samples overwritten before this reader got to them

    def read_new(self) -> tuple[np.ndarray, np.ndarray]:
        """Return all samples written since the last call and advance the cursor."""
        oldest = self.ring.oldest()
        if self.cursor < oldest:
            self.missed += oldest - self.cursor
            self.cursor = oldest
        data, times = self.ring.read(self.cursor)
        self.cursor = self.ring.count
        return data, times
