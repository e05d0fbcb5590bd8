"""Sound out: music parameters, the composer, the pyo synth, MIDI output."""
