"""Every sentence of the README's "Safety" and "Data protection" lists is proven by a test.

Each bullet of the two lists starts with a bold title; :data:`PROOFS` maps the title to
the tests that prove it. A bullet with no proof, a proof naming a test that does not
exist, and a proof for a bullet no longer in the README all fail here, so the README
cannot promise more than the suite shows.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

#: README bullet title -> tests that prove it ("module::function").
PROOFS: dict[str, list[str]] = {
    # Safety
    "Envelope on every tick.": [
        "test_controller::test_bounds_and_slew_hold_on_every_tick_even_with_wild_estimates",
        "test_therapist::test_ten_sessions_with_random_commands_stay_in_the_envelope_on_every_tick",
        "test_therapist::test_a_hundred_sessions_with_random_commands_stay_in_the_envelope_on_every_tick",
    ],
    "Hard limits.": [
        "test_config::test_loudness_hard_cap_holds_for_every_ceiling_above_it",
        "test_config::test_issue14_configs_fail_with_one_line",
        "test_therapist::test_pins_outside_the_session_envelope_are_refused_naming_the_limit",
    ],
    "Pins are targets.": [
        "test_therapist::test_pinned_tempo_is_reached_at_the_slew_limit_and_held_through_every_phase",
        "test_therapist::test_pinned_loudness_rises_at_the_loudness_slew_limit",
        "test_therapist::test_pins_outside_the_session_envelope_are_refused_naming_the_limit",
        "test_therapist::test_commands_are_recorded_and_rejections_too",
    ],
    "Fades, limiter, stop.": [
        "test_controller::test_phases_fades_and_silent_baseline",
        "test_synth::test_peak_limited_when_too_loud",
        "test_therapist::test_emergency_stop_silences_within_two_seconds_and_beats_pins",
        "test_therapist::test_emergency_stop_reaches_silence_within_two_seconds_in_the_rendered_audio",
    ],
    "Hold on doubt.": [
        "test_controller::test_low_confidence_holds_then_drifts_to_neutral",
        "test_controller::test_sensor_dropout_mid_transition_holds_then_falls_back_and_resumes_smoothly",
    ],
    "Command channel.": [
        "test_therapist::test_hostile_lines_are_refused_before_parsing_and_the_session_goes_on",
        "test_therapist::test_a_valid_token_with_a_non_ascii_command_is_refused",
        "test_therapist::test_a_bad_token_closes_the_connection",
        "test_therapist::test_random_and_hostile_messages_on_the_channel",
        "test_therapist::test_flood_and_slow_client_leave_commands_answered_within_half_a_second",
    ],
    "Strict input.": [
        "test_config::test_issue14_configs_fail_with_one_line",
        "test_config::test_random_and_hostile_configs_fail_with_one_line_or_build",
        "test_config::test_random_session_files_fail_with_one_line",
        "test_cli_numbers::test_every_cli_number_is_finite_and_in_range",
        "test_cli_numbers::test_bad_numbers_exit_2_with_one_line",
    ],
    "Files hold what they claim.": [
        "test_readers::test_xdf_header_claiming_2e9_channels_fails_fast",
        "test_readers::test_time_jump_becomes_a_short_gap",
        "test_file_source::test_time_jump_replay_ends_promptly",
        "test_readers::test_truncated_and_over_claiming_edf_replay_what_is_there",
    ],
    "Stale signals are missing, not frozen.": [
        "test_outages::test_stale_modality_is_recorded_as_null_not_frozen",
        "test_outages::test_no_rr_interval_spans_the_gap",
        "test_lsl_robustness::test_publisher_clock_jumps_are_events_and_rebased_not_smeared",
        "test_lsl_robustness::test_a_stream_at_twice_its_declared_rate_is_an_event_and_held",
        "test_lsl_robustness::test_stream_back_with_another_shape_is_refused_not_a_crash",
    ],
    "Failures are recorded as failures.": [
        "test_runner::test_an_error_mid_session_is_recorded_as_failed",
        "test_failed_sessions::test_report_shows_a_failed_session_in_red_naming_the_exception",
        "test_failed_sessions::test_sessions_lists_a_failed_session_with_its_exception",
        "test_audio_safety::test_a_full_disk_ends_the_session_in_one_line_with_an_intact_store",
        "test_audio_safety::test_a_disk_running_full_stops_the_session_before_audio_is_lost",
    ],
    "A killed session keeps its record.": [
        "test_store::test_session_killed_mid_run_keeps_its_ticks",
        "test_audio_safety::test_a_wav_whose_header_sizes_were_never_written_is_repaired",
        "test_audio_safety::test_wav_of_a_killed_session_is_playable_once_the_store_is_reopened",
    ],
    "A live session is heard or refuses.": [
        "test_live_audio::test_no_device_configured_means_the_default_output_and_no_audio_means_silent",
        "test_live_audio::test_a_live_session_with_no_output_refuses_in_one_line",
        "test_audio_safety::test_a_live_session_keeps_its_audio_as_lossless_flac",
        "test_audio_safety::test_flac_is_lossless",
    ],
    # Data protection
    "Pseudonyms only.": ["test_readme_claims::test_participant_must_be_a_pseudonym"],
    "Private files.": [
        "test_store::test_store_files_are_private",
        "test_store::test_export_over_an_existing_file_makes_it_private",
        "test_store::test_report_refuses_a_planted_symlink",
    ],
    "Nothing leaves the machine unless asked.": [
        "test_privacy::test_lsl_outlets_are_off_unless_asked_for",
        "test_privacy::test_opted_in_outlets_are_visible_on_the_network",
        "test_therapist::test_commands_are_recorded_and_rejections_too",
    ],
    "No paths in the record.": [
        "test_privacy::test_replayed_paths_are_stored_as_names_unless_asked",
    ],
    "One folder per session.": [
        "test_readme_claims::test_a_session_writes_only_into_its_own_folder",
        "test_store::test_sessions_started_in_the_same_second_get_their_own_folders",
    ],
    "Erasure.": ["test_clients::test_erase_leaves_nothing_and_export_is_portable"],
    "Encryption at rest.": ["test_encryption::test_encrypted_home"],
}


def _bullets(section: str) -> list[str]:
    """Bold titles of the bullets of README section ``## <section>``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert m is not None, f"README has no '## {section}' section"
    return re.findall(r"^- \*\*(.+?)\*\*", m.group(1), re.M)


def test_every_bullet_has_a_proof_and_every_proof_a_bullet():
    titles = _bullets("Safety") + _bullets("Data protection")
    assert len(titles) >= 15
    assert [t for t in titles if t not in PROOFS] == []  # a new promise needs its test
    assert [t for t in PROOFS if t not in titles] == []  # no proof for a removed bullet


@pytest.mark.parametrize("proof", sorted({p for ps in PROOFS.values() for p in ps}))
def test_every_proof_is_a_test_in_the_suite(proof):
    module, func = proof.split("::")
    mod = importlib.import_module(module)
    test = getattr(mod, func, None)
    assert callable(test), f"tests/{module}.py has no {func}"
    marks = {m.name for m in getattr(test, "pytestmark", [])}
    assert not marks & {"skip", "xfail"}, f"{proof} cannot prove anything: {marks}"


@pytest.mark.parametrize("name", ["Jane Doe", "jane doe", "a" * 65, "", "ann/../x"])
def test_participant_must_be_a_pseudonym(name):
    from attune.sessions.config import ConfigError, validate_config

    with pytest.raises(ConfigError, match="participant"):
        validate_config({"participant": name}, source="s.toml")


def test_a_session_writes_only_into_its_own_folder(tmp_path, monkeypatch):
    from attune.sessions.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "--duration-s", "30", "--no-audio", "--out", "out"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    (folder,) = (tmp_path / "out").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.toml",
        "report.html",
        "session.db",
        "session.mid",
        "summary.json",
    ]
