"""Audio analysis for tests and session summaries (numpy/scipy only).

Level (windowed RMS, sample peak), an onset envelope (spectral flux) and a tempo
estimator (autocorrelation of the onset envelope). The estimator is blind: it does not
know the tempo that was requested.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_EPS = 1e-12
#: Autocorrelation share at half the lag above which the faster metrical level wins.
OCTAVE_RATIO: float = 0.75


def read_wav(path: Path | str) -> tuple[np.ndarray, int]:
    """Read a WAV file as floats.

    Parameters
    ----------
    path : Path or str
        WAV file (integer PCM of 16, 24 or 32 bits, or float).

    Returns
    -------
    x : ndarray, shape (n_channels, n_samples), float64
        Samples scaled to [-1, 1) full scale.
    sr : int
        Sampling rate in Hz.
    """
    from scipy.io import wavfile

    sr, data = wavfile.read(str(path))
    data = np.asarray(data)
    if data.dtype.kind == "i":
        scale = float(2 ** (8 * data.dtype.itemsize - 1))
        x = data.astype(np.float64) / scale
    elif data.dtype.kind == "u":
        half = float(2 ** (8 * data.dtype.itemsize - 1))
        x = (data.astype(np.float64) - half) / half
    else:
        x = data.astype(np.float64)
    x = x[:, None] if x.ndim == 1 else x
    return np.ascontiguousarray(x.T), int(sr)


def _mono(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x if x.ndim == 1 else x.mean(axis=0)


def rms_dbfs_windows(x: np.ndarray, sr: int, *, window_s: float) -> np.ndarray:
    """RMS level of consecutive non-overlapping windows.

    Parameters
    ----------
    x : ndarray, shape (n_samples,) or (n_channels, n_samples)
        Samples in full-scale units; channels are pooled (mean square over channels).
    sr : int
        Sampling rate in Hz.
    window_s : float
        Window length in seconds; a trailing partial window is dropped.

    Returns
    -------
    ndarray, shape (n_windows,)
        RMS of each window in dBFS (0 dBFS = RMS of a full-scale square wave; a
        full-scale sine reads -3.01 dBFS). Silence reads -240 dBFS.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = int(round(window_s * sr))
    if n <= 0:
        raise ValueError(f"window_s must give at least one sample, got {window_s!r}")
    k = x.shape[1] // n
    ms = (x[:, : k * n] ** 2).reshape(x.shape[0], k, n).mean(axis=(0, 2))
    return 10.0 * np.log10(ms + _EPS)


def peak_dbfs(x: np.ndarray) -> float:
    """Sample peak of ``x`` (any shape) in dBFS; -240 for silence."""
    return float(20.0 * np.log10(np.max(np.abs(x)) + _EPS))


def onset_envelope(
    x: np.ndarray, sr: int, *, hop: int = 256, n_fft: int = 1024
) -> tuple[np.ndarray, float]:
    """Spectral-flux onset envelope of the mono mix.

    Parameters
    ----------
    x : ndarray, shape (n_samples,) or (n_channels, n_samples)
        Samples; channels are averaged.
    sr : int
        Sampling rate in Hz.
    hop : int, default 256
        STFT hop in samples.
    n_fft : int, default 1024
        STFT frame length in samples (Hann window).

    Returns
    -------
    env : ndarray, shape (n_frames - 1,)
        Half-wave rectified frame-to-frame increase of log-compressed magnitude,
        summed over frequency, with its local mean (about 0.5 s) removed and clipped
        at zero.
    env_rate : float
        Frame rate of ``env`` in Hz (``sr / hop``).
    """
    from numpy.lib.stride_tricks import sliding_window_view
    from scipy.ndimage import uniform_filter1d

    m = _mono(x)
    if m.size < n_fft + hop:
        raise ValueError(f"signal too short for n_fft={n_fft}: {m.size} samples")
    frames = sliding_window_view(m, n_fft)[::hop]
    spec = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1))
    logmag = np.log1p(1000.0 * spec)
    flux = np.maximum(np.diff(logmag, axis=0), 0.0).sum(axis=1)
    rate = sr / hop
    local = uniform_filter1d(flux, size=max(3, int(round(0.5 * rate))), mode="nearest")
    return np.maximum(flux - local, 0.0), float(rate)


def estimate_tempo_bpm(
    x: np.ndarray, sr: int, *, min_bpm: float = 40.0, max_bpm: float = 160.0
) -> float:
    """Estimate the beat tempo from the audio alone.

    The onset envelope's biased autocorrelation (normalised by ``N``, not
    ``N - lag``, so longer lags are slightly penalised and the beat lag wins over its
    multiples) is searched for its highest peak between the lags of ``max_bpm`` and
    ``min_bpm``; while the peak near half that lag reaches :data:`OCTAVE_RATIO` of it,
    the faster metrical level is taken instead (octave-error correction); the peak is
    refined with parabolic interpolation.

    Parameters
    ----------
    x : ndarray, shape (n_samples,) or (n_channels, n_samples)
        Samples.
    sr : int
        Sampling rate in Hz.
    min_bpm, max_bpm : float
        Tempo search range in beats per minute.

    Returns
    -------
    float
        Tempo in beats per minute.
    """
    env, rate = onset_envelope(x, sr)
    env = env - env.mean()
    n = env.size
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(env, nfft)
    ac = np.fft.irfft(f * np.conj(f), nfft)[:n] / n
    lo = max(1, int(np.floor(60.0 / max_bpm * rate)))
    hi = min(n - 2, int(np.ceil(60.0 / min_bpm * rate)))
    if hi <= lo:
        raise ValueError("signal too short for the tempo range")
    k = lo + int(np.argmax(ac[lo : hi + 1]))
    # Octave errors: music with a strong half-bar (two-beat) pattern can peak at twice
    # the beat lag. Prefer the faster metrical level while its own peak reaches
    # OCTAVE_RATIO of the slower one's (the usual remedy; cf. a tempo prior).
    while k / 2.0 >= lo:
        j0 = max(lo, int(np.floor(k / 2.0)) - 1)
        j = j0 + int(np.argmax(ac[j0 : int(np.ceil(k / 2.0)) + 2]))
        if ac[j] < OCTAVE_RATIO * ac[k]:
            break
        k = j
    y0, y1, y2 = ac[k - 1], ac[k], ac[k + 1]
    denom = y0 - 2.0 * y1 + y2
    delta = 0.5 * (y0 - y2) / denom if denom < 0 else 0.0
    lag = k + float(np.clip(delta, -0.5, 0.5))
    return float(60.0 * rate / lag)


def spectral_centroid_hz(x: np.ndarray, sr: int, *, n_fft: int = 4096) -> float:
    """Spectral centroid of the long-term power spectrum of the mono mix.

    Parameters
    ----------
    x : ndarray, shape (n_samples,) or (n_channels, n_samples)
        Samples; channels are averaged.
    sr : int
        Sampling rate in Hz.
    n_fft : int, default 4096
        Welch segment length in samples (Hann window, 50% overlap).

    Returns
    -------
    float
        Power-weighted mean frequency in Hz.
    """
    from scipy.signal import welch

    f, pxx = welch(_mono(x), fs=sr, nperseg=n_fft)
    return float(np.sum(f * pxx) / (np.sum(pxx) + _EPS))


def envelope_spectrum(
    x: np.ndarray, sr: int, *, window_s: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectrum of the RMS envelope (slow level fluctuations, e.g. swells).

    Parameters
    ----------
    x : ndarray, shape (n_samples,) or (n_channels, n_samples)
        Samples.
    sr : int
        Sampling rate in Hz.
    window_s : float, default 0.05
        Envelope window in seconds (envelope rate ``1 / window_s`` Hz).

    Returns
    -------
    freqs : ndarray, shape (n_bins,)
        Frequencies in Hz.
    mag : ndarray, shape (n_bins,)
        Magnitude of the mean-removed linear RMS envelope (Hann window), relative to
        the envelope mean (1.0 = modulation as deep as the mean level).
    """
    env = 10.0 ** (rms_dbfs_windows(x, sr, window_s=window_s) / 20.0)
    w = np.hanning(env.size)
    mag = np.abs(np.fft.rfft((env - env.mean()) * w)) * 2.0 / w.sum()
    return np.fft.rfftfreq(env.size, d=window_s), mag / (env.mean() + _EPS)


def sethares_roughness(pitches: np.ndarray, *, n_partials: int = 6) -> float:
    """Sensory dissonance of simultaneous MIDI pitches (Sethares 1993, Plomp-Levelt).

    Each pitch is a harmonic tone with ``n_partials`` partials of amplitude ``0.88^k``;
    the roughness of every pair of partials is summed.

    Parameters
    ----------
    pitches : ndarray, shape (n,)
        MIDI note numbers sounding together.
    n_partials : int, default 6
        Partials per tone.

    Returns
    -------
    float
        Roughness (arbitrary units; 0 for fewer than two pitches).

    References
    ----------
    Sethares, W. A. (1993). Local consonance and the relationship between timbre and
    scale. J. Acoust. Soc. Am. 94(3), 1218-1228.
    """
    p = np.unique(np.asarray(pitches, dtype=np.float64))
    if p.size < 2:
        return 0.0
    k = np.arange(1, n_partials + 1)
    f = (440.0 * 2.0 ** ((p[:, None] - 69.0) / 12.0) * k[None, :]).ravel()
    a = np.tile(0.88 ** (k - 1), p.size)
    i, j = np.triu_indices(f.size, 1)
    same_tone = (i // n_partials) == (j // n_partials)
    fmin = np.minimum(f[i], f[j])
    df = np.abs(f[i] - f[j])
    s = 0.24 / (0.021 * fmin + 19.0)
    d = np.minimum(a[i], a[j]) * (np.exp(-3.5 * s * df) - np.exp(-5.75 * s * df))
    return float(np.sum(d[~same_tone]))


def chord_roughness(
    spans: list[tuple[float, float, int]], *, hop_s: float = 0.25, t_max: float | None = None
) -> np.ndarray:
    """Roughness of the sounding chord at every ``hop_s`` (see :func:`sethares_roughness`).

    Parameters
    ----------
    spans : list of (t_on_s, t_off_s, pitch)
        Notes, e.g. from :func:`attune.synthesis.midi.read_midi_note_spans`.
    hop_s : float, default 0.25
        Spacing of the analysis instants, seconds.
    t_max : float, optional
        Last instant (default: the last note-off).

    Returns
    -------
    ndarray, shape (n_instants,)
        Roughness of the pitches sounding at each instant ``k * hop_s``.
    """
    arr = np.asarray(spans, dtype=np.float64).reshape(-1, 3)
    end = float(arr[:, 1].max()) if t_max is None else float(t_max)
    ts = np.arange(0.0, end, hop_s)
    # Loop over analysis instants (a few hundred), not samples.
    return np.array(
        [sethares_roughness(arr[(arr[:, 0] <= t) & (arr[:, 1] > t), 2].astype(int)) for t in ts]
    )


def integrated_lufs(x: np.ndarray, sr: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4, EBU R 128 gating) in LUFS.

    Parameters
    ----------
    x : ndarray, shape (n_samples,) or (n_channels, n_samples)
        Samples in full-scale units.
    sr : int
        Sampling rate in Hz.

    Returns
    -------
    float
        Loudness in LUFS (-inf for silence). Uses pyloudnorm (imported lazily).
    """
    import pyloudnorm

    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return float(pyloudnorm.Meter(sr).integrated_loudness(x.T))


def window_means(x: np.ndarray, sr: int, *, window_s: float = 1.0) -> np.ndarray:
    """Mean (DC) of consecutive windows, per channel.

    Returns
    -------
    ndarray, shape (n_channels, n_windows)
        Mean sample value of each full window in full-scale units.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = int(round(window_s * sr))
    k = x.shape[1] // n
    return x[:, : k * n].reshape(x.shape[0], k, n).mean(axis=2)


def onset_rate_hz(onsets_s: np.ndarray, t0: float, t1: float, *, merge_s: float = 0.03) -> float:
    """Distinct note onsets per second between ``t0`` and ``t1`` (e.g. from a MIDI file).

    Onsets closer than ``merge_s`` (a chord, a bass note under a melody note) count as
    one event, as a listener hears them.
    """
    t = np.sort(np.asarray(onsets_s, dtype=np.float64))
    t = t[(t >= t0) & (t < t1)]
    if t.size == 0:
        return 0.0
    n = 1 + int(np.sum(np.diff(t) > merge_s))
    return n / (t1 - t0)


def low_power_share(x: np.ndarray, sr: int, *, below_hz: float = 40.0) -> float:
    """Share of the signal power below ``below_hz`` (Welch spectrum of the mono mix)."""
    from scipy.signal import welch

    f, pxx = welch(_mono(x), fs=sr, nperseg=16384)
    return float(pxx[f < below_hz].sum() / (pxx.sum() + _EPS))


#: Pitch classes above the tonic that make a mode brighter (major third, sixth and
#: seventh, raised fourth) and darker (minor second, third, sixth and seventh).
BRIGHT_PCS: frozenset[int] = frozenset({4, 6, 9, 11})
DARK_PCS: frozenset[int] = frozenset({1, 3, 8, 10})


def bright_share(pitches: np.ndarray, key_pc: int) -> float:
    """Share of bright (major-mode) pitch classes among the mode-defining ones.

    Parameters
    ----------
    pitches : ndarray, shape (n,)
        MIDI note numbers (e.g. every note of a MIDI file).
    key_pc : int
        Pitch class of the tonic.

    Returns
    -------
    float
        ``n_bright / (n_bright + n_dark)`` over :data:`BRIGHT_PCS` and :data:`DARK_PCS`
        relative to the tonic: 1 for Lydian/Ionian, 0 for Phrygian/Locrian; 0.5 if
        neither occurs.
    """
    rel = (np.asarray(pitches, dtype=int) - int(key_pc)) % 12
    nb = int(np.isin(rel, list(BRIGHT_PCS)).sum())
    nd = int(np.isin(rel, list(DARK_PCS)).sum())
    return nb / (nb + nd) if nb + nd else 0.5


def first_pc_share(features: np.ndarray) -> float:
    """Share of variance on the first principal component of z-scored features.

    Parameters
    ----------
    features : ndarray, shape (n_examples, n_features)

    Returns
    -------
    float
        Largest eigenvalue of the correlation matrix over their sum (1 = one knob).
    """
    f = np.asarray(features, dtype=np.float64)
    sd = f.std(axis=0)
    z = (f - f.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    s = np.linalg.svd(z, compute_uv=False) ** 2
    return float(s[0] / s.sum())
