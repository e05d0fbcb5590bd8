"""Session configuration: one validated pydantic model, loaded from TOML.

Every default of the closed loop lives here; the engine classes take their settings
as required keyword arguments, so there is one place where a number is chosen. Values
marked [E] in ``../shared/SCIENCE.md`` are engineering choices: keep them configurable.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(Exception):
    """A session file is missing or invalid; the message names the file and field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Goal(_Model):
    """Where the session should lead the listener (arousal and valence in [-1, 1])."""

    arousal: float = Field(-0.5, ge=-1.0, le=1.0)
    valence: float = Field(0.3, ge=-1.0, le=1.0)


class Phases(_Model):
    """Protocol phase durations in seconds (SCIENCE.md section 5; shortened for the demo).

    Baseline is silent rest; matching plays music that mirrors the measured state;
    transition leads to the goal; maintain holds it; recovery tapers to silence.
    """

    baseline_s: float = Field(30.0, ge=0.0)
    match_s: float = Field(60.0, ge=0.0)
    transition_s: float = Field(360.0, ge=0.0)
    maintain_s: float = Field(150.0, ge=0.0)
    recovery_s: float = Field(0.0, ge=0.0)
    recovery_silence_s: float = Field(
        60.0,
        ge=0.0,
        description="silence at the end of recovery, s (SCIENCE.md 5: >= 1-2 min); the music "
        "tapers to the neutral preset before it, then fades out",
    )
    transition_shape: Literal["linear", "cosine"] = "cosine"

    @property
    def total_s(self) -> float:
        """Whole session length in seconds."""
        return (
            self.baseline_s + self.match_s + self.transition_s + self.maintain_s + self.recovery_s
        )


class Safety(_Model):
    """The safety envelope: hard bounds and slew limits of the music (SCIENCE.md 5-6)."""

    tempo_bpm_min: float = Field(55.0, ge=40.0, le=160.0)
    tempo_bpm_max: float = Field(115.0, ge=40.0, le=160.0)
    loudness_db_min: float = Field(-40.0, ge=-60.0, le=-6.0)
    loudness_db_max: float = Field(
        -18.0, ge=-60.0, le=-6.0, description="program level ceiling, dBFS"
    )
    tension_max: float = Field(0.8, ge=0.0, le=1.0)
    tempo_slew_bpm_per_min: float = Field(3.0, gt=0.0, le=10.0)
    loudness_slew_db_per_s: float = Field(0.1, gt=0.0, le=3.0)
    timbre_slew_per_s: float = Field(
        0.01, gt=0.0, le=1.0, description="tension, brightness, density"
    )
    register_slew_st_per_s: float = Field(0.1, gt=0.0, le=12.0)
    fade_in_s: float = Field(8.0, ge=0.05)
    fade_out_s: float = Field(5.0, ge=0.05)
    estop_fade_s: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="emergency stop: fade to 0 in this many seconds (the synth adds a 1 s "
        "ramp; silence within 2 s)",
    )
    override_loudness_rise_db_per_s: float = Field(
        3.0, gt=0.0, le=3.0, description="startle limit on a pinned loudness rising, dB/s"
    )

    @model_validator(mode="after")
    def _ranges(self) -> Safety:
        if self.tempo_bpm_min >= self.tempo_bpm_max:
            raise ValueError(
                f"tempo_bpm_min ({self.tempo_bpm_min}) must be below tempo_bpm_max "
                f"({self.tempo_bpm_max})"
            )
        if self.loudness_db_min >= self.loudness_db_max:
            raise ValueError(
                f"loudness_db_min ({self.loudness_db_min}) must be below loudness_db_max "
                f"({self.loudness_db_max})"
            )
        return self


class Estimator(_Model):
    """Affect estimation: baseline z-scores, linear fusion, smoothing (SCIENCE.md 3).

    ``arousal = prior + gain * sum(w_i s_i z_i) / sum(w_i)`` over the available features,
    with signs s = +HR, -lnRMSSD, +engagement, -alpha.
    """

    prior_arousal: float = Field(
        0.6, ge=-1.0, le=1.0, description="intake rating of arousal (e.g. SAM), the baseline anchor"
    )
    prior_valence: float = Field(-0.2, ge=-1.0, le=1.0)
    w_hr: float = Field(1.0, ge=0.0)
    w_ln_rmssd: float = Field(1.0, ge=0.0)
    w_engagement: float = Field(0.5, ge=0.0)
    w_alpha: float = Field(0.5, ge=0.0)
    w_faa: float = Field(1.0, ge=0.0)
    w_valence_hr: float = Field(
        0.0, ge=0.0, description="weight of z(HR) in valence (SCIENCE.md 3: a small HR term)"
    )
    w_hf: float = Field(
        0.0, ge=0.0, description="weight of ln HF power (sign -1; needs >= 60 s of beats)"
    )
    paced_breathing: bool = Field(
        False,
        description="paced/resonance breathing in the session: frequency-domain HRV "
        "features are left out of the arousal estimate (RSA moves from HF into LF)",
    )
    arousal_gain: float = Field(0.4, gt=0.0, description="arousal units per fused z")
    valence_gain: float = Field(0.3, gt=0.0, description="valence units per fused z")
    arousal_tau_s: float = Field(15.0, gt=0.0)
    valence_tau_s: float = Field(30.0, gt=0.0)
    stale_s: float = Field(3.0, gt=0.0, description="no new samples for this long: modality stale")
    min_confidence: float = Field(
        0.3, ge=0.0, le=1.0, description="below this the controller holds"
    )


class Control(_Model):
    """The control law (music leads the listener) and its fallbacks."""

    enabled: bool = Field(True, description="False freezes the music at its starting parameters")
    lead_gain: float = Field(2.0, ge=0.0, le=3.0, description="proportional gain on arousal error")
    integral_per_s: float = Field(0.02, ge=0.0, le=0.2, description="integral gain, 1/s")
    integral_max: float = Field(0.5, ge=0.0, le=1.0, description="clamp of the integral term")
    feedforward: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="feedforward lead per unit of target below the state at the end of "
        "matching (about 1 / music gain)",
    )
    max_lead: float = Field(
        1.0, gt=0.0, le=2.0, description="bound of |music arousal - target arousal|"
    )
    hold_timeout_s: float = Field(30.0, ge=0.0, description="hold this long, then drift to neutral")
    neutral_arousal: float = Field(-0.3, ge=-1.0, le=1.0, description="the calm preset")
    neutral_valence: float = Field(0.2, ge=-1.0, le=1.0)
    goal_ramp_s: float = Field(
        120.0, ge=0.0, description="shortest ramp of the target to a goal changed mid-session, s"
    )
    open_loop_music: Literal["match", "neutral"] = Field(
        "match",
        description="with enabled = false: freeze the music matching the intake state "
        "(match) or play the neutral calm preset (neutral)",
    )
    command_channel: bool = Field(
        True,
        description="open the therapist command channel (127.0.0.1, token in the session "
        "folder) for `attune control`",
    )


class Simulation(_Model):
    """The simulated listener (SCIENCE.md section 7)."""

    arousal0: float = Field(0.6, ge=-1.0, le=1.0)
    valence0: float = Field(-0.2, ge=-1.0, le=1.0)
    ecg_fs: float = Field(250.0, ge=100.0)
    eeg_fs: float = Field(256.0, ge=64.0)
    eeg_channels: tuple[str, ...] = ("AF7", "AF8", "TP9", "TP10")


class LiveStream(_Model):
    """One LSL stream a live session reads (``attune run``): by kind, name or source id."""

    kind: Literal["eeg", "ecg", "ppg", "rr", "markers"]
    name: str | None = None
    source_id: str | None = None
    stale_after_s: float = Field(2.0, gt=0.0, description="no samples this long: stale")


class SessionConfig(_Model):
    """A whole session. The defaults are the 10-minute demo on the simulated listener."""

    name: str = Field("demo", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    participant: str = Field("sim-001", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="pseudonym")
    seed: int = Field(7, ge=0)
    tick_s: float = Field(0.25, ge=0.05, le=2.0)
    goal: Goal = Goal()
    phases: Phases = Phases()
    safety: Safety = Safety()
    estimator: Estimator = Estimator()
    control: Control = Control()
    simulation: Simulation = Simulation()
    streams: tuple[LiveStream, ...] = Field(
        (), description="LSL streams of a live session; the first of each kind is used"
    )
    lsl_outlets: bool = Field(True, description="publish state, music and markers over LSL")
    output_dir: Path = Path("attune-sessions")
    render_audio: bool = True
    sample_rate_hz: int = Field(48000, ge=22050, le=96000)


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line naming the source, the field path and what was wrong."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    value = f", got {first['input']!r}" if "input" in first and first["type"] != "missing" else ""
    return f"{source}: {loc}: {first['msg']}{value}{more}"


def load_config(path: Path | str) -> SessionConfig:
    """Read and validate a TOML session file.

    Raises
    ------
    ConfigError
        With a one-line message naming the file and the offending field.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such session file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return validate_config(raw, source=str(path))


def validate_config(raw: dict, *, source: str = "config") -> SessionConfig:
    """Validate a plain dict into a :class:`SessionConfig` (one-line :class:`ConfigError`)."""
    try:
        return SessionConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source)) from None


def dump_config(cfg: SessionConfig) -> str:
    """Return the config as TOML text (what a session folder keeps as ``config.toml``)."""
    import tomli_w

    return tomli_w.dumps(cfg.model_dump(mode="json", exclude_none=True))
