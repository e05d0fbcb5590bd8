"""A seeded simulated listener whose physiology answers the music.

:class:`SimulatedListener` holds one latent core-affect trajectory (arousal ``A`` and
valence ``V`` in [-1, 1]) and renders it as an ECG stream and an EEG stream (plus an
optional RR-interval stream), each a :class:`~attune.sensors.types.Source` with
``pull(t) -> Chunk``. The session tells the listener what music is playing with
:meth:`SimulatedListener.hear`, as plain numbers: the arousal and valence the music
expresses and its master fade (this package never imports the synthesizer).

Everything is generated lazily, on demand, and is deterministic for a seed regardless
of how the streams are pulled: the latent process is integrated on a fixed step of
:data:`DT_S` seconds, randomness comes from generators seeded per block of steps, beats
or samples (``numpy.random.default_rng([seed, stream, block])``), and filters carry
their state between pulls.

Model [E] (docs/science/listener.md; the forms are engineering choices, the ranges are
from the literature cited there):

* Core affect (Ornstein-Uhlenbeck, Kuppens et al. 2010, entrainment form)::

      dA = theta (mu_A - A) dt + theta g_A fade (m_A(t - L) - A) dt + sigma dW_A
      dV = theta (mu_V - V) dt + theta g_V fade (m_V(t - L) - V) dt + sigma dW_V

  with ``theta = 1 / tau_s``, ``g_A = music_gain``, ``g_V = valence_gain``, ``m_A``,
  ``m_V`` the arousal and valence the music heard ``L = lag_s`` seconds earlier
  expresses, and ``fade`` its master fade (silence: ``fade = 0``). Music that matches
  the listener neither raises nor lowers arousal; calm music pulls it down; silence
  lets it relax to ``mu``. Equilibrium under constant music:
  ``(mu + g fade m) / (1 + g fade)``. Euler-Maruyama, ``A`` and ``V`` clipped to
  [-1, 1].
* Heart rate ``HR = hr0 + hr_gain * A`` reached through a vagal first-order low-pass
  (``vagal_tau_s``, ~0.1 Hz, share ``vagal_share``) and a sympathetic path (delay
  ``hr_delay_s`` 1-3 s, time constant ``hr_tau_s`` 10-20 s), plus respiratory sinus
  arrhythmia at ``resp_rate_hz`` whose amplitude is calibrated so that the RMSSD of the
  beats is about ``rmssd0_ms * exp(-rmssd_gain * A)``, plus small beat jitter. Beats by
  integral pulse frequency modulation (a beat whenever the integral of HR/60 crosses an
  integer). Ectopic (premature beat with compensatory pause), missed and extra beats
  at ``ectopic_rate`` per beat.
* ECG: sum of Gaussian P, Q, R, S, T waves per beat (ECGSYN-like, McSharry et al.
  2003; R ~1 mV; P and T positions and widths scale with sqrt(RR)), baseline wander at
  the breathing rate and at 0.05 Hz, white noise, optional mains.
* EEG: per channel 1/f background, alpha (8-12 Hz band-limited noise) whose amplitude is
  ``alpha_uv * exp(-alpha_arousal_gain * A)``, beta (13-30 Hz) ``beta_uv *
  exp(beta_arousal_gain * A)``, theta (4-8 Hz) ``theta_uv``; frontal alpha asymmetry
  ``ln P_alpha(AF8) - ln P_alpha(AF7) = faa_baseline + faa_gain * V``; blinks at
  frontal channels and EMG bursts (30-100 Hz) on demand.

References
----------
.. [1] Kuppens, P., Oravecz, Z., Tuerlinckx, F. (2010). Feelings change: accounting for
   individual differences in the temporal dynamics of affect. J Pers Soc Psychol 99(6).
.. [2] McSharry, P. E., Clifford, G. D., Tarassenko, L., Smith, L. A. (2003). A dynamical
   model for generating synthetic electrocardiogram signals. IEEE Trans Biomed Eng 50(3).
.. [3] Koelsch, S., Jancke, L. (2015). Music and the heart. Eur Heart J 36(44).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np
from scipy import signal

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

_LEFT_FRONTAL = frozenset({"AF7", "AF3", "F7", "F3", "FP1", "F5", "F1"})
_RIGHT_FRONTAL = frozenset({"AF8", "AF4", "F8", "F4", "FP2", "F6", "F2"})


@dataclass(frozen=True)
class ListenerTraits:
    """Per-person parameters of the simulated listener ([E], docs/science/listener.md).

    Attributes
    ----------
    arousal_mu, valence_mu : float
        Resting set points of arousal and valence without music, in [-1, 1].
    tau_s : float
        Relaxation time constant ``1/theta`` of core affect in s (30-120 s).
    music_gain : float
        ``g/theta``: how strongly music pulls arousal toward what it expresses
        (dimensionless; 3 means the music weighs three times the set point).
    valence_gain : float
        The same for valence; much weaker than ``music_gain``.
    lag_s : float
        Delay between a musical change and its effect on affect, s (1-3 s; >= 0.5 s).
    sigma : float
        Diffusion of the OU process, arousal units per sqrt(s).
    hr0_bpm : float
        Heart rate at ``A = 0``, beats per minute.
    hr_gain_bpm : float
        Heart-rate change per unit arousal, bpm.
    hr_delay_s, hr_tau_s : float
        Delay (s) and first-order time constant (s) of the sympathetic path.
    vagal_tau_s : float
        Time constant of the vagal low-pass (s); 1.6 s is a ~0.1 Hz corner.
    vagal_share : float
        Fraction of the HR response carried by the fast vagal path, 0-1.
    rmssd0_ms : float
        Target RMSSD of the beats at ``A = 0``, ms.
    rmssd_gain : float
        ``RMSSD = rmssd0_ms * exp(-rmssd_gain * A)``.
    resp_rate_hz : float
        Breathing rate, Hz (0.25 Hz = 15 breaths/min).
    beat_jitter_ms : float
        Standard deviation of the random jitter of each beat time, ms.
    alpha_uv, beta_uv, theta_uv, background_uv : float
        RMS amplitudes in uV of the EEG alpha, beta and theta rhythms at ``A = 0`` and of
        the 1/f background.
    alpha_arousal_gain : float
        Alpha amplitude is ``alpha_uv * exp(-alpha_arousal_gain * A)``.
    beta_arousal_gain : float
        Beta amplitude is ``beta_uv * exp(beta_arousal_gain * A)``.
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
    music_gain: float = 3.0
    valence_gain: float = 0.8
    lag_s: float = 2.0
    sigma: float = 0.03
    hr0_bpm: float = 72.0
    hr_gain_bpm: float = 5.0
    hr_delay_s: float = 2.0
    hr_tau_s: float = 15.0
    vagal_tau_s: float = 1.6
    vagal_share: float = 0.4
    rmssd0_ms: float = 40.0
    rmssd_gain: float = 0.4
    resp_rate_hz: float = 0.25
    beat_jitter_ms: float = 2.0
    alpha_uv: float = 8.0
    beta_uv: float = 4.0
    theta_uv: float = 4.0
    background_uv: float = 10.0
    alpha_arousal_gain: float = 0.35
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
            ("music_gain", self.music_gain >= 0, ">= 0"),
            ("valence_gain", self.valence_gain >= 0, ">= 0"),
            ("lag_s", self.lag_s >= LOOKAHEAD_S + DT_S, f">= {LOOKAHEAD_S + DT_S:g} s"),
            ("sigma", self.sigma >= 0, ">= 0"),
            ("hr0_bpm", 30.0 <= self.hr0_bpm <= 150.0, "in [30, 150] bpm"),
            ("hr_delay_s", self.hr_delay_s >= 0, ">= 0"),
            ("hr_tau_s", self.hr_tau_s > 0, "> 0"),
            ("vagal_tau_s", self.vagal_tau_s > 0, "> 0"),
            ("vagal_share", 0.0 <= self.vagal_share <= 1.0, "in [0, 1]"),
            ("rmssd0_ms", self.rmssd0_ms > 0, "> 0"),
            ("resp_rate_hz", 0.05 <= self.resp_rate_hz <= 0.5, "in [0.05, 0.5] Hz"),
            ("beat_jitter_ms", self.beat_jitter_ms >= 0, ">= 0"),
            ("ectopic_rate", 0.0 <= self.ectopic_rate <= 0.2, "in [0, 0.2]"),
            ("blink_rate_hz", self.blink_rate_hz >= 0, ">= 0"),
            ("emg_rate_hz", self.emg_rate_hz >= 0, ">= 0"),
        ]
        for name, ok, rule in rules:
            if not ok:
                raise SensorError(
                    f"ListenerTraits.{name} must be {rule}, got {getattr(self, name)!r}"
                )

    @classmethod
    def draw(cls, rng: np.random.Generator, **overrides: float) -> ListenerTraits:
        """Draw a random plausible person.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        **overrides : float
            Traits to set instead of drawing (e.g. ``ectopic_rate=0.01``).

        Returns
        -------
        ListenerTraits
            Set points, gains and time constants drawn uniformly from the ranges of
            docs/science/listener.md; some people respond weakly to music.
        """
        u = rng.uniform
        values: dict[str, float] = {
            "arousal_mu": u(0.2, 0.8),
            "valence_mu": u(-0.5, 0.2),
            "tau_s": u(30.0, 120.0),
            "music_gain": u(1.5, 4.5),
            "valence_gain": u(0.3, 1.2),
            "lag_s": u(1.0, 3.0),
            "sigma": u(0.02, 0.05),
            "hr0_bpm": u(60.0, 85.0),
            "hr_gain_bpm": u(3.0, 7.0),
            "hr_delay_s": u(1.0, 3.0),
            "hr_tau_s": u(10.0, 20.0),
            "rmssd0_ms": u(25.0, 60.0),
            "rmssd_gain": u(0.25, 0.55),
            "resp_rate_hz": u(0.2, 0.33),
            "alpha_uv": u(5.0, 12.0),
            "beta_uv": u(3.0, 5.0),
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
        Latent heart rate in bpm (sympathetic + vagal paths, without respiratory sinus
        arrhythmia and beat jitter).
    """

    t: np.ndarray
    arousal: np.ndarray
    valence: np.ndarray
    hr_bpm: np.ndarray


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


class SimulatedListener:
    """A seeded person whose ECG and EEG answer the music (see the module docstring).

    Parameters
    ----------
    seed : int
        Seed (>= 0); the same seed, traits and music give the same samples whatever the
        pull pattern.
    traits : ListenerTraits, optional
        The person; default :class:`ListenerTraits()` (an aroused listener).
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
        self.t0 = float(t0)
        tr = self.traits
        a0 = tr.arousal_mu if arousal0 is None else float(np.clip(arousal0, -1.0, 1.0))
        v0 = tr.valence_mu if valence0 is None else float(np.clip(valence0, -1.0, 1.0))

        init = _rng(self.seed, _C_INIT, 0).uniform(size=8)
        self._resp_phase = 2.0 * math.pi * float(init[0])
        self._bw_phase = 2.0 * math.pi * init[1:3]

        # Latent trajectory, grown by doubling: index k is time k * DT_S after t0.
        cap = 4096
        self._a = np.empty(cap)
        self._v = np.empty(cap)
        self._hr = np.empty(cap)
        self._phase = np.empty(cap)
        self._vag = np.empty(cap)
        self._sym = np.empty(cap)
        self._n = 1
        self._a[0], self._v[0] = a0, v0
        self._vag[0] = self._sym[0] = a0
        self._hr[0] = tr.hr0_bpm + tr.hr_gain_bpm * a0
        self._phase[0] = float(init[3])  # first beat at a random point of the first RR
        self._noise_block = -1
        self._noise: list[list[float]] = []

        # Music schedule (times relative to t0).
        self._m_t: list[float] = []
        self._m_a: list[float] = []
        self._m_v: list[float] = []
        self._m_f: list[float] = []

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

    def hear(self, t: float, *, arousal: float, valence: float, fade: float) -> None:
        """Tell the listener what music plays from time ``t`` on.

        Parameters
        ----------
        t : float
            Session-clock time in s; must not decrease between calls.
        arousal, valence : float
            What the music expresses, each in [-1, 1].
        fade : float
            The music's master fade in [0, 1] (0: silence).

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
        ma, mv = float(arousal), float(valence)
        fade = float(np.clip(fade, 0.0, 1.0))
        if self._m_t and tau == self._m_t[-1]:
            self._m_a[-1], self._m_v[-1], self._m_f[-1] = ma, mv, fade
            return
        self._m_t.append(tau)
        self._m_a.append(ma)
        self._m_v.append(mv)
        self._m_f.append(fade)

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
    def _music_at(self, tau: float) -> tuple[float, float, float]:
        i = bisect_right(self._m_t, tau) - 1
        if i < 0:
            return 0.0, 0.0, 0.0
        return self._m_a[i], self._m_v[i], self._m_f[i]

    def _grow(self, need: int) -> None:
        cap = self._a.size
        if need <= cap:
            return
        new_cap = max(need, 2 * cap)
        for name in ("_a", "_v", "_hr", "_phase", "_vag", "_sym"):
            old = getattr(self, name)
            arr = np.empty(new_cap)
            arr[: self._n] = old[: self._n]
            setattr(self, name, arr)

    def _ensure(self, tau: float) -> None:
        """Integrate the latent trajectory so that grid time >= ``tau`` exists."""
        need = int(math.floor(max(tau, 0.0) / DT_S)) + 2
        if need <= self._n:
            return
        self._grow(need)
        tr = self.traits
        dt = DT_S
        theta = 1.0 / tr.tau_s
        sq = tr.sigma * math.sqrt(dt)
        lag = tr.lag_s
        k_del = int(round(tr.hr_delay_s / dt))
        al_v = 1.0 - math.exp(-dt / tr.vagal_tau_s)
        al_s = 1.0 - math.exp(-dt / tr.hr_tau_s)
        w_v = tr.vagal_share
        hr0, hrg = tr.hr0_bpm, tr.hr_gain_bpm
        f_r = tr.resp_rate_hz
        w_r = 2.0 * math.pi * f_r
        ph_r = self._resp_phase
        jit2 = 6.0 * (tr.beat_jitter_ms * 1e-3) ** 2  # RMSSD^2 added by beat jitter
        a_arr, v_arr, hr_arr = self._a, self._v, self._hr
        ph_arr, vag_arr, sym_arr = self._phase, self._vag, self._sym
        g_a, g_v = tr.music_gain, tr.valence_gain
        mu_a, mu_v = tr.arousal_mu, tr.valence_mu
        rm0, rmg = tr.rmssd0_ms * 1e-3, tr.rmssd_gain

        k_start = self._n - 1
        for k in range(k_start, need - 1):
            blk, off = divmod(k, _STEP_BLOCK)
            if blk != self._noise_block:
                self._noise = (
                    _rng(self.seed, _C_LATENT, blk).standard_normal((2, _STEP_BLOCK)).tolist()
                )
                self._noise_block = blk
            tau_k = k * dt
            ma, mv, fade = self._music_at(tau_k - lag)
            a = a_arr[k]
            v = v_arr[k]
            a1 = a + dt * theta * ((mu_a - a) + g_a * fade * (ma - a)) + sq * self._noise[0][off]
            v1 = v + dt * theta * ((mu_v - v) + g_v * fade * (mv - v)) + sq * self._noise[1][off]
            a_arr[k + 1] = min(1.0, max(-1.0, a1))
            v_arr[k + 1] = min(1.0, max(-1.0, v1))
            # Heart: vagal low-pass of A, sympathetic delayed low-pass of A.
            vag = vag_arr[k]
            sym = sym_arr[k]
            a_del = a_arr[k - k_del] if k >= k_del else a_arr[0]
            vag_arr[k + 1] = vag + al_v * (a - vag)
            sym_arr[k + 1] = sym + al_s * (a_del - sym)
            hr = hr_arr[k]
            # RSA amplitude giving RMSSD ~ rmssd0 exp(-gain A): RR modulation r (s) gives
            # RMSSD ~ sqrt(2) sin(x)^2 / x * r with x = pi f_r RR (beat-to-beat sampling
            # and IPFM averaging of a sinusoid); HR amplitude = r HR^2 / 60.
            rr = 60.0 / hr
            x = math.pi * f_r * rr
            gain = max(0.2, math.sqrt(2.0) * math.sin(x) ** 2 / x)
            target = rm0 * math.exp(-rmg * vag)
            r_s = math.sqrt(max(target * target - jit2, 0.04 * target * target)) / gain
            amp = min(r_s * hr * hr / 60.0, 0.3 * hr)
            hr_inst = hr + amp * math.sin(w_r * tau_k + ph_r)
            ph_arr[k + 1] = ph_arr[k] + dt * hr_inst / 60.0
            hr_arr[k + 1] = hr0 + hrg * (w_v * vag_arr[k + 1] + (1.0 - w_v) * sym_arr[k + 1])
        self._n = need
        self._new_beats(k_start, need - 1)

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
        alpha_sig = 0.6 * alpha[nch] + 0.8 * alpha[:nch]  # common + own, unit RMS
        # ln P_alpha(right) - ln P_alpha(left) = faa_baseline + faa_gain V: amplitude
        # factor exp(+-x / 4) on right / left channels.
        x = tr.faa_baseline + tr.faa_gain * v
        alpha_amp = (
            tr.alpha_uv
            * self._alpha_ch[:, None]
            * np.exp(-tr.alpha_arousal_gain * a)[None, :]
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
