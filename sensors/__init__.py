"""Signals in: stream types, ring buffers, sources (LSL, file replay, simulator)."""
