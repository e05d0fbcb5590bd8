import numpy as np
import pytest

from attune.sensors.ring import Reader, RingBuffer
from attune.sensors.types import Chunk, SensorError, StreamInfo


def test_ring_wraps_and_counts():
    ring = RingBuffer(2, 10)
    reader = Reader(ring)
    x = np.arange(34, dtype=float)
    data = np.vstack([x, -x])
    got = []
    for lo in range(0, 34, 7):
        ring.write(data[:, lo : lo + 7], x[lo : lo + 7])
        d, t = reader.read_new()
        got.append(t)
    assert ring.count == 34
    np.testing.assert_array_equal(np.concatenate(got), x)
    d, t = ring.last(10)
    np.testing.assert_array_equal(t, x[-10:])
    np.testing.assert_array_equal(d[1], -x[-10:])


def test_reader_counts_overwritten_samples():
    ring = RingBuffer(1, 8)
    reader = Reader(ring)
    ring.write(np.zeros((1, 20)), np.arange(20.0))
    _, t = reader.read_new()
    assert reader.missed == 12
    np.testing.assert_array_equal(t, np.arange(12.0, 20.0))


def test_two_readers_are_independent():
    ring = RingBuffer(1, 16)
    a, b = Reader(ring), Reader(ring)
    ring.write(np.ones((1, 5)), np.arange(5.0))
    assert a.read_new()[1].size == 5
    ring.write(np.ones((1, 3)), np.arange(5.0, 8.0))
    assert a.read_new()[1].size == 3
    assert b.read_new()[1].size == 8


def test_bad_shapes_name_the_stream():
    info = StreamInfo("amp", "eeg", 256.0, ("C3", "C4"), "uV")
    with pytest.raises(SensorError, match="amp"):
        Chunk(info, np.zeros((3, 4)), np.zeros(4))
    with pytest.raises(SensorError, match="kind"):
        StreamInfo("x", "emg", 256.0, ("a",), "uV")
    with pytest.raises(SensorError, match="channels"):
        RingBuffer(2, 4).write(np.zeros((3, 1)), np.zeros(1))
