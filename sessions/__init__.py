"""Clinical and research wrapper: session files, runs, the store, reports, commands.

Where things live
-----------------
config
    ``SessionConfig`` (pydantic, one TOML file per session) with every default of the
    loop; ``load_config``.
build
    The loop's parts from a ``SessionConfig``: ``build_engine``, ``make_controller``,
    ``make_envelope``, ``make_estimator``, the renderer and live outputs.
runner
    ``run_session``: the tick loop shared by simulated, replay and live sessions
    (commands, engine step, record, outlets, graceful end).
simulated_run
    ``run_simulation``: a session on the simulated listener (``hear_music``).
replay_run
    ``replay_recording``, ``run_replay``: a recording through the engine on the virtual
    clock.
live_run
    ``run_live``: LSL streams in, real-time pacing.
record
    ``SessionRecord``: the private session folder; ``SessionRecord.tick`` writes a tick.
store
    ``SessionStore`` (SQLite, WAL, committed once a second), ``load_session``,
    ``list_sessions``, ``annotate``; ``connect`` (the one way to open a store or the
    registry: SQLCipher when a key is set) and ``db_errors``.
home
    ``home_dir``, ``sessions_dir``: the data home; ``data_key``: the key of encryption at
    rest.
clients
    ``Registry`` (pseudonyms, notes, visits), ``client_sessions``, ``latest_session``.
progress
    ``write_progress``: a client's progress page across visits.
sealed
    ``seal_folder``: a session's files moved into its encrypted store.
client_data
    ``erase_client``, ``export_client``.
therapist
    ``TherapistChannel`` (``attune control``, 127.0.0.1 with a token),
    ``ScriptedCommands``, ``send_command``.
selfreport
    SAM ratings before, during and after: ``add_rating``, ``read_reports``,
    ``summarize``, ``intake_report``.
feelings
    Described feelings to a proposed rating: ``score_feeling``, ``FeelingDesk`` (the
    channel's ``feeling`` and ``feeling confirm``).
raw_signals
    The raw signals a session steered on, kept in its store (``SignalTee``) and replayed
    exactly (``replay_session``, ``stored_sources``).
state_outlets
    ``StateOutlets``: Attune's state, music and markers as LSL outlets.
report
    ``write_report``: the self-contained HTML session report.
export
    ``export_table``: one table of a session as CSV or JSON.
evaluate
    ``evaluate``: closed loop against open-loop music on simulated listeners.
cli
    The ``attune`` command line: a thin dispatcher (``main``) over ``commands``.
commands/
    One module per ``attune`` command (``add_parser`` and ``run``), e.g.
    ``commands.simulate``, ``commands.replay``, ``commands.control``.
examples/
    Example session files (``relax``, ``energize``, ``resonance-breathing``,
    ``research-replay``, ``simulate``).

Only ``attune.sessions``, ``attune.benchmarks`` and the tests import this package.
"""
