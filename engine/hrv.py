"""Heart-rate variability: pure HRV functions, a streaming R-peak detector and the HRV stage.

The pure functions (:func:`hrv_rmssd`, :func:`hrv_sdnn`, :func:`hrv_pnn50`) work on 1-D
arrays of RR (NN) intervals in milliseconds. :class:`EcgBeatDetector` turns raw ECG,
chunk by chunk, into R-peak times; :class:`HRVStage` turns ECG chunks or RR-interval
chunks into :class:`HRVFeatures` on a rolling window.

References
----------
.. [1] Pan, J., & Tompkins, W. J. (1985). A real-time QRS detection algorithm. IEEE
   Transactions on Biomedical Engineering, 32(3), 230-236.
.. [2] Task Force of the European Society of Cardiology and the North American Society
   of Pacing and Electrophysiology (1996). Heart rate variability: standards of
   measurement, physiological interpretation and clinical use. Circulation, 93(5),
   1043-1065.
.. [3] Malik, M., et al. (1989). Heart rate variability in relation to prognosis after
   myocardial infarction: selection of optimal processing techniques. European Heart
   Journal, 10(12), 1060-1074 (the 20 % rule for rejecting intervals).
.. [4] Munoz, M. L., et al. (2015). Validity of (ultra-)short recordings for heart rate
   variability measurements. PLoS ONE, 10(9), e0138921.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.ndimage
import scipy.signal

from sensors.types import Chunk

__all__ = [
    "EcgBeatDetector",
    "HRVFeatures",
    "HRVStage",
    "hrv_pnn50",
    "hrv_rmssd",
    "hrv_sdnn",
]


# --------------------------------------------------------------------------- pure functions


def _as_rr(rr_ms: np.ndarray) -> np.ndarray:
    rr = np.asarray(rr_ms, dtype=float)
    if rr.ndim != 1:
        raise ValueError(f"rr_ms must be 1-D, got shape {rr.shape}")
    return rr


def hrv_rmssd(rr_ms: np.ndarray) -> float:
    """Return the root mean square of successive RR-interval differences.

    Parameters
    ----------
    rr_ms : array_like, shape (n,)
        RR (NN) intervals in ms, in beat order.

    Returns
    -------
    float
        ``sqrt(mean(diff(rr_ms) ** 2))`` in ms; NaN when fewer than 2 intervals.

    References
    ----------
    Task Force (1996), Circulation 93(5):1043-1065.
    """
    rr = _as_rr(rr_ms)
    if rr.size < 2:
        return float("nan")
    d = np.diff(rr)
    return float(np.sqrt(np.mean(d * d)))


def hrv_sdnn(rr_ms: np.ndarray) -> float:
    """Return the standard deviation of RR (NN) intervals (``ddof=1``).

    Parameters
    ----------
    rr_ms : array_like, shape (n,)
        RR (NN) intervals in ms.

    Returns
    -------
    float
        Sample standard deviation in ms; NaN when fewer than 2 intervals.

    References
    ----------
    Task Force (1996), Circulation 93(5):1043-1065.
    """
    rr = _as_rr(rr_ms)
    if rr.size < 2:
        return float("nan")
    return float(np.std(rr, ddof=1))


def hrv_pnn50(rr_ms: np.ndarray) -> float:
    """Return the percentage of successive RR differences larger than 50 ms.

    Parameters
    ----------
    rr_ms : array_like, shape (n,)
        RR (NN) intervals in ms.

    Returns
    -------
    float
        ``count(|diff(rr_ms)| > 50) / len(rr_ms) * 100`` in percent (neurokit2's
        definition: the denominator is the number of intervals, not of differences);
        NaN when fewer than 2 intervals.

    References
    ----------
    Task Force (1996), Circulation 93(5):1043-1065; neurokit2 ``hrv_time``.
    """
    rr = _as_rr(rr_ms)
    if rr.size < 2:
        return float("nan")
    return float(np.count_nonzero(np.abs(np.diff(rr)) > 50.0) / rr.size * 100.0)


# --------------------------------------------------------------------------- beat detector


class EcgBeatDetector:
    """Causal streaming Pan-Tompkins R-peak detector.

    Processing chain (all filters keep their state between chunks):

    1. 5-15 Hz Butterworth band-pass (order 2, second-order sections), started in the
       steady state of the first sample so a DC offset gives no start-up transient;
    2. first difference (derivative), squaring;
    3. 150 ms moving-window integration (MWI, FIR with carried state);
    4. candidate peaks: samples of the MWI that are the maximum of a +-150 ms
       neighbourhood, found vectorized once a sample has 150 ms of right context;
    5. a per-candidate loop (a few per second) applying the adaptive signal / noise
       peak levels SPKI / NPKI (threshold ``NPKI + 0.25 (SPKI - NPKI)``), a 200 ms
       refractory period, T-wave discrimination (a candidate 200-360 ms after a beat
       whose maximal slope is below half that of the previous QRS is a T wave) and a
       search-back for the largest noise candidate above half the threshold when no
       beat was found for 1.66 times the mean RR (the smaller of RR AVERAGE1, the
       mean of the last 8 RR, and RR AVERAGE2, the mean of the last 8 RR within
       92-116 % of it, reset to AVERAGE1 after 8 regular intervals); a candidate
       closer than 0.45 mean RR to the previous beat counts as noise, and after 3 s
       without a beat SPKI halves at each candidate (recovers from amplitude drops);
    6. the R-peak is placed at the maximum of ``|band-passed ECG|`` in the QRS
       region preceding the MWI peak; the band-pass group delay (evaluated at 10 Hz)
       is subtracted from that sample's timestamp.

    Thresholds are learnt from the first 2 s of MWI (SPKI = 0.25 max, NPKI = 0.5 mean)
    and then track the signal, so the ECG may be in any unit. Decisions depend only on
    the samples, never on how they were chunked: feeding a signal in chunks of any
    size yields exactly the same beats. Beats come out ~0.3 s after the R peak.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz, >= 100.

    Notes
    -----
    Not thread-safe: call :meth:`update` from one thread.

    References
    ----------
    Pan, J., & Tompkins, W. J. (1985). A real-time QRS detection algorithm. IEEE Trans.
    Biomed. Eng., 32(3), 230-236.
    """

    learn_s = 2.0  #: learning phase in s
    neighbourhood_s = 0.15  #: half-width of the candidate neighbourhood in s
    mwi_s = 0.15  #: moving-window integration length in s
    refractory_s = 0.2  #: refractory period in s
    twave_s = 0.36  #: T-wave check horizon in s
    searchback_factor = 1.66  #: search back after this multiple of the mean RR
    early_factor = 0.45  #: candidates closer than this multiple of the mean RR are noise
    lost_s = 3.0  #: without a beat for this long (s) the signal level decays

    def __init__(self, *, fs: float) -> None:
        if not np.isfinite(fs) or fs < 100:
            raise ValueError(f"EcgBeatDetector: fs must be >= 100 Hz, got {fs!r}")
        self.fs = float(fs)
        self._sos = scipy.signal.butter(2, [5.0, 15.0], btype="bandpass", fs=self.fs, output="sos")
        self._zi_unit = scipy.signal.sosfilt_zi(self._sos)
        self._zi: np.ndarray | None = None
        # group delay of the band-pass at 10 Hz, in s
        b, a = scipy.signal.sos2tf(self._sos)
        _, gd = scipy.signal.group_delay((b, a), w=[10.0], fs=self.fs)
        self.group_delay_s = float(gd[0]) / self.fs
        self._w = max(1, round(self.mwi_s * self.fs))
        self._mwi_b = np.full(self._w, 1.0 / self._w)
        self._mwi_zi = np.zeros(self._w - 1)
        self._prev_bp = 0.0  # for the derivative across chunks
        self._nb = max(1, round(self.neighbourhood_s * self.fs))
        # QRS search region: [cand - back, cand]
        self._back = self._w + max(1, round(0.05 * self.fs))
        self._learn_n = round(self.learn_s * self.fs)
        self._refr = round(self.refractory_s * self.fs)
        self._twave = round(self.twave_s * self.fs)
        self._lost = round(self.lost_s * self.fs)
        # sample buffers (absolute index of buf[0] is _buf0)
        self._bp = np.empty(0)
        self._mwi = np.empty(0)
        self._ts = np.empty(0)
        self._buf0 = 0
        self._n = 0  # samples received
        self._done = 0  # candidate detection finished for samples < _done
        # detection state
        self._learnt = False
        self._spki = 0.0
        self._npki = 0.0
        self._pending: list[tuple[int, float, int, float, float]] = []
        self._noise: list[tuple[int, float, int, float, float]] = []
        self._last_r = -(10**12)  # absolute sample of the last R peak
        self._last_slope = 0.0
        self._have_beat = False
        self._rr: list[int] = []  # last 8 RR in samples (RR AVERAGE1)
        self._rr2: list[int] = []  # last 8 RR within 92-116 % of their mean (RR AVERAGE2)

    @property
    def delay_s(self) -> float:
        """Worst-case output latency after the R peak, in seconds (about 0.3 s)."""
        return (self._nb + self._w) / self.fs + self.group_delay_s

    def update(self, data: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """Feed samples; return the times of newly detected beats.

        Parameters
        ----------
        data : ndarray, shape (n,)
            ECG samples, any unit.
        timestamps : ndarray, shape (n,)
            Sample times in seconds.

        Returns
        -------
        ndarray, shape (n_beats,)
            R-peak times in seconds (group delay compensated) of the beats decided
            during this call, in increasing order.
        """
        x = np.asarray(data, dtype=float).ravel()
        ts = np.asarray(timestamps, dtype=float).ravel()
        if x.shape != ts.shape:
            raise ValueError(
                f"EcgBeatDetector.update: data has {x.size} samples, timestamps {ts.size}"
            )
        if x.size == 0:
            return np.empty(0)
        if self._zi is None:
            self._zi = self._zi_unit * x[0]
        bp, self._zi = scipy.signal.sosfilt(self._sos, x, zi=self._zi)
        d = np.empty_like(bp)
        d[0] = bp[0] - self._prev_bp
        d[1:] = bp[1:] - bp[:-1]
        self._prev_bp = float(bp[-1])
        sq = d * d
        mwi, self._mwi_zi = scipy.signal.lfilter(self._mwi_b, 1.0, sq, zi=self._mwi_zi)
        self._bp = np.concatenate((self._bp, bp))
        self._mwi = np.concatenate((self._mwi, mwi))
        self._ts = np.concatenate((self._ts, ts))
        self._n += x.size

        # candidates among samples with +-nb context: [max(_done, nb), _n - nb)
        lo = max(self._done, self._nb)
        hi = self._n - self._nb
        if hi > lo:
            self._find_candidates(lo, hi)
            self._done = hi
        beats: list[float] = []
        if not self._learnt and self._done >= self._learn_n:
            m = self._mwi[: self._learn_n]  # buffer not trimmed before learning
            self._spki = 0.25 * float(m.max())
            self._npki = 0.5 * float(m.mean())
            self._learnt = True
        if self._learnt:
            for cand in self._pending:
                self._decide(cand, beats)
            self._pending.clear()
            self._trim()
        return np.asarray(beats, dtype=float)

    def _find_candidates(self, lo: int, hi: int) -> None:
        """Append local MWI maxima with absolute index in [lo, hi) to the pending list."""
        o = self._buf0
        seg = self._mwi[lo - self._nb - o : hi + self._nb - o]
        mx = scipy.ndimage.maximum_filter1d(seg, size=2 * self._nb + 1, mode="nearest")
        core = seg[self._nb : self._nb + hi - lo]
        prev = seg[self._nb - 1 : self._nb - 1 + hi - lo]
        is_peak = (core == mx[self._nb : self._nb + hi - lo]) & (core > prev) & (core > 0)
        idx = np.flatnonzero(is_peak) + lo
        if idx.size == 0:
            return
        # R refinement: argmax |bp| in [idx - back, idx]; slope: max |diff bp| there
        start = np.maximum(idx - self._back, 1)
        width = self._back + 1
        rows = start[:, None] + np.arange(width)[None, :]
        rows = np.minimum(rows, idx[:, None])  # short windows at the very start repeat idx
        bpw = self._bp[rows - o]
        r_idx = start + np.argmax(np.abs(bpw), axis=1)
        r_idx = np.minimum(r_idx, idx)
        slope = np.max(np.abs(bpw - self._bp[rows - 1 - o]), axis=1)
        times = self._ts[r_idx - o] - self.group_delay_s
        vals = self._mwi[idx - o]
        self._pending.extend(
            zip(
                idx.tolist(),
                vals.tolist(),
                r_idx.tolist(),
                times.tolist(),
                slope.tolist(),
                strict=True,
            )
        )

    def _threshold(self) -> float:
        return self._npki + 0.25 * (self._spki - self._npki)

    def _accept(
        self, cand: tuple[int, float, int, float, float], beats: list[float], searchback: bool
    ) -> None:
        _, val, r, t, slope = cand
        if searchback:
            self._spki = 0.25 * val + 0.75 * self._spki
        else:
            self._spki = 0.125 * val + 0.875 * self._spki
        if self._have_beat:
            rr = r - self._last_r
            self._rr.append(rr)
            if len(self._rr) > 8:
                del self._rr[0]
            avg1 = sum(self._rr) / len(self._rr)
            avg2 = sum(self._rr2) / len(self._rr2) if self._rr2 else avg1
            if 0.92 * avg2 <= rr <= 1.16 * avg2:
                self._rr2.append(rr)
                if len(self._rr2) > 8:
                    del self._rr2[0]
            elif len(self._rr) == 8 and all(0.92 * avg1 <= v <= 1.16 * avg1 for v in self._rr):
                self._rr2 = list(self._rr)  # regular rhythm at a new rate
        self._last_r = r
        self._last_slope = slope
        self._have_beat = True
        self._noise.clear()
        beats.append(t)

    def _decide(self, cand: tuple[int, float, int, float, float], beats: list[float]) -> None:
        idx, val, r, _, slope = cand
        # search-back when no beat for 1.66 mean RR
        if self._rr:
            avg = sum(self._rr) / len(self._rr)
            if self._rr2:
                avg = min(avg, sum(self._rr2) / len(self._rr2))
            limit = self.searchback_factor * avg
            if idx - self._last_r > limit and self._noise:
                thr2 = 0.5 * self._threshold()
                best = None
                for nc in self._noise:
                    if (
                        nc[2] - self._last_r > self._refr
                        and r - nc[2] > self._refr
                        and nc[1] > thr2
                        and (best is None or nc[1] > best[1])
                    ):
                        best = nc
                if best is not None:
                    self._accept(best, beats, searchback=True)
        if r - self._last_r <= self._refr:
            return  # inside the refractory period: ignored
        if idx - self._last_r > self._lost:
            # no beat for lost_s (e.g. the amplitude dropped after an electrode change):
            # lower the signal level towards the noise level, one step per candidate
            self._spki = max(0.5 * self._spki, self._npki)
        if val > self._threshold():
            early = bool(self._rr) and r - self._last_r < self.early_factor * (
                sum(self._rr) / len(self._rr)
            )
            if early or (r - self._last_r < self._twave and slope < 0.5 * self._last_slope):
                self._npki = 0.125 * val + 0.875 * self._npki  # T wave
                self._add_noise(cand)
                return
            self._accept(cand, beats, searchback=False)
        else:
            self._npki = 0.125 * val + 0.875 * self._npki
            self._add_noise(cand)

    def _add_noise(self, cand: tuple[int, float, int, float, float]) -> None:
        self._noise.append(cand)
        if len(self._noise) > 64:
            del self._noise[0]

    def _trim(self) -> None:
        """Drop buffered samples no longer needed (keeps ~0.5 s)."""
        keep_from = self._done - self._nb - self._back - 2
        drop = keep_from - self._buf0
        if drop > 4 * (self._nb + self._back):  # amortise the copies
            self._bp = self._bp[drop:].copy()
            self._mwi = self._mwi[drop:].copy()
            self._ts = self._ts[drop:].copy()
            self._buf0 += drop


# --------------------------------------------------------------------------- HRV stage


#: Names of the features :meth:`HRVFeatures.as_features` returns, in record order.
HRV_FEATURES: tuple[str, ...] = ("hr_bpm", "ln_rmssd", "sdnn_ms", "hrv_quality")


@dataclass(frozen=True)
class HRVFeatures:
    """HRV features of the rolling beat window at one tick.

    Attributes
    ----------
    t : float
        Time of the newest sample seen, in s.
    hr_bpm : float or None
        Mean heart rate over the window, ``60000 / mean(RR)`` in beats/min, from the
        artifact-corrected intervals; None until the window covers >= 10 s.
    ln_rmssd : float or None
        Natural log of RMSSD (ms) of the corrected intervals in the window; None until
        >= 10 s are covered (Munoz et al. 2015: 10 s RMSSD correlates r = 0.85 with 5 min).
    rmssd_ms : float or None
        RMSSD in ms; None until >= 10 s are covered.
    sdnn_ms : float or None
        SDNN (``ddof=1``) in ms; None until >= 30 s are covered.
    n_beats : int
        Number of beats in the window.
    coverage_s : float
        Newest minus oldest beat time in the window, in s.
    quality : float
        ``1 - corrected / intervals`` in the window, in [0, 1]; 0 when the window holds
        no interval.
    new_beat_times : ndarray, shape (k,)
        Times in s of the beats added by this update.
    new_rr_ms : ndarray, shape (k,)
        The raw interval ending at each new beat, in ms (NaN for the very first beat).
    new_corrected : ndarray of bool, shape (k,)
        Whether each new interval was flagged by the artifact rule.
    """

    t: float
    hr_bpm: float | None
    ln_rmssd: float | None
    rmssd_ms: float | None
    sdnn_ms: float | None
    n_beats: int
    coverage_s: float
    quality: float
    new_beat_times: np.ndarray = field(repr=False)
    new_rr_ms: np.ndarray = field(repr=False)
    new_corrected: np.ndarray = field(repr=False)

    def as_features(self) -> dict[str, float | None]:
        """Return the features for the affect estimator.

        Returns
        -------
        dict
            ``{"hr_bpm", "ln_rmssd", "sdnn_ms", "hrv_quality"}``; None means not
            available (window too short), never NaN.
        """
        return {
            "hr_bpm": self.hr_bpm,
            "ln_rmssd": self.ln_rmssd,
            "sdnn_ms": self.sdnn_ms,
            "hrv_quality": float(self.quality),
        }


class HRVStage:
    """Streaming HRV: beats from ECG (or RR intervals directly) into rolling features.

    ``kind == "ecg"`` chunks pass through :class:`EcgBeatDetector` (first channel);
    ``kind == "rr"`` chunks (irregular; values are RR intervals in ms, timestamps the
    beat times in s, e.g. a Polar H10) bypass detection.

    Artifact rule (Malik et al. 1989, streaming form): an interval deviating more than
    20 % from the median of the last 9 accepted intervals, or outside 250-2500 ms, is
    flagged as corrected and *replaced by that running median* (not excluded) for HR,
    RMSSD and SDNN; flagged intervals do not enter the median. A flagged interval
    before any median exists (start-up, out of range) is excluded. Until 3 intervals have
    been accepted only the physiological range applies. After 5 consecutive flagged
    intervals the median history restarts from the current interval, so a genuine
    sustained change of heart rate is not rejected forever (those intervals stay
    flagged).

    Features are computed over the beats newer than ``t - window_s`` (t: newest sample
    time), kept in a preallocated ring; per-update cost is the new samples plus one
    pass over the window's ~60-300 beats.

    Parameters
    ----------
    fs : float
        Sampling rate of the ECG stream in Hz (>= 100); ignored for RR streams. Only
        the first channel of an ECG chunk is used.
    window_s : float, default 60.0
        Length of the rolling beat window in s.

    Notes
    -----
    Not thread-safe: call :meth:`update` from the engine tick.

    References
    ----------
    Task Force (1996), Circulation 93(5):1043-1065; Malik et al. (1989), Eur Heart J
    10(12):1060-1074; Munoz et al. (2015), PLoS ONE 10(9):e0138921; Pan & Tompkins
    (1985), IEEE TBME 32(3):230-236.
    """

    min_hr_s = 10.0  #: coverage needed for HR and RMSSD, in s
    min_sdnn_s = 30.0  #: coverage needed for SDNN, in s
    tolerance = 0.2  #: Malik rule: relative deviation from the running median
    median_len = 9  #: accepted intervals in the running median
    rr_range_ms = (250.0, 2500.0)  #: physiologically plausible RR range in ms
    max_consecutive = 5  #: restart the median after this many flagged intervals

    def __init__(self, *, fs: float, window_s: float = 60.0) -> None:
        if not np.isfinite(window_s) or window_s <= 0:
            raise ValueError(f"HRVStage: window_s must be > 0 s, got {window_s!r}")
        self.fs = float(fs)
        self.window_s = float(window_s)
        self._detector: EcgBeatDetector | None = None
        cap = int(np.ceil(window_s / 0.2)) + 16  # 200 ms refractory bounds the beat rate
        self._cap = cap
        self._times = np.zeros(cap)
        self._rr = np.full(cap, np.nan)  # raw interval ending at the beat
        self._used = np.full(cap, np.nan)  # corrected interval used for the features
        self._corr = np.zeros(cap, dtype=bool)
        self._count = 0  # beats ever stored
        self._first = 0  # counter of the oldest beat in the window
        self._hist = np.full(self.median_len, np.nan)  # accepted intervals
        self._n_hist = 0
        self._consecutive = 0
        self._last_beat = float("nan")
        self._t = float("nan")

    def _get_detector(self) -> EcgBeatDetector:
        if self._detector is None:
            self._detector = EcgBeatDetector(fs=self.fs)
        return self._detector

    def update(self, chunk: Chunk) -> HRVFeatures:
        """Consume one chunk and return the features of the current window.

        Parameters
        ----------
        chunk : Chunk
            ``kind "ecg"`` (``info.fs`` must equal ``fs``) or ``kind "rr"``.

        Returns
        -------
        HRVFeatures
        """
        kind = chunk.info.kind
        if chunk.n_samples:
            newest = float(chunk.timestamps[-1])
            self._t = newest if not self._t >= newest else self._t  # NaN-safe max
        if kind == "ecg":
            if abs(chunk.info.fs - self.fs) > 1e-9 * self.fs:
                raise ValueError(
                    f"HRVStage: stream {chunk.info.name!r} has fs={chunk.info.fs} Hz but "
                    f"the stage was built with fs={self.fs} Hz"
                )
            beats = self._get_detector().update(chunk.data[0], chunk.timestamps)
            rr = np.diff(beats, prepend=self._last_beat) * 1000.0
        elif kind == "rr":
            beats = np.asarray(chunk.timestamps, dtype=float)
            rr = np.asarray(chunk.data[0], dtype=float)
        else:
            raise ValueError(f"HRVStage: chunk kind must be 'ecg' or 'rr', got {kind!r}")
        corrected, used = self._screen(rr)
        self._store(beats, rr, used, corrected)
        return self._features(beats, rr, corrected)

    def _screen(self, rr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply the running-median rule to new intervals (one step per beat)."""
        n = rr.size
        corrected = np.zeros(n, dtype=bool)
        used = np.full(n, np.nan)
        lo, hi = self.rr_range_ms
        for i in range(n):  # per beat (~1/s), not per sample
            v = float(rr[i])
            if not np.isfinite(v):
                continue  # first beat: no interval
            med = float(np.median(self._hist[: self._n_hist])) if self._n_hist >= 3 else None
            bad = not (lo <= v <= hi)
            if med is not None and abs(v - med) > self.tolerance * med:
                bad = True
            if bad:
                corrected[i] = True
                self._consecutive += 1
                used[i] = med if med is not None else float("nan")
                if self._consecutive >= self.max_consecutive and lo <= v <= hi:
                    self._hist[0] = v
                    self._n_hist = 1
                    self._consecutive = 0
            else:
                used[i] = v
                self._consecutive = 0
                if self._n_hist < self.median_len:
                    self._hist[self._n_hist] = v
                    self._n_hist += 1
                else:
                    self._hist[:-1] = self._hist[1:]
                    self._hist[-1] = v
        return corrected, used

    def _store(
        self, beats: np.ndarray, rr: np.ndarray, used: np.ndarray, corrected: np.ndarray
    ) -> None:
        n = beats.size
        if n == 0:
            return
        if n > self._cap:
            beats, rr, used, corrected = (a[-self._cap :] for a in (beats, rr, used, corrected))
            self._count += n - self._cap
            n = self._cap
        idx = (self._count + np.arange(n)) % self._cap
        self._times[idx] = beats
        self._rr[idx] = rr
        self._used[idx] = used
        self._corr[idx] = corrected
        self._count += n
        self._last_beat = float(beats[-1])

    def _features(self, beats: np.ndarray, rr: np.ndarray, corrected: np.ndarray) -> HRVFeatures:
        self._first = max(self._first, self._count - self._cap)
        if np.isfinite(self._t):
            t0 = self._t - self.window_s
            while self._first < self._count and self._times[self._first % self._cap] <= t0:
                self._first += 1  # beats leave the window in order (few per tick)
        idx = np.arange(self._first, self._count) % self._cap
        times = self._times[idx]
        n_beats = int(idx.size)
        coverage = float(times[-1] - times[0]) if n_beats >= 2 else 0.0
        used = self._used[idx]
        has_iv = np.isfinite(self._rr[idx])
        n_iv = int(np.count_nonzero(has_iv))
        quality = 1.0 - np.count_nonzero(self._corr[idx] & has_iv) / n_iv if n_iv else 0.0
        vals = used[np.isfinite(used)]
        hr = ln_rmssd = rmssd = sdnn = None
        if coverage >= self.min_hr_s and vals.size >= 2:
            hr = float(60000.0 / np.mean(vals))
            rmssd = hrv_rmssd(vals)
            ln_rmssd = float(np.log(rmssd)) if rmssd > 0 else None
            if coverage >= self.min_sdnn_s:
                sdnn = hrv_sdnn(vals)
        return HRVFeatures(
            t=self._t,
            hr_bpm=hr,
            ln_rmssd=ln_rmssd,
            rmssd_ms=rmssd,
            sdnn_ms=sdnn,
            n_beats=n_beats,
            coverage_s=coverage,
            quality=float(quality),
            new_beat_times=np.asarray(beats, dtype=float).copy(),
            new_rr_ms=np.asarray(rr, dtype=float).copy(),
            new_corrected=corrected,
        )
