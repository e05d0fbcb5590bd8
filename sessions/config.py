"""Session configuration: one validated pydantic model, loaded from TOML.

Every default of the closed loop lives here; the engine classes take their settings
as required keyword arguments, so there is one place where a number is chosen.

Types are strict: a number must be a finite number (``true`` is not 1, ``inf`` and
``nan`` are refused), every duration and rate has an upper bound (a session lasts at
most :data:`MAX_SESSION_S`), and ranges are checked across fields (a tempo minimum
above the maximum, a loudness floor above the ceiling). The safety envelope's global
hard limits (:data:`attune.engine.envelope.HARD_BOUNDS`: the loudness cap, the tempo
range) are checked here too, so no session file can exceed them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from attune.engine.envelope import HARD_BOUNDS, LOUDNESS_HARD_CAP_DB

__all__ = ["HARD_BOUNDS", "LOUDNESS_HARD_CAP_DB", "MAX_SESSION_S"]  # and the models below

#: Largest session file read, bytes.
MAX_CONFIG_BYTES: int = 1_000_000
#: Longest session (sum of the phases), seconds: 4 hours.
MAX_SESSION_S: float = 4 * 3600.0
_TEMPO_LO, _TEMPO_HI = HARD_BOUNDS["tempo_bpm"]
_LOUD_LO, _LOUD_HI = HARD_BOUNDS["loudness_db"]
#: Paced (resonance) breathing rates a session may set, Hz (3-15 breaths/min; resonance is
#: near 0.1 Hz, individually 4.5-7 breaths/min: docs/science/protocol.md).
PACED_BREATHING_RANGE_HZ: tuple[float, float] = (0.05, 0.25)


class ConfigError(Exception):
    """A session file is missing or invalid; the message names the file and field."""


class _Model(BaseModel):
    # strict: no bool-as-number, no numeric strings, no float-as-int; finite floats only
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Goal(_Model):
    """Where the session should lead the listener (arousal and valence in [-1, 1])."""

    arousal: float = Field(-0.5, ge=-1.0, le=1.0)
    valence: float = Field(0.3, ge=-1.0, le=1.0)


class Phases(_Model):
    """Protocol phase durations in seconds (docs/science/protocol.md; shortened for the demo).

    Baseline is silent rest; matching plays music that mirrors the measured state;
    transition leads to the goal; maintain holds it; recovery tapers to silence.
    """

    baseline_s: float = Field(30.0, ge=0.0, le=MAX_SESSION_S)
    match_s: float = Field(60.0, ge=0.0, le=MAX_SESSION_S)
    transition_s: float = Field(360.0, ge=0.0, le=MAX_SESSION_S)
    maintain_s: float = Field(150.0, ge=0.0, le=MAX_SESSION_S)
    recovery_s: float = Field(0.0, ge=0.0, le=MAX_SESSION_S)
    recovery_silence_s: float = Field(
        60.0,
        ge=0.0,
        le=3600.0,
        description="silence at the end of recovery, s (>= 1-2 min, docs/science/protocol.md); "
        "the music "
        "tapers to the neutral preset before it, then fades out",
    )
    transition_shape: Literal["linear", "cosine"] = "cosine"

    @model_validator(mode="after")
    def _session_length(self) -> Phases:
        if self.total_s > MAX_SESSION_S:
            raise ValueError(
                f"the phases add up to {self.total_s:g} s, more than the longest session "
                f"of {MAX_SESSION_S:g} s"
            )
        if self.total_s <= 0.0:
            raise ValueError("the phases add up to 0 s: the session would be empty")
        return self

    @property
    def total_s(self) -> float:
        """Whole session length in seconds."""
        return (
            self.baseline_s + self.match_s + self.transition_s + self.maintain_s + self.recovery_s
        )


class Safety(_Model):
    """The safety envelope: hard bounds and slew limits (docs/science/safety.md)."""

    tempo_bpm_min: float = Field(55.0, ge=_TEMPO_LO, le=_TEMPO_HI)
    tempo_bpm_max: float = Field(115.0, ge=_TEMPO_LO, le=_TEMPO_HI)
    loudness_db_min: float = Field(-40.0, ge=_LOUD_LO, le=LOUDNESS_HARD_CAP_DB)
    loudness_db_max: float = Field(
        -18.0,
        ge=_LOUD_LO,
        description="program level ceiling, dBFS (RMS); at most LOUDNESS_HARD_CAP_DB (-12)",
    )
    tension_max: float = Field(0.8, ge=0.0, le=1.0)
    tempo_slew_bpm_per_min: float = Field(3.0, gt=0.0, le=10.0)
    loudness_slew_db_per_s: float = Field(0.1, gt=0.0, le=3.0)
    timbre_slew_per_s: float = Field(
        0.01, gt=0.0, le=1.0, description="tension, brightness, density"
    )
    register_slew_st_per_s: float = Field(0.1, gt=0.0, le=12.0)
    fade_in_s: float = Field(8.0, ge=0.05, le=120.0)
    fade_out_s: float = Field(5.0, ge=0.05, le=120.0)
    estop_fade_s: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        description="emergency stop: fade to 0 in this many seconds (the synth adds a 1 s "
        "ramp; silence within 2 s)",
    )
    override_loudness_rise_db_per_s: float = Field(
        3.0,
        gt=0.0,
        le=3.0,
        description="no longer used: a pinned loudness moves at loudness_slew_db_per_s like "
        "every other source (kept so older session files load)",
    )

    @field_validator("loudness_db_max")
    @classmethod
    def _loudness_cap(cls, v: float) -> float:
        if v > LOUDNESS_HARD_CAP_DB:
            raise ValueError(f"must be at most the hard cap of {LOUDNESS_HARD_CAP_DB:g} dBFS")
        return v

    @model_validator(mode="after")
    def _ranges(self) -> Safety:
        # after the fields, defaults included: `tempo_bpm_min = 150` alone meets the
        # default maximum of 115 here
        if self.tempo_bpm_max <= self.tempo_bpm_min:
            raise ValueError(
                f"tempo_bpm_min = {self.tempo_bpm_min:g} must be below tempo_bpm_max = "
                f"{self.tempo_bpm_max:g} (inverted tempo range)"
            )
        if self.loudness_db_max <= self.loudness_db_min:
            raise ValueError(
                f"loudness_db_min = {self.loudness_db_min:g} must be below loudness_db_max = "
                f"{self.loudness_db_max:g} (inverted loudness range)"
            )
        return self


class Estimator(_Model):
    """Affect estimation: baseline z-scores, linear fusion, smoothing (docs/science/affect.md).

    ``arousal = prior + gain * sum(w_i s_i z_i) / sum(w_i)`` over the available features,
    with signs s = +HR, -lnRMSSD, +engagement, -alpha.
    """

    prior_arousal: float | None = Field(
        0.6,
        ge=-1.0,
        le=1.0,
        description="intake rating of arousal (SAM 1..9 mapped to -1..1), the baseline "
        "anchor; unset: the estimate is the change from baseline (relative)",
    )
    prior_valence: float | None = Field(-0.2, ge=-1.0, le=1.0)
    w_hr: float = Field(1.0, ge=0.0, le=10.0)
    w_ln_rmssd: float = Field(1.0, ge=0.0, le=10.0)
    w_engagement: float = Field(0.5, ge=0.0, le=10.0)
    w_alpha: float = Field(0.5, ge=0.0, le=10.0)
    w_faa: float = Field(1.0, ge=0.0, le=10.0)
    w_valence_hr: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="weight of z(HR) in valence (docs/science/affect.md: a small HR term)",
    )
    w_hf: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="weight of ln HF power (sign -1; needs >= 60 s of beats); forced to 0 "
        "with features.paced_breathing_hz > 0",
    )
    arousal_gain: float = Field(0.4, gt=0.0, le=5.0, description="arousal units per fused z")
    valence_gain: float = Field(0.3, gt=0.0, le=5.0, description="valence units per fused z")
    arousal_tau_s: float = Field(15.0, gt=0.0, le=600.0)
    valence_tau_s: float = Field(30.0, gt=0.0, le=600.0)
    stale_s: float = Field(
        3.0, gt=0.0, le=60.0, description="no new samples for this long: modality stale"
    )
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
    hold_timeout_s: float = Field(
        30.0, ge=0.0, le=3600.0, description="hold this long, then drift to neutral"
    )
    neutral_arousal: float = Field(-0.3, ge=-1.0, le=1.0, description="the calm preset")
    neutral_valence: float = Field(0.2, ge=-1.0, le=1.0)
    goal_ramp_s: float = Field(
        120.0,
        ge=0.0,
        le=3600.0,
        description="shortest ramp of the target to a goal changed mid-session, s",
    )
    learn_response: bool = Field(
        True,
        description="learn how this listener's arousal answers the music: size the push "
        "by it, and stop pushing (neutral preset, alarm) on a paradoxical or absent "
        "response (docs/science/response.md)",
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


class Features(_Model):
    """Which physiological features feed the estimator, and their windows (docs/science/).

    A modality switched off gets no feature stage: its streams are not read and its
    features stay empty in the record. The weights of the individual features are in
    :class:`Estimator`.
    """

    hrv: bool = Field(
        True, description="use the cardiac stream (ECG, PPG or RR): HR, ln RMSSD, SDNN, HF"
    )
    eeg: bool = Field(True, description="use the EEG stream: band powers, engagement, FAA")
    hrv_window_s: float = Field(
        60.0, ge=10.0, le=300.0, description="time-domain HRV window (HR, RMSSD, SDNN), s"
    )
    hrv_spectral_window_s: float = Field(
        150.0, ge=60.0, le=600.0, description="frequency-domain HRV window (HF, LF), s"
    )
    eeg_window_s: float = Field(
        4.0, ge=1.0, le=60.0, description="EEG band-power window (Welch segments in it), s"
    )
    eeg_segment_s: float = Field(
        2.0, ge=0.25, le=10.0, description="Welch segment length, s (50 % overlap)"
    )
    eeg_notch_hz: Literal[50, 60] | None = Field(
        None, description="mains notch, Hz (50 or 60); unset: none"
    )
    eeg_highpass_hz: float | None = Field(
        None, gt=0.0, le=5.0, description="causal 2nd-order high-pass corner, Hz; unset: none"
    )
    paced_breathing_hz: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="paced (resonance) breathing rate, Hz (0.1 = 6 breaths/min; 0 = none): "
        "frequency-domain HRV features leave the arousal estimate (RSA moves from HF into "
        "LF) and the music swells with the breath",
    )

    @field_validator("eeg_segment_s")
    @classmethod
    def _segment_fits(cls, v: float, info: ValidationInfo) -> float:
        win = info.data.get("eeg_window_s")
        if win is not None and v > win:
            raise ValueError(f"must not exceed eeg_window_s = {win:g} s")
        return v

    @field_validator("paced_breathing_hz")
    @classmethod
    def _breathing_rate(cls, v: float) -> float:
        lo, hi = PACED_BREATHING_RANGE_HZ
        if v != 0.0 and not lo <= v <= hi:
            raise ValueError(
                f"must be 0 (none) or in [{lo:g}, {hi:g}] Hz ({lo * 60:g}-{hi * 60:g} breaths/min)"
            )
        return v

    @model_validator(mode="after")
    def _some_input(self) -> Features:
        if not (self.hrv or self.eeg):
            raise ValueError("hrv and eeg are both false: the estimator would have no input")
        return self


class Audio(_Model):
    """Sound output besides the session WAV (``render_audio``, ``sample_rate_hz``)."""

    device: int | str | None = Field(
        None,
        description="live output device of real-time sessions (attune run, attune simulate "
        "--realtime): portaudio index or (part of) its name as `attune devices` lists it, "
        "'default' for the system default; unset: no live playback",
    )
    palette: Literal["piano", "ambient"] = Field(
        "piano",
        description="instruments: 'piano' (flute lead, electric piano, warm pad, round bass) "
        "or 'ambient' (celesta lead, harp, slow string pad, soft synth bass)",
    )
    breathing_pacer: bool = Field(
        False,
        description="a soft tone rising on each inhale and falling on each exhale (needs "
        "features.paced_breathing_hz > 0)",
    )

    @field_validator("device")
    @classmethod
    def _device(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and v < 0:
            raise ValueError("a device index must be >= 0")
        if isinstance(v, str) and not v.strip():
            raise ValueError("must name a device (or be left out)")
        return v


class Midi(_Model):
    """Live MIDI output; the session's ``session.mid`` file is always written."""

    port: str | None = Field(
        None,
        min_length=1,
        description="MIDI output port (or part of its name, as `attune devices` lists it) "
        "that real-time sessions play to; unset: none",
    )


class Simulation(_Model):
    """The simulated listener (docs/science/listener.md)."""

    arousal0: float = Field(0.6, ge=-1.0, le=1.0)
    valence0: float = Field(-0.2, ge=-1.0, le=1.0)
    ecg_fs: float = Field(250.0, ge=100.0, le=2000.0)
    eeg_fs: float = Field(
        256.0, ge=100.0, le=2048.0, description="EEG rate, Hz (above 90: the 1-45 Hz bands)"
    )
    eeg_channels: tuple[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,16}$")], ...] = Field(
        ("AF7", "AF8", "TP9", "TP10"), strict=False, min_length=1, max_length=64
    )


class LiveStream(_Model):
    """One LSL stream a live session reads (``attune run``): by kind, name or source id."""

    kind: Literal["eeg", "ecg", "ppg", "rr", "markers"]
    name: str | None = None
    source_id: str | None = None
    stale_after_s: float = Field(2.0, gt=0.0, le=60.0, description="no samples this long: stale")


class SessionOptions(_Model):
    """What a session keeps beyond ticks, beats and events (``[session]``)."""

    store_feeling_text: bool = Field(
        False,
        description="keep the words of a described feeling with its rating (only with the "
        "client's consent); false: only the scores are stored",
    )
    keep_signals: bool = Field(
        True,
        description="keep the raw signals the engine steered on in the session store "
        "(compressed), so `attune replay SESSION_FOLDER` replays the session exactly",
    )


class SessionConfig(_Model):
    """A whole session. The defaults are the 10-minute demo on the simulated listener."""

    name: str = Field("demo", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    participant: str = Field("sim-001", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="pseudonym")
    seed: int = Field(7, ge=0, le=2**32 - 1)
    tick_s: float = Field(0.25, ge=0.05, le=2.0)
    goal: Goal = Goal()
    phases: Phases = Phases()
    safety: Safety = Safety()
    estimator: Estimator = Estimator()
    control: Control = Control()
    simulation: Simulation = Simulation()
    features: Features = Features()
    audio: Audio = Audio()
    midi: Midi = Midi()
    session: SessionOptions = SessionOptions()
    streams: tuple[LiveStream, ...] = Field(
        (),
        strict=False,
        max_length=16,
        description="LSL streams of a live session; the first of each kind is used",
    )
    lsl_outlets: bool = Field(
        False,
        description="publish state, music and markers over LSL (opt-in; attune run --lsl-out)",
    )
    output_dir: Path | None = Field(
        None,
        strict=False,
        description="where the session folder goes; unset: the data home's sessions/ "
        "(attune.sessions.home: ATTUNE_HOME, the settings file, or the platform data dir)",
    )
    record_paths: bool = Field(
        False,
        description="keep absolute file paths (the replayed file, output_dir) in the record "
        "and report; off: file and folder names only (--record-paths)",
    )
    render_audio: bool = Field(True, description="render the music to session.wav (offline)")
    sample_rate_hz: int = Field(
        48000, ge=22050, le=96000, description="audio sample rate, Hz (a multiple of 960)"
    )

    @field_validator("sample_rate_hz")
    @classmethod
    def _whole_buffers(cls, v: int) -> int:
        if v % 960:
            raise ValueError(
                "must be a multiple of 960 Hz (240-sample synth buffers tiling a tick), "
                "e.g. 48000 or 96000"
            )
        return v

    @model_validator(mode="after")
    def _pacer_needs_breathing(self) -> SessionConfig:
        if self.audio.breathing_pacer and self.features.paced_breathing_hz == 0.0:
            raise ValueError(
                "audio.breathing_pacer needs features.paced_breathing_hz > 0 (the pacing rate)"
            )
        return self


def _known_keys(loc: tuple) -> list[str]:
    """Return the keys allowed in the table holding ``loc`` (for "did you mean")."""
    model: type[BaseModel] = SessionConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))
        sub = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is None:
            return []
        model = sub
    return list(model.model_fields)


#: pydantic's bound error types: the operator to show and the key of the bound.
_BOUND_ERRORS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line naming the source, the field path, the rule and the bad value.

    E.g. ``relax.toml: safety.loudness_db_max: must be at most the hard cap of -12 dBFS,
    got -3.0``.
    """
    import difflib

    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    kind = first["type"]
    msg = first["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    if kind in _BOUND_ERRORS:
        op, key = _BOUND_ERRORS[kind]
        msg = f"must be {op} {first['ctx'][key]}"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(first["loc"][-1]), _known_keys(first["loc"]), n=1)
        msg = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    shown = (
        "input" in first
        and kind not in ("missing", "extra_forbidden")
        and not isinstance(first["input"], dict)
    )
    got = repr(first["input"]) if shown else ""
    value = f", got {got[:77] + '...' if len(got) > 80 else got}" if shown else ""
    where = f"{loc}: " if loc else ""
    return f"{source}: {where}{msg}{value}{more}".replace("\n", " ")


def load_config(path: Path | str) -> SessionConfig:
    """Read and validate a TOML session file.

    Raises
    ------
    ConfigError
        With a one-line message naming the file and the offending field.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {size} bytes, too large for a session file")
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such session file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: a folder, not a session file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a text file (not UTF-8 at byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {str(e).splitlines()[0]}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    return validate_config(raw, source=str(path))


def validate_config(raw: dict, *, source: str = "config") -> SessionConfig:
    """Validate a plain dict into a :class:`SessionConfig` (one-line :class:`ConfigError`)."""
    try:
        return SessionConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source)) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply") from None


def dump_config(cfg: SessionConfig, *, in_record: bool = False) -> str:
    """Return the config as TOML text (what a session folder keeps as ``config.toml``).

    ``in_record``: the copy a session's record keeps; unless ``record_paths``, an absolute
    ``output_dir`` is kept as its folder name only, so the record names no user's home or
    disk layout.
    """
    import tomli_w

    data = cfg.model_dump(mode="json", exclude_none=True)
    if (
        in_record
        and not cfg.record_paths
        and cfg.output_dir is not None
        and cfg.output_dir.is_absolute()
    ):
        data["output_dir"] = cfg.output_dir.name or "."
    return tomli_w.dumps(data)
