"""A seeded simulated listener: its own response to music, and physiology that varies.

:class:`SimulatedListener` holds one latent core-affect trajectory (arousal ``A`` and
valence ``V`` in [-1, 1]) and renders it as an ECG stream and an EEG stream (plus an
optional RR-interval stream), each a :class:`~attune.sensors.types.Source` with
``pull(t) -> Chunk``. The session tells the listener what music is playing with
:meth:`SimulatedListener.hear`, as the played parameters in a plain mapping (the fields of
``MusicParams``; this package never imports the synthesizer). The listener hears them
through its own response model (:mod:`attune.sensors.listener_response`), not through the
controller's cue table.

Everything is generated lazily, on demand, and is deterministic for a seed regardless
of how the streams are pulled: the latent process is integrated on a fixed step of
:data:`DT_S` seconds, randomness comes from generators seeded per block of steps, beats
or samples (``numpy.random.default_rng([seed, stream, block])``), and filters carry
their state between pulls.

Model [E] (docs/science/listeners.md; the forms are engineering choices, the ranges are
from the literature and the real recordings cited there):

* Core affect (Ornstein-Uhlenbeck, Kuppens et al. 2010)::

      dA = theta (mu_A + r_A(t - L) - A) dt + sigma dW_A
      dV = theta (mu_V + r_V(t - L) - V) dt + sigma dW_V

  with ``theta = 1 / tau_s`` (30-180 s), ``L = lag_s`` the dead time (1-10 s) and
  ``(r_A, r_V)`` the listener's response to the music heard
  (:class:`attune.sensors.listener_response.ResponseDynamics`: personal cue
  sensitivities, liking and familiarity, habituation, saturation). Silence: ``r = 0``.
  Euler-Maruyama, clipped to [-1, 1].
* Heart rate: ``HR = hr0 + hr_gain A_h + hr_valence_gain V + VLF + Mayer`` where
  ``A_h = A + e_h`` is arousal plus a heart-only disturbance ``e_h`` (OU), reached through
  a vagal first-order low-pass (``vagal_tau_s``, share ``vagal_share``) and a
  sympathetic path (delay ``hr_delay_s``, time constant ``hr_tau_s``). Fluctuations
  unrelated to the music: two OU components (``vlf_fast_bpm`` over ``vlf_fast_tau_s``,
  ``vlf_slow_bpm`` over ``vlf_slow_tau_s``; together a 1/f-like spectrum), Mayer waves
  (a noise-driven resonator at ``mayer_hz`` ~0.1 Hz, ``mayer_bpm`` RMS). Respiratory
  sinus arrhythmia at a breathing rate that wanders (``resp_var_ln``), with an
  amplitude calibrated so that the RMSSD of the beats is about ``rmssd0_ms *
  exp(-rmssd_gain * vagal A_h + m)``, ``m`` an OU of SD ``rsa_var_ln``. Beats by
  integral pulse frequency modulation, small beat jitter, ectopic (premature beat with
  compensatory pause), missed and extra beats at ``ectopic_rate`` per beat.
* ECG: sum of Gaussian P, Q, R, S, T waves per beat (ECGSYN-like, McSharry et al.
  2003), baseline wander, white noise, optional mains.
* EEG: per channel 1/f background, alpha (8-12 Hz band-limited noise) whose amplitude is
  ``alpha_uv * exp(-alpha_arousal_gain * A_e + w(t))`` with ``A_e = A + e_e`` (an
  EEG-only disturbance, independent of ``e_h``) and ``w`` the alpha's own waxing and
  waning (fast and slow log-amplitude OU, ``alpha_wax_ln``, ``alpha_drift_ln``); beta
  ``beta_uv * exp(beta_arousal_gain * A_e)``; theta; frontal alpha asymmetry ``ln
  P_alpha(AF8) - ln P_alpha(AF7) = faa_baseline + faa_gain * V``; blinks at frontal
  channels and EMG bursts (30-100 Hz).

References
----------
.. [1] Kuppens, P., Oravecz, Z., Tuerlinckx, F. (2010). Feelings change: accounting for
   individual differences in the temporal dynamics of affect. J Pers Soc Psychol 99(6).
.. [2] McSharry, P. E., Clifford, G. D., Tarassenko, L., Smith, L. A. (2003). A dynamical
   model for generating synthetic electrocardiogram signals. IEEE Trans Biomed Eng 50(3).
.. [3] Koelsch, S., Jancke, L. (2015). Music and the heart. Eur Heart J 36(44).
.. [4] Task Force of the ESC and NASPE (1996). Heart rate variability: standards of
   measurement. Circulation 93(5).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

import numpy as np
from scipy import signal

from attune.sensors.listener_response import (
    ResponseDynamics,
    ResponseTraits,
    presence,
    static_drive,
)
from attune.sensors.types import Chunk, SensorError, Source, StreamInfo, empty_chunk

#: Integration step of the latent trajectory, in seconds.
DT_S: float = 0.05
#: How far ahead of a requested time the ECG needs the latent trajectory (P wave onset and
#: beat jitter), in seconds. ``lag_s`` must exceed it so music heard at ``t`` is never
#: needed by a step already integrated.
LOOKAHEAD_S: float = 0.45
_STEP_BLOCK = 200  # latent noise block: 200 steps = 10 s
_BEAT_BLOCK = 256  # per-beat randomness block
_EVENT_BLOCK_S = 10.0  # blink / EMG event block
_SAMPLE_BLOCK = 2560  # per-sample noise block
_ECG_WIN = (-0.40, 0.65)  # extent of one beat's waveform around its R peak, s
_JITTER_CLIP_S = 0.006

# Stream codes mixed into the seeds.
_C_INIT, _C_LATENT, _C_BEAT, _C_ECG, _C_EEG, _C_BLINK, _C_EMG = 0, 1, 2, 3, 4, 5, 6
_C_EXO, _C_BURN = 7, 8

_LEFT_FRONTAL = frozenset({"AF7", "AF3", "F7", "F3", "FP1", "F5", "F1"})
_RIGHT_FRONTAL = frozenset({"AF8", "AF4", "F8", "F4", "FP2", "F6", "F2"})

# Rows of the exogenous (music-independent) processes on the latent grid.
_X_EH, _X_EE, _X_VF, _X_VS, _X_MAYER, _X_RSA, _X_RESP, _X_AW, _X_AD = range(9)
_N_EXO = 9


@dataclass(frozen=True)
class ListenerTraits:
    """Per-person physiology and affect dynamics ([E], docs/science/listeners.md).

    The response to music is separate (:class:`~attune.sensors.listener_response.
    ResponseTraits`). Defaults: a resting, somewhat aroused adult with the variability
    of real resting records; ``*_var``/``*_bpm``/``*_sd`` fields set to 0 give a quiet,
    idealised heart and EEG for unit tests.

    Attributes
    ----------
    arousal_mu, valence_mu : float
        Resting set points of arousal and valence without music, in [-1, 1].
    tau_s : float
        Relaxation time constant ``1/theta`` of core affect in s (30-180 s).
    lag_s : float
        Dead time between a musical change and its effect on affect, s (1-10 s).
    sigma : float
        Diffusion of the OU process, arousal units per sqrt(s).
    hr0_bpm : float
        Heart rate at ``A = 0``, beats per minute.
    hr_gain_bpm : float
        Heart-rate change per unit arousal, bpm.
    hr_valence_gain_bpm : float
        Heart-rate change per unit valence (a weak trace), bpm.
    hr_delay_s, hr_tau_s : float
        Delay (s) and first-order time constant (s) of the sympathetic path.
    vagal_tau_s : float
        Time constant of the vagal low-pass (s); 1.6 s is a ~0.1 Hz corner.
    vagal_share : float
        Fraction of the HR response carried by the fast vagal path, 0-1.
    heart_noise_sd, heart_noise_tau_s : float
        SD (arousal units) and time constant (s) of the heart-only disturbance ``e_h``.
    eeg_noise_sd, eeg_noise_tau_s : float
        The same for the EEG-only disturbance ``e_e``.
    vlf_fast_bpm, vlf_fast_tau_s, vlf_slow_bpm, vlf_slow_tau_s : float
        SD (bpm) and time constant (s) of the two OU heart-rate components unrelated to
        arousal.
    mayer_bpm, mayer_hz : float
        RMS (bpm) and centre frequency (Hz) of the Mayer-wave resonator (bandwidth
        0.03 Hz).
    rmssd0_ms : float
        Target RMSSD of the beats at ``A = 0``, ms.
    rmssd_gain : float
        ``RMSSD = rmssd0_ms * exp(-rmssd_gain * A + m)``.
    rsa_var_ln : float
        SD of ``m``, ln units (OU, time constant 60 s).
    resp_rate_hz : float
        Mean breathing rate, Hz (0.25 Hz = 15 breaths/min).
    resp_var_ln : float
        SD of the ln breathing rate around its mean (OU, time constant 60 s).
    beat_jitter_ms : float
        Standard deviation of the random jitter of each beat time, ms.
    alpha_uv, beta_uv, theta_uv, background_uv : float
        RMS amplitudes in uV of the EEG alpha, beta and theta rhythms at ``A = 0`` and of
        the 1/f background.
    alpha_arousal_gain : float
        Alpha amplitude is ``alpha_uv * exp(-alpha_arousal_gain * A_e + w)``.
    alpha_wax_ln, alpha_drift_ln : float
        SDs of the fast (time constant 1.5 s) and slow (40 s) parts of ``w``, ln units.
    beta_arousal_gain : float
        Beta amplitude is ``beta_uv * exp(beta_arousal_gain * A_e)``.
    faa_baseline : float
        ``ln P_alpha(right) - ln P_alpha(left)`` at ``V = 0``, ln units.
    faa_gain : float
        Change of that asymmetry per unit valence, ln units.
    ectopic_rate : float
        Probability per beat of an ectopic, missed or extra beat (0.005-0.05 when
        wanted, 0 for a clean heart).
    blink_rate_hz : float
        Mean rate of eye blinks (Poisson), Hz.
    emg_rate_hz : float
        Mean rate of EMG bursts (Poisson), Hz.
    ecg_noise_mv : float
        RMS of white noise on the ECG, mV.
    mains_mv, eeg_mains_uv : float
        Amplitude of mains interference on the ECG (mV) and EEG (uV).
    mains_hz : float
        Mains frequency, Hz.
    """

    arousal_mu: float = 0.6
    valence_mu: float = -0.2
    tau_s: float = 60.0
    lag_s: float = 3.0
    sigma: float = 0.02
    hr0_bpm: float = 72.0
    hr_gain_bpm: float = 5.0
    hr_valence_gain_bpm: float = -0.5
    hr_delay_s: float = 2.0
    hr_tau_s: float = 15.0
    vagal_tau_s: float = 1.6
    vagal_share: float = 0.4
    heart_noise_sd: float = 0.1
    heart_noise_tau_s: float = 120.0
    eeg_noise_sd: float = 0.15
    eeg_noise_tau_s: float = 60.0
    vlf_fast_bpm: float = 0.8
    vlf_fast_tau_s: float = 20.0
    vlf_slow_bpm: float = 2.0
    vlf_slow_tau_s: float = 300.0
    mayer_bpm: float = 0.8
    mayer_hz: float = 0.1
    rmssd0_ms: float = 40.0
    rmssd_gain: float = 0.4
    rsa_var_ln: float = 0.12
    resp_rate_hz: float = 0.25
    resp_var_ln: float = 0.08
    beat_jitter_ms: float = 2.0
    alpha_uv: float = 8.0
    beta_uv: float = 4.0
    theta_uv: float = 4.0
    background_uv: float = 10.0
    alpha_arousal_gain: float = 0.35
    alpha_wax_ln: float = 0.35
    alpha_drift_ln: float = 0.25
    beta_arousal_gain: float = 0.3
    faa_baseline: float = 0.0
    faa_gain: float = 0.15
    ectopic_rate: float = 0.0
    blink_rate_hz: float = 0.0
    emg_rate_hz: float = 0.0
    ecg_noise_mv: float = 0.01
    mains_mv: float = 0.0
    eeg_mains_uv: float = 0.0
    mains_hz: float = 50.0

    def __post_init__(self) -> None:
        rules = [
            ("arousal_mu", -1.0 <= self.arousal_mu <= 1.0, "in [-1, 1]"),
            ("valence_mu", -1.0 <= self.valence_mu <= 1.0, "in [-1, 1]"),
            ("tau_s", self.tau_s > 0, "> 0"),
            ("lag_s", self.lag_s >= LOOKAHEAD_S + DT_S, f">= {LOOKAHEAD_S + DT_S:g} s"),
            ("sigma", self.sigma >= 0, ">= 0"),
            ("hr0_bpm", 30.0 <= self.hr0_bpm <= 150.0, "in [30, 150] bpm"),
            ("hr_delay_s", self.hr_delay_s >= 0, ">= 0"),
            ("hr_tau_s", self.hr_tau_s > 0, "> 0"),
            ("vagal_tau_s", self.vagal_tau_s > 0, "> 0"),
            ("vagal_share", 0.0 <= self.vagal_share <= 1.0, "in [0, 1]"),
            ("heart_noise_tau_s", self.heart_noise_tau_s > 0, "> 0"),
            ("eeg_noise_tau_s", self.eeg_noise_tau_s > 0, "> 0"),
            ("vlf_fast_tau_s", self.vlf_fast_tau_s > 0, "> 0"),
            ("vlf_slow_tau_s", self.vlf_slow_tau_s > 0, "> 0"),
            ("mayer_hz", 0.03 <= self.mayer_hz <= 0.2, "in [0.03, 0.2] Hz"),
            ("rmssd0_ms", self.rmssd0_ms > 0, "> 0"),
            ("resp_rate_hz", 0.05 <= self.resp_rate_hz <= 0.5, "in [0.05, 0.5] Hz"),
            ("beat_jitter_ms", self.beat_jitter_ms >= 0, ">= 0"),
            ("ectopic_rate", 0.0 <= self.ectopic_rate <= 0.2, "in [0, 0.2]"),
            ("blink_rate_hz", self.blink_rate_hz >= 0, ">= 0"),
            ("emg_rate_hz", self.emg_rate_hz >= 0, ">= 0"),
        ]
        for name in (
            "heart_noise_sd",
            "eeg_noise_sd",
            "vlf_fast_bpm",
            "vlf_slow_bpm",
            "mayer_bpm",
            "rsa_var_ln",
            "resp_var_ln",
            "alpha_wax_ln",
            "alpha_drift_ln",
        ):
            rules.append((name, getattr(self, name) >= 0, ">= 0"))
        for name, ok, rule in rules:
            if not ok:
                raise SensorError(
                    f"ListenerTraits.{name} must be {rule}, got {getattr(self, name)!r}"
                )

    @classmethod
    def draw(cls, rng: np.random.Generator, **overrides: float) -> ListenerTraits:
        """Draw a random plausible person (physiology and affect dynamics).

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        **overrides : float
            Traits to set instead of drawing (e.g. ``ectopic_rate=0.01``).

        Returns
        -------
        ListenerTraits
            Set points, gains, time constants and variability drawn from the ranges of
            docs/science/listeners.md. The response to music is drawn separately
            (:func:`attune.sensors.listener_population.draw_population`).
        """
        u = rng.uniform
        values: dict[str, float] = {
            "arousal_mu": u(0.2, 0.8),
            "valence_mu": u(-0.5, 0.2),
            "tau_s": u(30.0, 180.0),
            "lag_s": u(1.0, 10.0),
            "sigma": u(0.008, 0.02),
            "hr0_bpm": u(60.0, 85.0),
            "hr_gain_bpm": u(2.0, 8.0),
            "hr_valence_gain_bpm": u(-1.5, 0.5),
            "hr_delay_s": u(1.0, 3.0),
            "hr_tau_s": u(10.0, 20.0),
            "heart_noise_sd": u(0.05, 0.2),
            "heart_noise_tau_s": u(60.0, 240.0),
            "eeg_noise_sd": u(0.05, 0.25),
            "eeg_noise_tau_s": u(30.0, 120.0),
            "vlf_fast_bpm": u(0.5, 1.3),
            "vlf_fast_tau_s": u(10.0, 40.0),
            "vlf_slow_bpm": u(2.2, 4.2),
            "vlf_slow_tau_s": u(80.0, 240.0),
            "mayer_bpm": u(0.4, 1.4),
            "mayer_hz": u(0.08, 0.12),
            "rmssd0_ms": float(np.exp(u(np.log(20.0), np.log(70.0)))),
            "rmssd_gain": u(0.2, 0.6),
            "rsa_var_ln": u(0.1, 0.2),
            "resp_rate_hz": u(0.2, 0.33),
            "resp_var_ln": u(0.04, 0.12),
            "alpha_uv": u(5.0, 12.0),
            "alpha_arousal_gain": u(0.1, 0.5),
            "alpha_wax_ln": u(0.25, 0.45),
            "alpha_drift_ln": u(0.15, 0.35),
            "beta_uv": u(3.0, 5.0),
            "beta_arousal_gain": u(0.1, 0.4),
            "theta_uv": u(3.0, 5.0),
            "background_uv": u(7.0, 13.0),
            "faa_baseline": u(-0.1, 0.1),
            "faa_gain": u(0.05, 0.2),
        }
        names = {f.name for f in fields(cls)}
        for key in overrides:
            if key not in names:
                raise SensorError(f"ListenerTraits.draw: unknown trait {key!r}")
        values.update(overrides)
        return cls(**values)

    def quiet(self) -> ListenerTraits:
        """Return a copy without the variability unrelated to arousal (for unit tests)."""
        from dataclasses import replace

        return replace(
            self,
            heart_noise_sd=0.0,
            eeg_noise_sd=0.0,
            vlf_fast_bpm=0.0,
            vlf_slow_bpm=0.0,
            mayer_bpm=0.0,
            rsa_var_ln=0.0,
            resp_var_ln=0.0,
            alpha_wax_ln=0.0,
            alpha_drift_ln=0.0,
        )


@dataclass(frozen=True)
class ListenerHistory:
    """The latent trajectory integrated so far, on the fixed grid of :data:`DT_S`.

    Attributes
    ----------
    t : ndarray, shape (n,)
        Times in s on the session clock.
    arousal, valence : ndarray, shape (n,)
        True latent arousal and valence in [-1, 1].
    hr_bpm : ndarray, shape (n,)
        Latent heart rate in bpm (arousal paths, valence trace, VLF and Mayer
        components; without respiratory sinus arrhythmia and beat jitter).
    response_arousal, response_valence : ndarray, shape (n,)
        The music's displacement ``(r_A, r_V)`` of the equilibrium acting at each step.
    """

    t: np.ndarray
    arousal: np.ndarray
    valence: np.ndarray
    hr_bpm: np.ndarray
    response_arousal: np.ndarray
    response_valence: np.ndarray


def _rng(seed: int, code: int, block: int) -> np.random.Generator:
    return np.random.default_rng([seed, code, block])


class _BlockNoise:
    """Standard normal noise indexed by sample number, drawn in seeded blocks.

    With ``post``, each raw block passes through ``post`` (e.g. stateful filters) in
    block order, so the output does not depend on how the samples are requested; blocks
    must then be requested going forward (old blocks are dropped).
    """

    def __init__(
        self,
        seed: int,
        code: int,
        n_rows: int,
        post: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self._seed, self._code, self._n_rows = seed, code, n_rows
        self._post = post
        self._done = 0  # blocks passed through ``post`` so far
        self._cache: dict[int, np.ndarray] = {}

    def _raw(self, b: int) -> np.ndarray:
        return _rng(self._seed, self._code, b).standard_normal((self._n_rows, _SAMPLE_BLOCK))

    def _block(self, b: int) -> np.ndarray:
        blk = self._cache.get(b)
        if blk is not None:
            return blk
        if self._post is None:
            blk = self._raw(b)
        else:
            if b < self._done:
                raise SensorError(f"simulated noise block {b} requested after it was dropped")
            while self._done <= b:
                blk = self._post(self._raw(self._done))
                self._cache[self._done] = blk
                self._done += 1
                if len(self._cache) > 4:
                    self._cache.pop(min(self._cache))
            return self._cache[b]
        if len(self._cache) > 4:
            self._cache.pop(min(self._cache))
        self._cache[b] = blk
        return blk

    def get(self, k0: int, k1: int) -> np.ndarray:
        out = np.empty((self._n_rows, k1 - k0))
        k = k0
        while k < k1:
            b, off = divmod(k, _SAMPLE_BLOCK)
            n = min(_SAMPLE_BLOCK - off, k1 - k)
            out[:, k - k0 : k - k0 + n] = self._block(b)[:, off : off + n]
            k += n
        return out


def _n_upto(t_rel: float, fs: float) -> int:
    """Count the samples ``k >= 0`` with ``k / fs <= t_rel``."""
    if t_rel < 0:
        return 0
    k = int(math.floor(t_rel * fs))
    while (k + 1) / fs <= t_rel:
        k += 1
    while k >= 0 and k / fs > t_rel:
        k -= 1
    return k + 1


class _ExoNoise:
    """The music-independent processes on the latent grid, in seeded blocks.

    Rows (:data:`_X_EH` ...): heart-only and EEG-only arousal disturbances, two VLF
    heart-rate components, the Mayer resonator, the RSA amplitude and breathing-rate
    modulations, and the fast and slow alpha log-amplitude. Each row is white noise of
    block ``b`` (``default_rng([seed, _C_EXO, b])``) through a unit-variance filter whose
    state carries from block to block, started in its stationary state by a burn-in,
    then scaled by its SD. Blocks must be requested in order.
    """

    def __init__(self, seed: int, tr: ListenerTraits) -> None:
        self._seed = seed
        dt = DT_S

        def ar1(tau: float) -> np.ndarray:
            phi = math.exp(-dt / tau)
            return np.array([[math.sqrt(1.0 - phi * phi), 0.0, 0.0, 1.0, -phi, 0.0]])

        r = math.exp(-math.pi * 0.03 * dt)
        w = 2.0 * math.pi * tr.mayer_hz * dt
        mayer = _unit_rms_sos(np.array([[1.0, 0.0, 0.0, 1.0, -2.0 * r * math.cos(w), r * r]]))
        spec = [
            (ar1(tr.heart_noise_tau_s), tr.heart_noise_sd, tr.heart_noise_tau_s),
            (ar1(tr.eeg_noise_tau_s), tr.eeg_noise_sd, tr.eeg_noise_tau_s),
            (ar1(tr.vlf_fast_tau_s), tr.vlf_fast_bpm, tr.vlf_fast_tau_s),
            (ar1(tr.vlf_slow_tau_s), tr.vlf_slow_bpm, tr.vlf_slow_tau_s),
            (mayer, tr.mayer_bpm, 1.0 / (math.pi * 0.03)),
            (ar1(60.0), tr.rsa_var_ln, 60.0),
            (ar1(60.0), tr.resp_var_ln, 60.0),
            (ar1(1.5), tr.alpha_wax_ln, 1.5),
            (ar1(40.0), tr.alpha_drift_ln, 40.0),
        ]
        self._sos = [s for s, _, _ in spec]
        self._sd = np.array([sd for _, sd, _ in spec])
        self._zi = []
        burn = _rng(seed, _C_BURN, 0)
        for sos, _, tau in spec:
            n = min(int(6.0 * tau / dt), 40_000)
            zi = np.zeros((sos.shape[0], 2))
            _, zi = signal.sosfilt(sos, burn.standard_normal(n), zi=zi)
            self._zi.append(zi)
        self._next = 0

    def block(self, b: int) -> np.ndarray:
        """Rows of block ``b``, shape (:data:`_N_EXO`, :data:`_STEP_BLOCK`)."""
        if b != self._next:
            raise SensorError(f"simulated exogenous block {b} requested out of order")
        z = _rng(self._seed, _C_EXO, b).standard_normal((_N_EXO, _STEP_BLOCK))
        out = np.empty_like(z)
        for i, sos in enumerate(self._sos):
            out[i], self._zi[i] = signal.sosfilt(sos, z[i], zi=self._zi[i])
        self._next += 1
        return out * self._sd[:, None]


class SimulatedListener:
    """A seeded person whose ECG and EEG answer the music (see the module docstring).

    Parameters
    ----------
    seed : int
        Seed (>= 0); the same seed, traits and music give the same samples whatever the
        pull pattern.
    traits : ListenerTraits, optional
        Physiology and affect dynamics; default :class:`ListenerTraits()`.
    response : ResponseTraits, optional
        How this person answers music; default
        :class:`~attune.sensors.listener_response.ResponseTraits()` (a moderate
        responder with the mean sensitivities).
    arousal0, valence0 : float, optional
        Initial latent state; default the traits' set points.
    ecg_fs : float
        ECG sampling rate in Hz.
    eeg_fs : float
        EEG sampling rate in Hz.
    eeg_channels : tuple of str
        EEG channel labels (Muse layout by default). Channels named AF7/F3/... (left)
        and AF8/F4/... (right) carry the frontal alpha asymmetry and blinks.
    t0 : float
        Session-clock time of the first sample, s.

    Attributes
    ----------
    ecg : Source
        ECG stream, one channel ``"ECG"`` in mV at ``ecg_fs``.
    eeg : Source
        EEG stream, ``eeg_channels`` in uV at ``eeg_fs``.
    rr : Source
        RR-interval stream (irregular, ``fs = 0``), one channel ``"RR"`` in ms, one
        sample per beat stamped at the beat (like a chest strap). Not in
        :meth:`sources`.

    Notes
    -----
    Call :meth:`hear` once per control tick with the music playing from ``t`` on,
    after pulling the sources up to ``t``. Music heard at ``t`` acts from ``t + lag_s``;
    a pull up to ``t`` integrates the latent trajectory to at most ``t + LOOKAHEAD_S``,
    so as long as :meth:`hear` is not called later than ``lag_s - LOOKAHEAD_S`` after the
    newest pull, the result does not depend on the pull pattern. Not thread-safe.
    """

    def __init__(
        self,
        *,
        seed: int,
        traits: ListenerTraits | None = None,
        response: ResponseTraits | None = None,
        arousal0: float | None = None,
        valence0: float | None = None,
        ecg_fs: float = 250.0,
        eeg_fs: float = 256.0,
        eeg_channels: tuple[str, ...] = ("AF7", "AF8", "TP9", "TP10"),
        t0: float = 0.0,
    ) -> None:
        if int(seed) != seed or seed < 0:
            raise SensorError(f"SimulatedListener: seed must be an integer >= 0, got {seed!r}")
        if not (ecg_fs >= 100.0):
            raise SensorError(f"SimulatedListener: ecg_fs must be >= 100 Hz, got {ecg_fs!r}")
        if not (eeg_fs >= 64.0):
            raise SensorError(f"SimulatedListener: eeg_fs must be >= 64 Hz, got {eeg_fs!r}")
        self.seed = int(seed)
        self.traits = ListenerTraits() if traits is None else traits
        self.response = ResponseTraits() if response is None else response
        self.t0 = float(t0)
        tr = self.traits
        a0 = tr.arousal_mu if arousal0 is None else float(np.clip(arousal0, -1.0, 1.0))
        v0 = tr.valence_mu if valence0 is None else float(np.clip(valence0, -1.0, 1.0))

        init = _rng(self.seed, _C_INIT, 0).uniform(size=8)
        self._resp_phase = 2.0 * math.pi * float(init[0])
        self._bw_phase = 2.0 * math.pi * init[1:3]
        self._dyn = ResponseDynamics(self.response)
        self._exo_src = _ExoNoise(self.seed, tr)

        # Latent trajectory, grown by doubling: index k is time k * DT_S after t0.
        cap = 4096
        self._a = np.empty(cap)
        self._v = np.empty(cap)
        self._hr = np.empty(cap)
        self._phase = np.empty(cap)
        self._vag = np.empty(cap)
        self._sym = np.empty(cap)
        self._ra = np.zeros(cap)
        self._rv = np.zeros(cap)
        self._x = np.zeros((_N_EXO, cap))
        self._n = 1
        self._a[0], self._v[0] = a0, v0
        self._x[:, :_STEP_BLOCK] = self._exo_src.block(0)
        self._x_done = _STEP_BLOCK  # grid steps of exogenous rows filled
        x0 = self._x[:, 0]
        self._vag[0] = self._sym[0] = a0 + x0[_X_EH]
        self._hr[0] = float(self._heart_rate(self._vag[0], self._sym[0], v0, x0))
        self._resp_ph = self._resp_phase
        self._phase[0] = float(init[3])  # first beat at a random point of the first RR
        self._noise_block = -1
        self._noise_arr = np.empty((2, 0))

        # Music schedule (times relative to t0): static drive (d_A, d_V, liking, presence).
        self._m_t: list[float] = []
        self._m_d: list[tuple[float, float, float, float]] = []

        # Beats (times relative to t0) and their kinds: 0 sinus, 1 ectopic, 2 extra.
        self._beat_t = np.empty(0)
        self._beat_kind = np.empty(0, dtype=np.int8)
        self._beat_rr = np.empty(0)  # interval before each beat, s
        self._raw_last = float("nan")  # last raw (IPFM) beat time

        self.ecg: Source = _EcgSource(self, ecg_fs)
        self.eeg: Source = _EegSource(self, eeg_fs, tuple(eeg_channels))
        self.rr: Source = _RrSource(self)

    # ------------------------------------------------------------------ public API
    def sources(self) -> list[Source]:
        """Return the sample streams ``[ecg, eeg]``."""
        return [self.ecg, self.eeg]

    def hear(self, t: float, music: Mapping[str, float] | None) -> None:
        """Tell the listener what music plays from time ``t`` on.

        Parameters
        ----------
        t : float
            Session-clock time in s; must not decrease between calls.
        music : mapping of str to float or None
            The played parameters (fields of ``MusicParams``: ``tempo_bpm``,
            ``loudness_db``, ``mode``, ``tension``, ``brightness``, ``density``,
            ``register_st``, ``fade``); None for silence.

        Notes
        -----
        The music acts on the latent state from ``t + lag_s`` on; steps of the
        trajectory already integrated (because a source was pulled further than
        ``t + lag_s - LOOKAHEAD_S``) are not recomputed.
        """
        tau = float(t) - self.t0
        if self._m_t and tau < self._m_t[-1]:
            raise SensorError(
                f"SimulatedListener.hear: t must not decrease, got {t!r} after "
                f"{self._m_t[-1] + self.t0!r}"
            )
        d_a, d_v, like = static_drive(music, self.response)
        drive = (d_a, d_v, like, presence(music))
        if self._m_t and tau == self._m_t[-1]:
            self._m_d[-1] = drive
            return
        self._m_t.append(tau)
        self._m_d.append(drive)

    def state_at(self, t: float) -> tuple[float, float]:
        """Return the true latent ``(arousal, valence)`` at time ``t`` (s).

        Linearly interpolated from the integrated trajectory; integrates up to ``t`` if
        needed (like a pull).
        """
        tau = float(t) - self.t0
        self._ensure(tau)
        a, v = self._interp(np.array([tau]))
        return float(a[0]), float(v[0])

    @property
    def history(self) -> ListenerHistory:
        """The latent trajectory integrated so far (copies)."""
        n = self._n
        return ListenerHistory(
            t=self.t0 + np.arange(n) * DT_S,
            arousal=self._a[:n].copy(),
            valence=self._v[:n].copy(),
            hr_bpm=self._hr[:n].copy(),
            response_arousal=self._ra[:n].copy(),
            response_valence=self._rv[:n].copy(),
        )

    def beat_times(self, t: float) -> np.ndarray:
        """Return the true R-peak times (s, session clock) up to ``t``, shape (n_beats,).

        Includes ectopic and extra beats and lacks missed beats, exactly as drawn in the
        ECG; use :meth:`beat_kinds` to tell them apart.
        """
        tau = float(t) - self.t0
        self._ensure(tau + _JITTER_CLIP_S + DT_S)
        n = int(np.searchsorted(self._beat_t, tau, side="right"))
        return self.t0 + self._beat_t[:n]

    def beat_kinds(self, t: float) -> np.ndarray:
        """Return the kind of each beat of :meth:`beat_times`: 0 sinus, 1 ectopic, 2 extra."""
        n = self.beat_times(t).size
        return self._beat_kind[:n].copy()

    # ------------------------------------------------------------------ internals
    def _heart_rate(self, vag, sym, v, x: np.ndarray):
        """Latent HR (bpm) from the vagal and sympathetic paths, valence and VLF/Mayer.

        Scalars or arrays of one length (``x``: exogenous rows, shape (_N_EXO,) or
        (_N_EXO, n)).
        """
        tr = self.traits
        w = tr.vagal_share
        hr = (
            tr.hr0_bpm
            + tr.hr_gain_bpm * (w * vag + (1.0 - w) * sym)
            + tr.hr_valence_gain_bpm * v
            + x[_X_VF]
            + x[_X_VS]
            + x[_X_MAYER]
        )
        return np.clip(hr, 35.0, 180.0)

    def _drives(self, taus: np.ndarray) -> np.ndarray:
        """Return the static drive rows (d_A, d_V, liking, presence) heard at ``taus``."""
        out = np.zeros((4, taus.size))
        if not self._m_t:
            return out
        lo = max(bisect_right(self._m_t, float(taus[0])) - 1, 0)
        seg_t = np.asarray(self._m_t[lo:])
        idx = np.searchsorted(seg_t, taus, side="right") - 1
        seg_d = np.asarray(self._m_d[lo:]).T
        ok = idx >= 0
        out[:, ok] = seg_d[:, idx[ok]]
        return out

    def _latent_noise(self, k0: int, k1: int) -> np.ndarray:
        """Return standard normal increments of (A, V), steps ``k0 .. k1 - 1``, shape (2, n)."""
        parts = []
        for blk in range(k0 // _STEP_BLOCK, (k1 - 1) // _STEP_BLOCK + 1):
            if blk != self._noise_block:
                self._noise_arr = _rng(self.seed, _C_LATENT, blk).standard_normal((2, _STEP_BLOCK))
                self._noise_block = blk
            lo = max(k0 - blk * _STEP_BLOCK, 0)
            hi = min(k1 - blk * _STEP_BLOCK, _STEP_BLOCK)
            parts.append(self._noise_arr[:, lo:hi])
        return np.hstack(parts)

    def _grow(self, need: int) -> None:
        cap = self._a.size
        need_x = (need // _STEP_BLOCK + 2) * _STEP_BLOCK
        if need_x > cap:
            new_cap = max(need_x, 2 * cap)
            for name in ("_a", "_v", "_hr", "_phase", "_vag", "_sym", "_ra", "_rv"):
                old = getattr(self, name)
                arr = np.zeros(new_cap)
                arr[: self._n] = old[: self._n]
                setattr(self, name, arr)
            x = np.zeros((_N_EXO, new_cap))
            x[:, : self._x_done] = self._x[:, : self._x_done]
            self._x = x
        while self._x_done < need_x:
            b = self._x_done // _STEP_BLOCK
            self._x[:, self._x_done : self._x_done + _STEP_BLOCK] = self._exo_src.block(b)
            self._x_done += _STEP_BLOCK

    def _ensure(self, tau: float) -> None:
        """Integrate the latent trajectory so that grid time >= ``tau`` exists.

        Steps ``k0 .. k1 - 1`` produce grid points ``k0 + 1 .. k1``: the response to the
        music and the heart are vectorized (linear filters and cumulative sums that
        carry their state, so the result does not depend on how the steps are split);
        only the clipped Euler-Maruyama recursion of ``(A, V)`` is a loop.
        """
        need = int(math.floor(max(tau, 0.0) / DT_S)) + 2
        if need <= self._n:
            return
        tr = self.traits
        dt = DT_S
        if self._m_t:
            # Integrate ahead while the music is final: step k hears the music of
            # k dt - lag_s, fixed for k dt - lag_s < the newest hear() time (a later
            # hear() only changes what is heard from its own time on). Fewer, longer
            # vectorized runs; the values do not depend on where runs are split.
            ahead = int(math.floor((self._m_t[-1] + tr.lag_s) / dt))
            need = max(need, min(ahead, need + _STEP_BLOCK))
        self._grow(need)
        k0, k1 = self._n - 1, need - 1
        ks = np.arange(k0, k1)
        # Music: static drive heard lag_s earlier -> displacement (r_A, r_V).
        d = self._drives(ks * dt - tr.lag_s)
        r_a, r_v = self._dyn.run(dt, d[0], d[1], d[2], d[3])
        self._ra[k0:k1], self._rv[k0:k1] = r_a, r_v
        # Core affect: clipped Euler-Maruyama (a loop over plain floats).
        c = dt / tr.tau_s
        sq = tr.sigma * math.sqrt(dt)
        z = self._latent_noise(k0, k1) * sq
        push_a = (c * (tr.arousal_mu + r_a) + z[0]).tolist()
        push_v = (c * (tr.valence_mu + r_v) + z[1]).tolist()
        keep = 1.0 - c
        a, v = float(self._a[k0]), float(self._v[k0])
        a_out, v_out = [0.0] * (k1 - k0), [0.0] * (k1 - k0)
        for j in range(k1 - k0):
            a = keep * a + push_a[j]
            v = keep * v + push_v[j]
            a = -1.0 if a < -1.0 else 1.0 if a > 1.0 else a
            v = -1.0 if v < -1.0 else 1.0 if v > 1.0 else v
            a_out[j], v_out[j] = a, v
        self._a[k0 + 1 : k1 + 1] = a_out
        self._v[k0 + 1 : k1 + 1] = v_out
        # Heart: vagal low-pass of A_h = A + e_h, sympathetic delayed low-pass of A_h.
        xs = self._x
        a_h = self._a[k0:k1] + xs[_X_EH, k0:k1]
        k_del = int(round(tr.hr_delay_s / dt))
        j_del = np.maximum(ks - k_del, 0)
        a_del = self._a[j_del] + xs[_X_EH, j_del]
        al_v = 1.0 - math.exp(-dt / tr.vagal_tau_s)
        al_s = 1.0 - math.exp(-dt / tr.hr_tau_s)
        vag, _ = signal.lfilter(
            [al_v], [1.0, -(1.0 - al_v)], a_h, zi=[(1.0 - al_v) * self._vag[k0]]
        )
        sym, _ = signal.lfilter(
            [al_s], [1.0, -(1.0 - al_s)], a_del, zi=[(1.0 - al_s) * self._sym[k0]]
        )
        self._vag[k0 + 1 : k1 + 1] = vag
        self._sym[k0 + 1 : k1 + 1] = sym
        hr_next = self._heart_rate(vag, sym, self._v[k0 + 1 : k1 + 1], xs[:, k0 + 1 : k1 + 1])
        hr = np.concatenate([[self._hr[k0]], hr_next[:-1]])  # HR at steps k0 .. k1 - 1
        self._hr[k0 + 1 : k1 + 1] = hr_next
        # RSA at a wandering breathing rate. Amplitude giving RMSSD ~ rmssd0 exp(-gain
        # A_h + m): RR modulation r (s) gives RMSSD ~ sqrt(2) sin(x)^2 / x * r with
        # x = pi f_r RR (beat-to-beat sampling and IPFM averaging of a sinusoid); HR
        # amplitude = r HR^2 / 60.
        f_r = tr.resp_rate_hz * np.exp(xs[_X_RESP, k0:k1])
        resp_ph = np.cumsum(np.concatenate([[self._resp_ph], 2.0 * math.pi * dt * f_r]))
        self._resp_ph = float(resp_ph[-1])
        x = math.pi * f_r * (60.0 / hr)
        gain = np.maximum(0.2, math.sqrt(2.0) * np.sin(np.minimum(x, 1.5)) ** 2 / x)
        target = tr.rmssd0_ms * 1e-3 * np.exp(-tr.rmssd_gain * vag + xs[_X_RSA, k0:k1])
        jit2 = 6.0 * (tr.beat_jitter_ms * 1e-3) ** 2  # RMSSD^2 added by beat jitter
        r_s = np.sqrt(np.maximum(target * target - jit2, 0.04 * target * target)) / gain
        amp = np.minimum(r_s * hr * hr / 60.0, 0.3 * hr)
        hr_inst = hr + amp * np.sin(resp_ph[:-1])
        self._phase[k0 : k1 + 1] = np.cumsum(
            np.concatenate([[self._phase[k0]], dt * hr_inst / 60.0])
        )
        self._n = need
        self._new_beats(k0, k1)

    def _new_beats(self, k0: int, k1: int) -> None:
        """Find IPFM beats in grid steps ``k0 .. k1`` and apply jitter and ectopy."""
        ph = self._phase[k0 : k1 + 1]
        fl = np.floor(ph)
        steps = np.nonzero(fl[1:] > fl[:-1])[0]
        if steps.size == 0:
            return
        n_beat = fl[steps + 1].astype(np.int64)  # beat number (>= 1)
        frac = (n_beat - ph[steps]) / (ph[steps + 1] - ph[steps])
        raw = (k0 + steps + frac) * DT_S
        prev = np.empty_like(raw)
        prev[0] = raw[0] - 60.0 / self._hr[k0] if np.isnan(self._raw_last) else self._raw_last
        prev[1:] = raw[:-1]
        self._raw_last = float(raw[-1])

        tr = self.traits
        rnd = np.empty((4, n_beat.size))
        for b in np.unique(n_beat // _BEAT_BLOCK):
            sel = (n_beat // _BEAT_BLOCK) == b
            blk = _rng(self.seed, _C_BEAT, int(b)).uniform(size=(4, _BEAT_BLOCK))
            rnd[:, sel] = blk[:, n_beat[sel] % _BEAT_BLOCK]
        # Jitter: normal (inverse CDF of a uniform), clipped to +-_JITTER_CLIP_S.
        z = np.sqrt(2.0) * _erfinv(2.0 * rnd[0] - 1.0)
        jit = np.clip(tr.beat_jitter_ms * 1e-3 * z, -_JITTER_CLIP_S, _JITTER_CLIP_S)
        event = (rnd[1] < tr.ectopic_rate) & (n_beat >= 3)
        kind = np.minimum((rnd[2] * 3.0).astype(np.int64), 2)  # 0 premature 1 missed 2 extra
        c = 0.55 + 0.15 * rnd[3]

        primary = raw + jit
        primary_kind = np.zeros(raw.size, dtype=np.int8)
        prem = event & (kind == 0)
        primary[prem] = prev[prem] + c[prem] * (raw[prem] - prev[prem])
        primary_kind[prem] = 1
        primary[event & (kind == 1)] = np.nan
        extra = np.full(raw.size, np.nan)
        ex = event & (kind == 2)
        extra[ex] = 0.5 * (prev[ex] + raw[ex])
        times = np.column_stack([extra, primary]).ravel()
        kinds = np.column_stack([np.full(raw.size, 2, dtype=np.int8), primary_kind]).ravel()
        keep = ~np.isnan(times)
        times, kinds = times[keep], kinds[keep]
        if times.size == 0:
            return
        all_t = np.concatenate([self._beat_t, times])
        rr = np.diff(all_t, prepend=all_t[0] - 60.0 / self._hr[0])
        self._beat_t = all_t
        self._beat_kind = np.concatenate([self._beat_kind, kinds])
        self._beat_rr = rr

    def _interp(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Latent ``(A, V)`` at relative times ``tau`` (must be integrated)."""
        x = np.clip(tau, 0.0, None) / DT_S
        i = np.minimum(np.floor(x).astype(np.int64), self._n - 2)
        f = x - i
        a = self._a[i] * (1.0 - f) + self._a[i + 1] * f
        v = self._v[i] * (1.0 - f) + self._v[i + 1] * f
        return a, v

    def _interp_exo(self, tau: np.ndarray, rows: tuple[int, ...]) -> np.ndarray:
        """Exogenous rows at relative times ``tau``, shape (len(rows), n)."""
        x = np.clip(tau, 0.0, None) / DT_S
        i = np.minimum(np.floor(x).astype(np.int64), self._n - 2)
        f = x - i
        sel = self._x[list(rows)]
        return sel[:, i] * (1.0 - f) + sel[:, i + 1] * f


def _erfinv(y: np.ndarray) -> np.ndarray:
    from scipy.special import erfinv

    return erfinv(np.clip(y, -0.999999, 0.999999))


def _unit_rms_sos(sos: np.ndarray, n: int = 1 << 14) -> np.ndarray:
    """Scale ``sos`` so that unit white noise comes out with unit RMS."""
    imp = np.zeros(n)
    imp[0] = 1.0
    h = signal.sosfilt(sos, imp)
    sos = sos.copy()
    sos[0, :3] /= float(np.sqrt(np.sum(h * h)))
    return sos


class _RegularSource:
    """A regularly sampled stream of a :class:`SimulatedListener`.

    Subclasses set ``info``, ``fs`` and ``lookahead_s`` (how far past the newest sample
    the latent state must be integrated) and render samples ``[k0, k1)`` as an array
    shaped ``(n_channels, k1 - k0)``.
    """

    _o: SimulatedListener
    info: StreamInfo
    fs: float
    lookahead_s: float = 0.0
    _next: int = 0

    def pull(self, t: float) -> Chunk:
        """Return every sample with timestamp <= ``t`` not handed over before."""
        o = self._o
        k1 = _n_upto(float(t) - o.t0, self.fs)
        k0 = self._next
        if k1 <= k0:
            return empty_chunk(self.info)
        self._next = k1
        tau = np.arange(k0, k1) / self.fs
        o._ensure(tau[-1] + self.lookahead_s)
        return Chunk(self.info, self._render(k0, k1, tau), o.t0 + tau)

    def _render(self, k0: int, k1: int, tau: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class _EcgSource(_RegularSource):
    """ECG of a :class:`SimulatedListener` (see its docstring)."""

    lookahead_s = LOOKAHEAD_S

    def __init__(self, owner: SimulatedListener, fs: float) -> None:
        self._o = owner
        self.fs = float(fs)
        self.info = StreamInfo(
            name="sim-ecg",
            kind="ecg",
            fs=self.fs,
            channels=("ECG",),
            units="mV",
            source_id=f"sim-{owner.seed}-ecg",
        )
        self._next = 0
        self._noise = _BlockNoise(owner.seed, _C_ECG, 1)
        self._win = int(math.ceil((_ECG_WIN[1] - _ECG_WIN[0]) * self.fs)) + 2

    def _render(self, k0: int, k1: int, tau: np.ndarray) -> np.ndarray:
        o, tr, fs = self._o, self._o.traits, self.fs
        bt = o._beat_t
        lo = np.searchsorted(bt, tau[0] - _ECG_WIN[1], side="left")
        hi = np.searchsorted(bt, tau[-1] - _ECG_WIN[0], side="right")
        out = np.zeros(k1 - k0)
        if hi > lo:
            b = bt[lo:hi]
            kind = o._beat_kind[lo:hi]
            s = np.sqrt(np.clip(o._beat_rr[lo:hi], 0.4, 1.6))
            ones = np.ones_like(s)
            resp = 1.0 + 0.05 * np.sin(2.0 * math.pi * tr.resp_rate_hz * b + o._resp_phase)
            # Columns P, Q, R, S, T: amplitude (mV), centre (s from R), width (s).
            amp = np.column_stack(
                [0.15 * ones, -0.12 * resp, 1.0 * resp, -0.25 * resp, 0.30 * ones]
            )
            mu = np.column_stack([-0.19 * s, -0.03 * ones, 0 * ones, 0.03 * ones, 0.27 * s])
            sd = np.column_stack([0.025 * s, 0.010 * ones, 0.011 * ones, 0.010 * ones, 0.055 * s])
            pvc = kind == 1
            if pvc.any():  # wide QRS, no P wave, discordant T
                amp[pvc] = np.column_stack(
                    [0 * s[pvc], 0 * s[pvc], 1.3 * resp[pvc], -0.4 * resp[pvc], -0.35 * ones[pvc]]
                )
                mu[pvc, 3] = 0.06
                mu[pvc, 4] = 0.30 * s[pvc]
                sd[pvc, 2] = 0.03
                sd[pvc, 3] = 0.03
                sd[pvc, 4] = 0.07 * s[pvc]
            base = np.ceil((b + _ECG_WIN[0]) * fs).astype(np.int64)
            idx = base[:, None] + np.arange(self._win)[None, :]
            d = idx / fs - b[:, None]
            mask = (d <= _ECG_WIN[1]) & (idx >= k0) & (idx < k1)
            w = np.zeros(d.shape)
            for c in range(5):
                w += amp[:, c, None] * np.exp(-0.5 * ((d - mu[:, c, None]) / sd[:, c, None]) ** 2)
            out += np.bincount(idx[mask] - k0, weights=w[mask], minlength=k1 - k0)
        out += 0.08 * np.sin(2.0 * math.pi * tr.resp_rate_hz * tau + o._bw_phase[0])
        out += 0.05 * np.sin(2.0 * math.pi * 0.05 * tau + o._bw_phase[1])
        out += tr.ecg_noise_mv * self._noise.get(k0, k1)[0]
        if tr.mains_mv > 0:
            out += tr.mains_mv * np.sin(2.0 * math.pi * tr.mains_hz * tau)
        return out[None, :]


class _RrSource:
    """RR intervals of a :class:`SimulatedListener`, one sample per beat (ms)."""

    def __init__(self, owner: SimulatedListener) -> None:
        self._o = owner
        self.info = StreamInfo(
            name="sim-rr",
            kind="rr",
            fs=0.0,
            channels=("RR",),
            units="ms",
            source_id=f"sim-{owner.seed}-rr",
        )
        self._next = 1  # the first beat has no interval

    def pull(self, t: float) -> Chunk:
        """Return the RR interval of every beat at or before ``t`` not handed over before."""
        o = self._o
        bt = o.beat_times(t)
        if bt.size <= self._next:
            return empty_chunk(self.info)
        k0, self._next = self._next, bt.size
        rr = np.diff(bt[k0 - 1 :]) * 1e3
        return Chunk(self.info, rr[None, :], bt[k0:].copy())


class _EegSource(_RegularSource):
    """EEG of a :class:`SimulatedListener` (see its docstring)."""

    def __init__(self, owner: SimulatedListener, fs: float, channels: tuple[str, ...]) -> None:
        self._o = owner
        self.fs = float(fs)
        self.info = StreamInfo(
            name="sim-eeg",
            kind="eeg",
            fs=self.fs,
            channels=channels,
            units="uV",
            source_id=f"sim-{owner.seed}-eeg",
        )
        nch = len(channels)
        self._nch = nch
        self._next = 0
        # Rows: 5 per channel (pink, alpha, beta, theta, emg) + 1 common alpha.
        nyq = self.fs / 2.0
        # Paul Kellet's economy pink-noise filter (-3 dB/octave), then a 0.5 Hz high-pass.
        pink = signal.tf2sos(
            [0.049922035, -0.095993537, 0.050612699, -0.004408786],
            [1.0, -2.494956002, 2.017265875, -0.522189400],
        )
        hp = signal.butter(1, 0.5, btype="highpass", fs=self.fs, output="sos")
        self._sos = {
            "pink": _unit_rms_sos(np.vstack([pink, hp]), 1 << 16),
            "alpha": _unit_rms_sos(signal.butter(4, [8.0, 12.0], "bandpass", fs=fs, output="sos")),
            "beta": _unit_rms_sos(signal.butter(2, [13.0, 30.0], "bandpass", fs=fs, output="sos")),
            "theta": _unit_rms_sos(signal.butter(2, [4.0, 8.0], "bandpass", fs=fs, output="sos")),
            "emg": _unit_rms_sos(
                signal.butter(2, [30.0, min(100.0, 0.8 * nyq)], "bandpass", fs=fs, output="sos")
            ),
        }
        self._zi = {
            name: np.zeros((sos.shape[0], nch + (1 if name == "alpha" else 0), 2))
            for name, sos in self._sos.items()
        }
        # Rows: 5 per channel (pink, alpha, beta, theta, emg) + 1 common alpha, filtered
        # block by block (filter state carried from block to block).
        self._noise = _BlockNoise(owner.seed, _C_EEG, 5 * nch + 1, post=self._filter_block)
        upper = [c.upper() for c in channels]
        tr = owner.traits
        self._faa_sign = np.array(
            [1.0 if c in _RIGHT_FRONTAL else -1.0 if c in _LEFT_FRONTAL else 0.0 for c in upper]
        )
        frontal = np.array([c.startswith(("FP", "AF", "F")) for c in upper])
        self._blink_gain = np.where(frontal, 1.0, 0.1)
        self._emg_gain = np.where(frontal, 0.7, 1.0)
        self._alpha_ch = np.where(frontal, 1.0, 0.9)
        self._events: dict[tuple[int, int], np.ndarray] = {}
        self._tr = tr

    def _filt(self, name: str, x: np.ndarray) -> np.ndarray:
        y, self._zi[name] = signal.sosfilt(self._sos[name], x, axis=-1, zi=self._zi[name])
        return y

    def _filter_block(self, z: np.ndarray) -> np.ndarray:
        nch = self._nch
        return np.vstack(
            [
                self._filt("pink", z[0:nch]),
                self._filt("alpha", z[nch : 2 * nch + 1]),
                self._filt("beta", z[2 * nch + 1 : 3 * nch + 1]),
                self._filt("theta", z[3 * nch + 1 : 4 * nch + 1]),
                self._filt("emg", z[4 * nch + 1 : 5 * nch + 1]),
            ]
        )

    def _block_events(self, code: int, b: int) -> np.ndarray:
        """Events of one block: rows (time s, amplitude uV, width or duration s)."""
        key = (code, b)
        ev = self._events.get(key)
        if ev is None:
            rate = self._tr.blink_rate_hz if code == _C_BLINK else self._tr.emg_rate_hz
            rng = _rng(self._o.seed, code, b)
            n = int(rng.poisson(rate * _EVENT_BLOCK_S))
            u = rng.uniform(size=(3, n))
            tm = (b + u[0]) * _EVENT_BLOCK_S
            if code == _C_BLINK:
                ev = np.vstack([tm, 100.0 + 100.0 * u[1], 0.05 + 0.03 * u[2]])
            else:
                ev = np.vstack([tm, 10.0 + 30.0 * u[1], 0.3 + 1.2 * u[2]])
            self._events[key] = ev
        return ev

    def _events_in(self, code: int, lo: float, hi: float) -> np.ndarray:
        b0 = int(math.floor(max(lo, 0.0) / _EVENT_BLOCK_S))
        b1 = int(math.floor(max(hi, 0.0) / _EVENT_BLOCK_S))
        ev = np.hstack([self._block_events(code, b) for b in range(b0, b1 + 1)])
        return ev[:, (ev[0] >= lo) & (ev[0] <= hi)]

    def _render(self, k0: int, k1: int, tau: np.ndarray) -> np.ndarray:
        o, tr, nch = self._o, self._tr, self._nch
        n = k1 - k0
        z = self._noise.get(k0, k1)  # filtered rows, see _filter_block
        pink = z[0:nch]
        alpha = z[nch : 2 * nch + 1]
        beta = z[2 * nch + 1 : 3 * nch + 1]
        theta = z[3 * nch + 1 : 4 * nch + 1]
        emg = z[4 * nch + 1 : 5 * nch + 1]
        a, v = o._interp(tau)
        e_e, w_fast, w_slow = o._interp_exo(tau, (_X_EE, _X_AW, _X_AD))
        a = a + e_e  # the EEG's own arousal: latent arousal plus an EEG-only disturbance
        alpha_sig = 0.6 * alpha[nch] + 0.8 * alpha[:nch]  # common + own, unit RMS
        # ln P_alpha(right) - ln P_alpha(left) = faa_baseline + faa_gain V: amplitude
        # factor exp(+-x / 4) on right / left channels.
        x = tr.faa_baseline + tr.faa_gain * v
        alpha_amp = (
            tr.alpha_uv
            * self._alpha_ch[:, None]
            * np.exp(-tr.alpha_arousal_gain * a + w_fast + w_slow)[None, :]
            * np.exp(0.25 * self._faa_sign[:, None] * x[None, :])
        )
        out = tr.background_uv * pink + alpha_amp * alpha_sig
        out += (tr.beta_uv * np.exp(tr.beta_arousal_gain * a))[None, :] * beta
        out += tr.theta_uv * theta
        if tr.blink_rate_hz > 0:
            ev = self._events_in(_C_BLINK, tau[0] - 0.5, tau[-1] + 0.5)
            blink = np.zeros(n)
            for tm, amp, wid in ev.T:
                j0 = max(int(math.ceil((tm - 0.5) * self.fs)) - k0, 0)
                j1 = min(int(math.floor((tm + 0.5) * self.fs)) + 1 - k0, n)
                if j1 > j0:
                    blink[j0:j1] += amp * np.exp(-0.5 * ((tau[j0:j1] - tm) / wid) ** 2)
            out += self._blink_gain[:, None] * blink[None, :]
        if tr.emg_rate_hz > 0:
            ev = self._events_in(_C_EMG, tau[0] - 2.0, tau[-1])
            env = np.zeros(n)
            for tm, amp, dur in ev.T:
                j0 = max(int(math.ceil(tm * self.fs)) - k0, 0)
                j1 = min(int(math.floor((tm + dur) * self.fs)) + 1 - k0, n)
                if j1 > j0:
                    tt = tau[j0:j1]
                    env[j0:j1] += (
                        amp
                        * np.clip((tt - tm) / 0.05, 0.0, 1.0)
                        * np.clip((tm + dur - tt) / 0.05, 0.0, 1.0)
                    )
            out += self._emg_gain[:, None] * env[None, :] * emg
        if tr.eeg_mains_uv > 0:
            out += tr.eeg_mains_uv * np.sin(2.0 * math.pi * tr.mains_hz * tau)[None, :]
        return out
