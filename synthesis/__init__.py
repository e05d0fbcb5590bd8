"""Sound out: music parameters, the composer, the pyo synth, MIDI output.

Where things live
-----------------
params
    ``MusicParams`` and its absolute ``BOUNDS``; the cue model ``music_arousal``,
    ``music_valence`` and its inverse ``params_for`` (the music a given arousal and
    valence calls for).
composer
    ``Composer``: seeded notes on a beat grid (bars, phrases, pad, bass, arpeggio,
    melody); ``Composer.advance`` writes the notes of one tick.
synth
    ``OfflineRenderer`` (pyo in a child process writing the session WAV), ``LiveSynth``
    (sound card) and ``SilentBackend``.
supervisor
    ``SupervisedSynth``: restarts a crashed synth child with a fade-in and joins the
    audio segments.
midi
    ``MidiRecorder`` and ``write_midi`` (standard MIDI files), live MIDI ports, readers.
analysis
    Audio analysis for tests and summaries: levels, onsets, tempo, centroid, roughness.
devices, examples
    Audio output devices and MIDI ports (``attune devices``); ``render_examples``, short
    renders across the arousal-valence plane (``attune render-examples``).

``attune.synthesis`` never imports ``attune.sensors`` or anything above it. The music
mapping is described in ``docs/music.md``.
"""
