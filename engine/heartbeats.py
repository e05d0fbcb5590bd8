"""Causal streaming beat detectors: R peaks from ECG, pulse peaks from PPG.

Both detectors take raw samples chunk by chunk, keep every filter state between chunks,
compensate their constant filter delays in the beat times, and make decisions that
depend only on the samples, never on how they were chunked: feeding a signal in chunks
of any size yields exactly the same beats.

References
----------
.. [1] Pan, J., & Tompkins, W. J. (1985). A real-time QRS detection algorithm. IEEE
   Transactions on Biomedical Engineering, 32(3), 230-236.
.. [2] Elgendi, M., Norton, I., Brearley, M., Abbott, D., & Schuurmans, D. (2013).
   Systolic peak detection in acceleration photoplethysmograms measured from emergency
   responders in tropical conditions. PLoS ONE, 8(10), e76585.
.. [3] Makowski, D., et al. (2021). NeuroKit2: A Python toolbox for neurophysiological
   signal processing. Behavior Research Methods, 53(4), 1689-1696 (``ecg_clean``: 0.5 Hz
   high-pass and powerline moving average, reproduced here causally for R placement).
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
import scipy.signal

__all__ = ["EcgBeatDetector", "PpgPulseDetector"]


def _check_xy(name: str, data: np.ndarray, timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(data, dtype=float).ravel()
    ts = np.asarray(timestamps, dtype=float).ravel()
    if x.shape != ts.shape:
        raise ValueError(f"{name}.update: data has {x.size} samples, timestamps {ts.size}")
    return x, ts


def _group_delay_s(sos: np.ndarray, f_hz: float, fs: float) -> float:
    b, a = scipy.signal.sos2tf(sos)
    _, gd = scipy.signal.group_delay((b, a), w=[f_hz], fs=fs)
    return float(gd[0]) / fs


def _linear_filter_kernel():
    """Return the compiled kernel of ``scipy.signal.lfilter`` if it works as expected.

    ``scipy.signal.lfilter`` spends most of its time on a 250-sample chunk checking
    and converting its arguments before calling this kernel with the same arguments;
    the detector calls it directly (identical output) and falls back to ``lfilter``
    if a scipy version lacks it or changed its signature.
    """
    try:
        from scipy.signal._sigtools import _linear_filter

        b, a, x = np.array([0.5, 0.5]), np.array([1.0, -0.5]), np.arange(3.0)
        y, z = _linear_filter(b, a, x, -1, np.zeros(1))
        y_ref, z_ref = scipy.signal.lfilter(b, a, x, zi=np.zeros(1))
        if np.array_equal(y, y_ref) and np.array_equal(z, z_ref):
            return _linear_filter
    except Exception:  # noqa: BLE001 - any failure means: use the public lfilter
        pass
    return None


_LFILTER = _linear_filter_kernel()


def _sos_lfilter(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """Filter ``x`` through second-order sections, one ``lfilter`` call per section.

    Same cascade as ``scipy.signal.sosfilt`` (direct form II transposed per section),
    with far less per-call overhead for short chunks. ``sos`` must be C-contiguous
    float64; ``zi`` (shape ``(n_sections, 2)``) is updated in place.
    """
    y = x
    for k in range(sos.shape[0]):
        if _LFILTER is not None:
            y, zi[k] = _LFILTER(sos[k, :3], sos[k, 3:], y, -1, zi[k])
        else:
            y, zi[k] = scipy.signal.lfilter(sos[k, :3], sos[k, 3:], y, zi=zi[k])
    return y


# (idx, mwi value, R index if upright, R index if inverted, slope, + amplitude,
#  - amplitude, R time if upright, R time if inverted, steepest band-passed sample,
#  local noise level, band-passed QRS amplitude, prominence dominance)
_Cand = tuple[int, float, int, int, float, float, float, float, float, int, float, float, float]
# (template window, R prominence upright, inverted, slope ratio upright, inverted)
_Feat = tuple[np.ndarray, float, float, float, float]


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
       search-back for the largest QRS-like noise candidate (see ``sb_ratio``) above
       half the threshold when no beat was found for 1.66 times the mean RR (the
       smaller of RR AVERAGE1, the mean of the last 8 RR, and RR AVERAGE2, the mean
       of the last 8 RR within 92-116 % of it, reset to AVERAGE1 after 8 regular
       intervals); a candidate closer than 0.45 mean RR to the previous beat counts
       as noise (its MWI peak raises NPKI by at most SPKI: a motion burst or an
       electrode pop many times the QRS energy would otherwise lift the threshold
       above the QRS complexes for seconds after it has ended), and after 3 s without
       a beat SPKI halves at each candidate (recovers
       from amplitude drops);
       a candidate that passes is held *pending* for a short look-ahead: a later
       candidate whose R lies within ``twave_s`` (0.36 s) of the pending R and whose
       maximal slope and MWI peak both exceed the pending one's by ``rival_margin``
       (25 %) replaces it (the pending one was a T wave, P wave or noise deflection
       ahead of the true QRS, the error a causal decision makes in noisy stretches);
       otherwise the pending beat is accepted and the later candidate is judged
       against it by the rules above;
    6. R placement: the extremum of a causally *cleaned* ECG (0.5 Hz Butterworth
       high-pass, order 2, then NeuroKit2's powerline filter: a moving average of
       ``fs / 50`` samples applied twice, i.e. a triangular FIR with an exact integer
       delay) in the QRS region preceding the MWI peak. The extremum is the maximum
       for upright QRS complexes and the minimum for inverted ones; the polarity
       follows a running average (weight 0.1 per beat) of each accepted QRS's
       dominance ``(max - m) - (m - min)`` over ``(max - min)`` (m: the region's
       median), switching to inverted below -0.3 and back to upright above 0 (biphasic
       RS complexes stay upright), so leads with negative R waves and reversed
       electrodes are handled. R is a turning point within +-50 ms of the steepest
       band-passed deflection, unless an earlier turning point of the region is
       ``far_factor`` times larger and the complex is not noisy (``far_noise``): in
       a wide ectopic complex under muscle noise the steepest deflection is the late
       S wave. The FIR delay plus the high-pass group delay at 10 Hz
       is subtracted from that sample's timestamp;
    7. noisy stretches (electrode motion, muscle noise): each candidate carries its
       local noise level, the median |band-pass| over ``noise_win_s`` before its QRS
       region, relative to the running band-passed QRS amplitude of clean beats. Above
       ``noisy_level`` and ``noisy_ratio`` times the median level of the last 31 beats
       (so a recording's usual noise does not count), and once the regular RR is known,
       a candidate is judged by a QRS log-odds instead of energy alone: R prominence
       (R is the extremum of the cleaned ECG within +-``rank_s``), slope ratio (|slope|
       around R against the last ``slope_avg_s``), correlation with running QRS templates
       (one sinus, one for ectopic shapes; mean-free cleaned ECG, +-``tpl_s``, learnt
       from clean beats only), R amplitude relative to clean beats, and RR plausibility:
       nearness to the grid of regular RR multiples counted from the *anchor*, the
       last clean beat that was not premature (so missed or false beats inside a
       motion burst do not shift the expected beat times), or, after recent clean
       ectopy, to that grid shifted by the premature beat's coupling (bigeminy stays
       plausible; see ``grid_n``). An MWI peak accepted there never raises SPKI (noise
       inflates it, and a raised threshold would then miss the low-energy wide PVCs
       right after the stretch). In such a stretch R is placed upright or inverted,
       whichever gives the higher log-odds (noise easily flips a complex's apparent
       dominance, and a discordant PVC must not be placed on its small opposite
       deflection), the polarity opposing the lead's counting the prior log-odds of a
       discordant complex, from the last 32 clean beats (Laplace estimate: a lead
       without discordant ectopy places a wide concordant PVC on its R, not on its S
       wave ~75 ms later); outside noisy stretches the running polarity decides. A candidate
       below ``score_min`` is noise; of two candidates within the look-ahead the higher
       log-odds wins;
       search-back takes the noise candidate of highest log-odds (at least
       ``score_searchback``), and outside noisy stretches never a candidate that lay
       in one. Once the regular RR is known, a candidate whose R has a steep cleaned-ECG
       edge on one side only (edge balance below ``step_balance``) is an electrode pop
       and counts as noise, for direct acceptance and search-back alike. These
       features are computed from the sample
       buffer on first use (the buffer keeps the history of every candidate still
       referenced), so the detector stays chunk-invariant and costs little on clean ECG.

    Thresholds are learnt from the first 2 s of MWI (SPKI = 0.25 max, NPKI = 0.5 mean)
    and then track the signal, so the ECG may be in any unit. Beats come out
    :attr:`delay_s` (~0.73 s) after the R peak.

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
    #: a candidate within ``twave_s`` after a pending beat replaces it when both its
    #: slope and its MWI peak exceed the pending one's by this factor
    rival_margin = 1.25
    #: a complex of the opposite sign whose dominance differs from the lead's running
    #: polarity by more than this (e.g. a PVC of the other polarity) is placed at its
    #: own dominant extremum and leaves the running polarity alone
    discordant = 0.6
    # --- noisy stretches (e.g. electrode motion): local noise level and QRS evidence
    noise_win_s = 0.5  #: local noise level: median |band-pass| over this window before the QRS, s
    #: a candidate is in a noisy stretch when its local noise level, as a fraction of
    #: the running band-passed QRS amplitude, exceeds both this floor and
    #: ``noisy_ratio`` times the median level of the last 31 beats
    noisy_level = 0.15
    noisy_ratio = 3.0
    #: only beats below both this floor and ``clean_ratio`` times the usual level
    #: update the QRS templates and amplitudes
    clean_level = 0.1
    clean_ratio = 1.5
    tpl_s = 0.06  #: half-width of the QRS template window (cleaned ECG) in s
    tpl_lag_s = 0.02  #: templates are matched within +- this lag in s
    tpl_weight = 0.1  #: weight of each clean beat in the sinus template and amplitudes
    #: in noisy stretches R is placed by sinus-template matching within +- this (s) of
    #: the extremum, where the template correlates at least ``align_corr`` and beats
    #: its match with its R laid on the extremum by ``align_gain``
    align_s = 0.1
    align_corr = 0.7
    align_gain = 0.2
    rank_s = 0.25  #: R prominence: fraction of the cleaned ECG within +- this (s) below R
    slope_avg_s = 0.75  #: slope ratio: 0.1 s mean |slope| at R over the mean of this window, s
    #: weights of the QRS log-odds in noisy stretches: R prominence, slope ratio,
    #: template correlation, relative R amplitude, minus RR implausibility, minus bias
    #: (logistic regression on synthetic ECG with motion, EMG and mixed noise; the RR
    #: weight raised for the anchor grid, tuned on motion-burst records)
    score_w = (3.63, 2.34, 1.62, 1.14, 5.0, 9.5)
    #: RR implausibility in noisy stretches counts from the *anchor*, the last beat
    #: accepted outside a noisy stretch that was not premature (a false beat inside a
    #: motion burst must not shift the expected times): the distance of R from the
    #: nearest multiple n of the regular RR beyond ``grid_tol``, in RR units, over
    #: sqrt(n), while n is at most ``grid_n`` (beyond, the last RR are the reference)
    grid_n = 12
    grid_tol = 0.03  #: RR-grid deviation (fraction of the regular RR) that costs nothing
    grid_premature = 0.8  #: a beat closer than this multiple of the regular RR is premature
    #: after a clean premature beat (within this many beats), a beat at the same coupling
    #: after a grid position is plausible too (over sqrt(n + ``grid_pvc_w``), plus
    #: ``grid_pvc_pen`` unless premature beats come every second or third beat)
    grid_ectopy = 16
    grid_pvc_w = 2.0
    grid_pvc_pen = 0.15
    score_min = -1.0  #: in a noisy stretch a candidate below this log-odds is noise
    score_searchback = -1.0  #: least log-odds of a beat found by search-back when noisy
    #: R placement: an earlier turning point of the QRS region beyond the +-50 ms
    #: window replaces the one found there when its deflection is this many times
    #: larger (a wide ectopic complex whose steepest deflection is its late S wave) ...
    far_factor = 1.3
    #: ... and the candidate's local noise level is below this fraction of its
    #: band-passed QRS amplitude
    far_noise = 0.2
    #: outside noisy stretches a search-back beat needs a slope ratio of at least
    #: ``sb_ratio`` or a template correlation (sinus or ectopic) of at least ``sb_corr``
    sb_ratio = 1.8
    sb_corr = 0.6
    #: electrode pops: a complex whose R has a steep edge on one side only (the smaller
    #: over the larger of the maximal cleaned-ECG slopes within ``step_s`` before and
    #: after R, its edge balance, below this) is a step of the electrode potential, not
    #: a QRS (which rises and falls steeply), and counts as noise once the rhythm is known
    step_balance = 0.25
    step_s = 0.06  #: half-width of the edge balance windows before and after R, s
    polarity_weight = 0.1  #: weight of each new beat in the running polarity
    #: hysteresis: R goes to the minimum below the first, back to the maximum above the second
    polarity_switch = (-0.3, 0.0)

    def __init__(self, *, fs: float) -> None:
        if not np.isfinite(fs) or fs < 100:
            raise ValueError(f"EcgBeatDetector: fs must be >= 100 Hz, got {fs!r}")
        self.fs = float(fs)
        self._sos = scipy.signal.butter(2, [5.0, 15.0], btype="bandpass", fs=self.fs, output="sos")
        self._zi_unit = scipy.signal.sosfilt_zi(self._sos)
        self._zi: np.ndarray | None = None
        self.group_delay_s = _group_delay_s(self._sos, 10.0, self.fs)
        # causal "cleaning" for R placement: 0.5 Hz high-pass + powerline triangular FIR
        self._hp = scipy.signal.butter(2, 0.5, btype="highpass", fs=self.fs, output="sos")
        self._hp_zi_unit = scipy.signal.sosfilt_zi(self._hp)
        self._hp_zi: np.ndarray | None = None
        m = max(1, int(self.fs / 50.0))
        self._pl_b = np.convolve(np.full(m, 1.0 / m), np.full(m, 1.0 / m))  # symmetric
        self._pl_tail = np.zeros(self._pl_b.size - 1)  # last inputs of the FIR
        self.clean_delay_s = (m - 1) / self.fs + _group_delay_s(self._hp, 10.0, self.fs)
        self._w = max(1, round(self.mwi_s * self.fs))
        self._mwi_b = np.full(self._w, 1.0 / self._w)
        self._mwi_tail = np.zeros(self._w - 1)
        self._prev_bp = 0.0  # for the derivative across chunks
        self._nb = max(1, round(self.neighbourhood_s * self.fs))
        # QRS search region: [cand - back, cand]
        self._back = self._w + max(1, round(0.05 * self.fs))
        self._ar = np.arange(self._back + 1)  # offsets in the QRS search region
        self._bp_shift = round((self.group_delay_s - self.clean_delay_s) * self.fs)
        self._learn_n = round(self.learn_s * self.fs)
        self._refr = round(self.refractory_s * self.fs)
        self._twave = round(self.twave_s * self.fs)
        self._horizon = self._twave + self._back  # last MWI peak of a rival, after R
        self._lost = round(self.lost_s * self.fs)
        self._near = max(1, round(0.05 * self.fs))
        self._sw = max(2, round(self.step_s * self.fs))  # edge balance: +- this around R
        # QRS template: band-passed window of +-tpl_s around the steepest deflection,
        # matched over +-tpl_lag_s; local noise: median |band-pass| over noise_win_s
        self._th = max(2, round(self.tpl_s * self.fs))
        self._al = round(self.align_s * self.fs)
        self._lag = max(1, round(self.tpl_lag_s * self.fs))
        self._tw = np.arange(-self._th - self._lag, self._th + self._lag + 1)
        self._qwin = round(self.noise_win_s * self.fs)
        step = max(1, round(self.fs / 250.0))  # long windows are sampled at ~250 Hz
        self._qar = np.arange(-self._qwin, 0, step)
        rk = round(self.rank_s * self.fs)
        self._rk = np.arange(-rk, rk + 1, step)  # R prominence window
        self._gs = 2 * round(0.05 * self.fs) + 1  # 0.1 s mean of |slope|, centred on R
        self._ga = round(self.slope_avg_s * self.fs)  # |slope| reference window before R
        # history kept before the QRS region of the oldest undecided candidate
        tw = self._th + self._lag + abs(self._bp_shift)
        self._hist = max(tw, self._qwin, rk, self._ga + 1) + self._back + 2
        self._feat: dict[int, _Feat] = {}  # features of recent candidates, by idx
        self._win: dict[int, np.ndarray] = {}  # their template windows
        self._bal: dict[tuple[int, int], float] = {}  # edge balance, by (idx, R)
        self._tpl: np.ndarray | None = None
        self._tpl2: np.ndarray | None = None
        self._ramp = 0.0
        self._qbase = 0.0  # usual local noise level: median over the last 31 beats
        self._qhist: list[float] = []
        self._qamp = 0.0  # running band-passed QRS amplitude of accepted beats
        # preallocated sample buffer, rows band-pass, cleaned ECG, MWI, timestamps;
        # column 0 holds absolute sample _buf0, columns [0, _len) are filled
        self._buf = np.empty((4, self._learn_n + 8 * (self._nb + self._hist) + round(self.fs)))
        self._len = 0
        self._buf0 = 0
        self._n = 0  # samples received
        self._done = 0  # candidate detection finished for samples < _done
        # detection state
        self._learnt = False
        self._spki = 0.0
        self._npki = 0.0
        self._pending: list[_Cand] = []
        self._noise: list[_Cand] = []
        self._tent: _Cand | None = None  # accepted candidate awaiting its look-ahead
        #: its R sample (fixed while it waits: only an accepted beat changes the polarity)
        self._tent_r = 0
        self._last_r = -(10**12)  # absolute sample of the last R peak
        self._anchor = -(10**12)  # R of the last clean, non-premature beat
        self._coupling = 0.0  # coupling (fraction of the regular RR) of a clean premature beat
        self._coupling_age = 10**9  # beats accepted since
        self._last_clean = False  # whether the last beat lay outside noisy stretches
        self._last_slope = 0.0
        self._have_beat = False
        self._polarity = 0.0  # running QRS dominance, > 0 upright
        self._inverted = False
        self._disc: list[bool] = []  # whether each of the last 32 clean beats was discordant
        self._rr: list[int] = []  # last 8 RR in samples (RR AVERAGE1)
        self._rr2: list[int] = []  # last 8 RR within 92-116 % of their mean (RR AVERAGE2)

    @property
    def delay_s(self) -> float:
        """Output latency after the R peak, in seconds (~0.75 s).

        A beat is decided once ``twave_s`` of look-ahead for a rival complex, the QRS
        search region and the candidate neighbourhood have passed. Beats found by
        search-back come out later (at the next candidate).
        """
        return (self._horizon + self._nb + 1) / self.fs + self.clean_delay_s

    def update(self, data: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """Feed samples; return the times of newly detected beats.

        Parameters
        ----------
        data : ndarray, shape (n,)
            ECG samples, any unit and polarity.
        timestamps : ndarray, shape (n,)
            Sample times in seconds.

        Returns
        -------
        ndarray, shape (n_beats,)
            R-peak times in seconds (filter delays compensated) of the beats decided
            during this call, in increasing order.
        """
        x, ts = _check_xy("EcgBeatDetector", data, timestamps)
        if x.size == 0:
            return np.empty(0)
        if not np.all(np.isfinite(x)):
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        if self._zi is None:
            self._zi = self._zi_unit * x[0]
            self._hp_zi = self._hp_zi_unit * x[0]
        assert self._hp_zi is not None  # set with self._zi above
        bp = _sos_lfilter(self._sos, x, self._zi)
        hp = _sos_lfilter(self._hp, x, self._hp_zi)
        # FIRs as 'valid' convolutions over the carried tail: every output is the same
        # dot product however the signal is chunked (the kernels are symmetric)
        hp = np.concatenate((self._pl_tail, hp))
        cl = np.convolve(hp, self._pl_b, mode="valid")
        self._pl_tail = hp[hp.size - self._pl_tail.size :]
        d = np.empty(bp.size + self._mwi_tail.size)
        d[: self._mwi_tail.size] = self._mwi_tail
        sq = d[self._mwi_tail.size :]
        sq[0] = bp[0] - self._prev_bp
        np.subtract(bp[1:], bp[:-1], out=sq[1:])
        self._prev_bp = float(bp[-1])
        np.multiply(sq, sq, out=sq)
        mwi = np.convolve(d, self._mwi_b, mode="valid")
        self._mwi_tail = d[d.size - self._mwi_tail.size :]
        self._append(bp, cl, mwi, ts)
        self._n += x.size

        # candidates among samples with +-nb context: [max(_done, nb), _n - nb)
        lo = max(self._done, self._nb)
        hi = self._n - self._nb
        if hi > lo:
            self._find_candidates(lo, hi)
            self._done = hi
        beats: list[float] = []
        if not self._learnt and self._done >= self._learn_n:
            m = self._buf[2, : self._learn_n]  # buffer not trimmed before learning
            self._spki = 0.25 * float(m.max())
            self._npki = 0.5 * float(m.mean())
            self._learnt = True
        if self._learnt:
            for cand in self._pending:
                self._decide(cand, beats)
            self._pending.clear()
            if self._tent is not None and self._done - 1 - self._tent_r > self._horizon:
                self._finalize(beats)  # every rival within the horizon has been seen
        return np.asarray(beats, dtype=float)

    def _find_candidates(self, lo: int, hi: int) -> None:
        """Append local MWI maxima with absolute index in [lo, hi) to the pending list."""
        o = self._buf0
        bp_buf, cl_buf, mwi_buf, ts_buf = self._buf[:, : self._len]
        seg = mwi_buf[lo - self._nb - o : hi + self._nb - o]
        mx = scipy.ndimage.maximum_filter1d(seg, size=2 * self._nb + 1, mode="nearest")
        core = seg[self._nb : self._nb + hi - lo]
        prev = seg[self._nb - 1 : self._nb - 1 + hi - lo]
        is_peak = (core == mx[self._nb : self._nb + hi - lo]) & (core > prev) & (core > 0)
        idx = np.flatnonzero(is_peak) + lo
        if idx.size == 0:
            return
        # QRS region [idx - back, idx]: slope = max |diff bp|; R = extremum of cleaned ECG
        start = np.maximum(idx - self._back, 1)
        rows = np.minimum(start[:, None] + self._ar[None, :], idx[:, None]) - o
        # (short windows at the very start repeat idx)
        bpw = bp_buf[rows]
        slope = np.abs(bpw - bp_buf[rows - 1]).max(axis=1)
        clw = cl_buf[rows]
        h = clw.shape[1] // 2
        if clw.shape[1] % 2:  # local isoelectric level: the region's median
            ref = np.partition(clw, h, axis=1)[:, h]
        else:
            ref = np.median(clw, axis=1)
        pos = clw.max(axis=1) - ref
        neg = ref - clw.min(axis=1)
        # R: the largest interior local maximum (minimum when inverted), as a turning
        # point, not a window edge sitting on a slope, within +-50 ms of the steepest
        # band-passed deflection (delays aligned); the region's extremum if there is none
        c, left, right = clw[:, 1:-1], clw[:, :-2], clw[:, 2:]
        absbp = np.abs(bpw)
        kmax = absbp.argmax(axis=1)  # steepest band-passed sample (template centre)
        r_bp = kmax - self._bp_shift
        near = np.abs(self._ar[None, 1:-1] - r_bp[:, None]) <= self._near
        upa = (c >= left) & (c > right)  # every interior turning point
        dna = (c <= left) & (c < right)
        cu = np.where(upa, c, -np.inf)
        cd = np.where(dna, c, np.inf)
        rr_ = np.arange(idx.size)
        wu = np.where(near, cu, -np.inf)
        wd = np.where(near, cd, np.inf)
        ku = wu.argmax(axis=1)
        kd = wd.argmin(axis=1)
        k_pos = np.where(wu[rr_, ku] > -np.inf, ku + 1, clw.argmax(axis=1))
        k_neg = np.where(wd[rr_, kd] < np.inf, kd + 1, clw.argmin(axis=1))
        # band-passed QRS amplitude; local noise level: median |band-pass| before the QRS
        amp = absbp[rr_, kmax]
        qrows = np.maximum(start[:, None] + self._qar[None, :], 0) - o
        hq = self._qar.size // 2
        qnoise = np.partition(np.abs(bp_buf[qrows]), hq, axis=1)[:, hq]
        # a wide ectopic complex under muscle noise: its steepest deflection is the late
        # S wave; an earlier, clearly larger turning point is R
        quiet = qnoise < self.far_noise * amp
        a_pos = cu.argmax(axis=1)
        a_neg = cd.argmin(axis=1)
        has_pos = cu[rr_, a_pos] > -np.inf  # any turning point at all
        has_neg = cd[rr_, a_neg] < np.inf
        a_pos += 1
        a_neg += 1
        big = (clw[rr_, a_pos] - ref) > self.far_factor * (clw[rr_, k_pos] - ref)
        k_pos = np.where(has_pos & big & (a_pos < k_pos) & quiet, a_pos, k_pos)
        big = (ref - clw[rr_, a_neg]) > self.far_factor * (ref - clw[rr_, k_neg])
        k_neg = np.where(has_neg & big & (a_neg < k_neg) & quiet, a_neg, k_neg)
        r_pos = np.minimum(start + k_pos, idx)
        r_neg = np.minimum(start + k_neg, idx)
        # prominence dominance: the region's maximum over the higher of the minima on
        # its two sides against its minimum under the lower of the maxima on its sides.
        # A wide upright complex fills most of the region, lifting its median, so its
        # S wave looks deeper below the median than R rises above it; its prominence
        # still says upright (a QS or inverted complex has the deep, prominent minimum)
        jmax, jmin = clw.argmax(axis=1), clw.argmin(axis=1)
        lo_l = np.minimum.accumulate(clw, axis=1)
        lo_r = np.minimum.accumulate(clw[:, ::-1], axis=1)[:, ::-1]
        hi_l = np.maximum.accumulate(clw, axis=1)
        hi_r = np.maximum.accumulate(clw[:, ::-1], axis=1)[:, ::-1]
        p_up = clw[rr_, jmax] - np.maximum(lo_l[rr_, jmax], lo_r[rr_, jmax])
        p_dn = np.minimum(hi_l[rr_, jmin], hi_r[rr_, jmin]) - clw[rr_, jmin]
        pdom = (p_up - p_dn) / np.maximum(p_up + p_dn, 1e-300)
        vals = mwi_buf[idx - o]
        self._pending.extend(
            zip(
                idx.tolist(),
                vals.tolist(),
                r_pos.tolist(),
                r_neg.tolist(),
                slope.tolist(),
                pos.tolist(),
                neg.tolist(),
                (ts_buf[r_pos - o] - self.clean_delay_s).tolist(),
                (ts_buf[r_neg - o] - self.clean_delay_s).tolist(),
                (start + kmax).tolist(),
                qnoise.tolist(),
                amp.tolist(),
                pdom.tolist(),
                strict=True,
            )
        )

    def _window(self, cand: _Cand) -> np.ndarray:
        """Mean-free cleaned-ECG window around the steepest band-passed sample."""
        w = self._win.get(cand[0])
        if w is None:
            last = cand[0] + self._nb - 1 - self._buf0
            w = self._buf[1, np.clip(cand[9] - self._bp_shift + self._tw - self._buf0, 0, last)]
            w = w - w.mean()
            self._win[cand[0]] = w
            if len(self._win) > 256:
                del self._win[next(iter(self._win))]
        return w

    def _features(self, cand: _Cand) -> _Feat:
        """QRS evidence of a candidate, computed from the buffer on first use.

        A pure function of the signal around the candidate (the buffer keeps the
        history of every candidate still referenced), hence chunk-invariant: the
        mean-free cleaned-ECG template window around the steepest band-passed sample,
        and for R placed upright and inverted the R prominence (fraction of the cleaned
        ECG within +-``rank_s`` on R's far side) and the slope ratio (mean |slope| over
        0.1 s around R over its mean from ``slope_avg_s`` before R).
        """
        f = self._feat.get(cand[0])
        if f is not None:
            return f
        o = self._buf0
        cl = self._buf[1, : self._len]
        last = cand[0] + self._nb - 1 - o  # last sample the candidate may look at
        out: list = [self._window(cand)]
        for r, sign in ((cand[2], 1.0), (cand[3], -1.0)):
            ref = sign * cl[r - o]
            out.append(float(np.mean(sign * cl[np.clip(r + self._rk - o, 0, last)] <= ref)))
        for r in (cand[2], cand[3]):
            b = min(r + self._gs // 2 - o, last) + 1
            a = max(r - self._ga - o, 1)
            g = np.abs(np.diff(cl[a - 1 : b]))
            near = float(g[-self._gs :].mean())
            out.append(near / max(float(g.mean()), 1e-300))
        f = (out[0], out[1], out[2], out[3], out[4])
        self._feat[cand[0]] = f
        if len(self._feat) > 256:
            del self._feat[next(iter(self._feat))]
        return f

    def _upright(self, cand: _Cand) -> bool:
        """Whether to place R at the maximum (upright QRS) rather than the minimum.

        In a noisy stretch the polarity of higher log-odds wins, the one opposing the
        lead's counting the prior log-odds that a complex is discordant: how often the
        last 32 clean beats were (Laplace estimate). In a lead without discordant
        ectopy a wide complex is not placed on its opposite lobe (a concordant PVC's S
        wave lies ~75 ms after R) on the word of noise alone.
        """
        if self._gated(cand):
            lead = not self._inverted
            p = (sum(self._disc) + 1.0) / (len(self._disc) + 2.0)
            prior = float(np.log(p / (1.0 - p)))
            if self._score_at(cand, lead) >= self._score_at(cand, not lead) + prior:
                return lead
            return not lead
        return self._upright_lead(cand)

    def _upright_lead(self, cand: _Cand) -> bool:
        """Polarity from the complex's dominance and the lead's running polarity."""
        pos, neg = cand[5], cand[6]
        if not self._have_beat:
            return pos >= neg
        if self._inverted:
            return self._discordant(cand)  # a clearly upright complex in an inverted lead
        return not self._discordant(cand)  # a clearly inverted one (e.g. a PVC)

    def _discordant(self, cand: _Cand) -> bool:
        """Whether a complex's dominance opposes the lead's running polarity.

        Both measures must say so: the dominance about the region's median beyond
        ``discordant`` from the running polarity, and the prominence dominance of the
        opposite sign (a wide upright PVC's S wave is not its R).
        """
        pos, neg = cand[5], cand[6]
        dom = (pos - neg) / (pos + neg) if pos + neg > 0 else 0.0
        if self._inverted:
            return dom > 0 and dom > self._polarity + self.discordant and cand[12] > 0
        return dom < 0 and dom < self._polarity - self.discordant and cand[12] < 0

    def _r_of(self, cand: _Cand) -> int:
        """R sample of a candidate under the current polarity."""
        return cand[2] if self._upright(cand) else cand[3]

    def _match(self, cand: _Cand, tpl: np.ndarray | None = None) -> tuple[float, int]:
        """Best normalized correlation of a candidate's QRS with a template, and lag."""
        tpl = self._tpl if tpl is None else tpl
        if tpl is None:
            return 1.0, self._lag
        w = self._window(cand)
        num = np.correlate(w, tpl, mode="valid")
        c = np.concatenate(([0.0], np.cumsum(w * w)))
        m = tpl.size
        den = np.sqrt(np.maximum(c[m:] - c[:-m], 1e-300))
        k = int(np.argmax(num / den))
        return float(num[k] / den[k]), k

    def _noisy(self, cand: _Cand) -> float:
        """Local noise level relative to the running band-passed QRS amplitude."""
        return cand[10] / self._qamp if self._qamp > 0 else 0.0

    def _is_noisy(self, cand: _Cand) -> bool:
        """Whether a candidate lies in a noisy stretch (relative to the usual level)."""
        return self._noisy(cand) > max(self.noisy_level, self.noisy_ratio * self._qbase)

    def _is_clean(self, cand: _Cand) -> bool:
        """Whether a candidate lies in a stretch clean enough to learn its QRS shape."""
        return self._noisy(cand) < max(self.clean_level, self.clean_ratio * self._qbase)

    def _gated(self, cand: _Cand) -> bool:
        """Whether a candidate is judged by its QRS log-odds (noisy, rhythm known)."""
        return bool(self._rr2) and self._ramp > 0 and self._is_noisy(cand)

    def _score(self, cand: _Cand) -> float:
        """Log-odds that a candidate in a noisy stretch is a QRS complex."""
        return self._score_at(cand, self._upright(cand))

    def _score_at(self, cand: _Cand, up: bool) -> float:
        """QRS log-odds of a candidate with R placed upright (True) or inverted."""
        f = self._features(cand)
        rank, ratio = (f[1], f[3]) if up else (f[2], f[4])
        amp = (cand[6] if self._inverted else cand[5]) / self._ramp
        rr = self._rr_implausibility(cand[2] if up else cand[3])
        corr = self._best_corr(cand)
        w = self.score_w
        return w[0] * rank + w[1] * ratio + w[2] * corr + w[3] * amp - w[4] * rr - w[5]

    def _best_corr(self, cand: _Cand) -> float:
        """Return the correlation with the sinus template or, if higher, the ectopic one."""
        corr = self._match(cand)[0]
        if self._tpl2 is not None:
            corr = max(corr, self._match(cand, self._tpl2)[0])
        return corr

    def _rr_implausibility(self, r: int) -> float:
        """How far an R at sample ``r`` lies from the expected beat times, in RR units.

        Within ``grid_n`` regular RR of the anchor (the last clean, non-premature beat),
        the distance from the nearest RR multiple n beyond ``grid_tol``, over sqrt(n)
        (sinus-rate drift accumulates), or, after recent clean ectopy, from that grid
        shifted by the premature beat's coupling, or, right after a clean premature
        beat, from its coupling interval (a couplet); the smallest counts. Farther from
        the anchor, the distance from the regular or one of the last two RR after the
        last beat. Missed or false beats inside a noisy stretch do not shift the grid.
        """
        avg2 = sum(self._rr2) / len(self._rr2)
        q = (r - self._anchor) / avg2
        n = max(1, round(q))
        d = r - self._last_r
        last = min(abs(d / v - 1.0) for v in [avg2, *self._rr[-2:]])
        if n > self.grid_n:
            return last
        rr = max(0.0, abs(q - n) - self.grid_tol) / np.sqrt(n)
        if self._last_clean and self._coupling_age == 0:
            # right after a clean premature beat: a second one (a couplet) is plausible
            rr = min(rr, abs(d / (self._coupling * avg2) - 1.0))
        if self._coupling_age <= self.grid_ectopy:
            qp = q - self._coupling
            m = max(0, round(qp))
            pen = self.grid_pvc_pen if self._coupling_age > 2 else 0.0  # bigeminy: none
            dev = max(0.0, abs(qp - m) - self.grid_tol) / np.sqrt(m + self.grid_pvc_w)
            rr = min(rr, dev + pen)
        return rr

    def _qrs_like(self, cand: _Cand) -> bool:
        """Whether a search-back candidate outside noisy stretches looks like a QRS.

        Muscle noise raises many MWI peaks above half the threshold; search-back takes
        one only if it is steep against its surroundings (slope ratio >= ``sb_ratio``)
        or matches the sinus or the ectopic template (correlation >= ``sb_corr``).
        Before the first template every candidate qualifies.
        """
        if self._tpl is None:
            return True
        f = self._features(cand)
        up = self._upright(cand)
        if (f[3] if up else f[4]) >= self.sb_ratio:
            return True
        return self._best_corr(cand) >= self.sb_corr

    def _steplike(self, cand: _Cand, r: int) -> bool:
        """Whether a candidate is an electrode pop: a steep edge on one side of R only.

        The edge balance is the smaller over the larger maximal |slope| of the cleaned
        ECG within ``step_s`` before and after R; a QRS rises and falls steeply, a step
        of the electrode potential (a pop, then a slow decay) has one edge. Computed from
        the buffer on first use (samples up to the candidate's right context only), hence
        chunk-invariant. Only judged once the regular RR is known; ``r`` is the
        candidate's R sample under the current polarity.
        """
        if not self._rr2:
            return False
        key = (cand[0], r)
        b = self._bal.get(key)
        if b is None:
            o = self._buf0
            end = min(r + self._sw, cand[0] + self._nb - 1) + 1 - o
            seg = self._buf[1, r - self._sw - o : end]
            g = seg[1:] - seg[:-1]
            np.abs(g, out=g)
            a1 = float(g[: self._sw].max())
            a2 = float(g[self._sw :].max())
            b = min(a1, a2) / max(a1, a2, 1e-300)
            self._bal[key] = b
            if len(self._bal) > 256:
                del self._bal[next(iter(self._bal))]
        return b < self.step_balance

    def _aligned_r(self, cand: _Cand, r: int) -> int:
        """R of a noisy-stretch beat placed by its best template match.

        In a noisy stretch the extremum of the cleaned ECG is often a noise deflection
        near the QRS. The sinus template (learnt from many clean beats; the ectopic one
        rests on few and misplaced beats when tried) is slid over the cleaned ECG within
        +-``align_s`` of ``r``. R goes to the template's R at the best lag where the
        template correlates at least ``align_corr`` there, ``align_gain`` better than
        with its R laid on ``r``, and the RR grid finds the new place no less plausible
        (within ``grid_tol``). Ectopic shapes keep their extremum. Uses samples up to
        the candidate's right context only (chunk-invariant).
        """
        tpl = self._tpl
        if tpl is None:
            return r
        if self._tpl2 is not None and self._match(cand, self._tpl2)[0] > self._match(cand)[0]:
            return r  # an ectopic shape: the sinus template does not describe it
        o = self._buf0
        half = self._th  # templates span 2 th + 1 samples
        last = cand[0] + self._nb - 1
        lo = r - self._al - half
        hi = min(r + self._al + half, last) + 1
        if lo < o or hi - lo < 2 * half + 1:
            return r
        w = self._buf[1, lo - o : hi - o]
        m = 2 * half + 1
        c = np.concatenate(([0.0], np.cumsum(w * w)))
        s1 = np.concatenate(([0.0], np.cumsum(w)))
        # mean-free correlation: sum(w t) with t mean-free equals sum((w - mean w) t)
        var = np.maximum(c[m:] - c[:-m] - (s1[m:] - s1[:-m]) ** 2 / m, 1e-300)
        tz = tpl - tpl.mean()
        num = np.correlate(w, tz, mode="valid")
        cc = num / np.sqrt(var) / max(float(np.sqrt(tz @ tz)), 1e-300)
        j = int(np.argmin(tz)) if self._inverted else int(np.argmax(tz))  # the template's R
        k = int(np.argmax(cc))
        k0 = r - j - lo  # the template's R on the R found
        here = float(cc[k0]) if 0 <= k0 < cc.size else -1.0
        r_new = lo + k + j
        if (
            cc[k] >= self.align_corr
            and cc[k] > here + self.align_gain
            and self._rr_implausibility(r_new) <= self._rr_implausibility(r) + self.grid_tol
        ):
            return r_new  # the template's fit and the rhythm agree on the move
        return r

    def _threshold(self) -> float:
        return self._npki + 0.25 * (self._spki - self._npki)

    def _noise_peak(self, val: float) -> None:
        """Update NPKI with a noise candidate's MWI peak, counted up to SPKI.

        An artifact many times the QRS energy (electrode pop, motion burst) says no more
        about the noise level than a QRS-sized peak; uncapped, it would lift the
        threshold above the QRS complexes for seconds after it has ended.
        """
        self._npki = 0.125 * min(val, self._spki) + 0.875 * self._npki

    def _accept(self, cand: _Cand, beats: list[float], searchback: bool) -> None:
        _, val, _, _, slope, pos, neg, t_pos, t_neg = cand[:9]
        upright = self._upright(cand)
        r, t = (cand[2], t_pos) if upright else (cand[3], t_neg)
        if self._gated(cand):
            val = min(val, self._spki)  # a noise-inflated MWI peak never raises the level
            r_al = self._aligned_r(cand, r)
            if r_al != r:
                t = float(self._buf[3, r_al - self._buf0]) - self.clean_delay_s
        if searchback:
            self._spki = 0.25 * val + 0.75 * self._spki
        else:
            self._spki = 0.125 * val + 0.875 * self._spki
        dom = (pos - neg) / (pos + neg) if pos + neg > 0 else 0.0
        if self._have_beat:
            disc = self._discordant(cand)
            if not self._is_noisy(cand):  # the prior of a discordant complex
                self._disc.append(disc)
                if len(self._disc) > 32:
                    del self._disc[0]
            # an ectopic complex of the other polarity leaves the lead's polarity alone
            if not disc:
                self._polarity += self.polarity_weight * (dom - self._polarity)
                if self._inverted and self._polarity > self.polarity_switch[1]:
                    self._inverted = False
                elif not self._inverted and self._polarity < self.polarity_switch[0]:
                    self._inverted = True
            rr = r - self._last_r
            ref = sum(self._rr2) / len(self._rr2) if self._rr2 else rr
            self._coupling_age += 1
            self._last_clean = not self._is_noisy(cand)
            if self._last_clean:  # the RR grid of noisy stretches
                if rr >= self.grid_premature * ref:
                    self._anchor = r
                elif r - self._anchor < 1.5 * ref:  # premature, right after the anchor
                    self._coupling = (r - self._anchor) / ref
                    self._coupling_age = 0
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
        else:
            self._polarity = dom
            self._inverted = dom < 0
            self._anchor = r
        if self._tpl is not None and self._is_clean(cand):
            corr, k = self._match(cand)
            if corr < 0.7 or self._discordant(cand):  # ectopic morphology: second template
                c2, k2 = self._match(cand, self._tpl2)
                w = self._window(cand)[k2 : k2 + 2 * self._th + 1]
                w = w / max(float(np.sqrt(w @ w)), 1e-300)
                if self._tpl2 is None or c2 < 0.5:
                    self._tpl2 = w
                else:
                    self._tpl2 = self._tpl2 + 0.3 * (w - self._tpl2)
                    self._tpl2 /= max(float(np.sqrt(self._tpl2 @ self._tpl2)), 1e-300)
        if not self._discordant(cand) and self._is_clean(cand):
            a = neg if self._inverted else pos
            self._ramp = a if self._ramp == 0 else self._ramp + 0.1 * (a - self._ramp)
            corr, k = self._match(cand)
            w = self._window(cand)[k : k + 2 * self._th + 1]
            w = w / max(float(np.sqrt(w @ w)), 1e-300)
            if self._tpl is None:
                self._tpl = w
                self._qamp = cand[11]
            elif corr > 0.5:
                self._tpl = self._tpl + self.tpl_weight * (w - self._tpl)
                self._tpl /= max(float(np.sqrt(self._tpl @ self._tpl)), 1e-300)
                self._qamp += self.tpl_weight * (cand[11] - self._qamp)
        self._qhist.append(self._noisy(cand))
        if len(self._qhist) > 31:
            del self._qhist[0]
        self._qbase = sorted(self._qhist)[len(self._qhist) // 2]
        self._last_r = r
        self._last_slope = slope
        self._have_beat = True
        self._noise.clear()
        beats.append(t)

    def _decide(self, cand: _Cand, beats: list[float]) -> None:
        idx, val, _, _, slope = cand[:5]
        if self._tent is not None and idx - self._tent_r > self._horizon:
            self._finalize(beats)  # no rival can come any more (R >= idx - back)
        pending = self._tent is not None
        r = self._r_of(cand)
        # search-back when no beat for 1.66 mean RR (a pending beat is a beat)
        if self._rr and not pending:
            avg = sum(self._rr) / len(self._rr)
            if self._rr2:
                avg = min(avg, sum(self._rr2) / len(self._rr2))
            limit = self.searchback_factor * avg
            if idx - self._last_r > limit and self._noise:
                thr2 = 0.5 * self._threshold()
                best, bkey = None, 0.0
                noisy = self._gated(cand)
                for nc in self._noise:
                    nr = self._r_of(nc)
                    if nr - self._last_r <= self._refr or r - nr <= self._refr or nc[1] <= thr2:
                        continue
                    if self._steplike(nc, nr):
                        continue
                    if noisy:
                        key = self._score(nc)
                        if key < self.score_searchback:
                            continue
                    elif self._is_noisy(nc) or not self._qrs_like(nc):
                        continue
                    else:
                        key = nc[1]
                    if best is None or key > bkey:
                        best, bkey = nc, key
                if best is not None:
                    self._accept(best, beats, searchback=True)
                    r = self._r_of(cand)
        if r - self._last_r <= self._refr:
            return  # inside the refractory period: ignored
        if idx - self._last_r > self._lost and not pending:
            # no beat for lost_s (e.g. the amplitude dropped after an electrode change):
            # lower the signal level towards the noise level, one step per candidate
            self._spki = max(0.5 * self._spki, self._npki)
        if val > self._threshold():
            early = bool(self._rr) and r - self._last_r < self.early_factor * (
                sum(self._rr) / len(self._rr)
            )
            if self._gated(cand):  # noisy stretch: demand QRS evidence
                early = early or self._score(cand) < self.score_min
            if (
                early
                or (r - self._last_r < self._twave and slope < 0.5 * self._last_slope)
                or self._steplike(cand, r)  # an electrode pop
            ):
                self._noise_peak(val)  # T wave
                self._add_noise(cand)
                return
            if self._tent is None:
                self._tent = cand  # decided once its look-ahead horizon has passed
                self._tent_r = r
                return
            tent = self._tent
            tr = self._tent_r
            if r - tr <= self._twave and self._gated(cand):
                # noisy stretch: of two close complexes keep the more QRS-like one
                if self._score(cand) > self._score(tent):
                    self._noise_peak(tent[1])
                    self._add_noise(tent)
                    self._tent = cand
                    self._tent_r = r
                else:
                    self._noise_peak(val)
                    self._add_noise(cand)
                return
            if (
                r - tr <= self._twave
                and slope > self.rival_margin * tent[4]
                and val > self.rival_margin * tent[1]
            ):
                # a clearly steeper and larger complex right after the pending one: the
                # pending one was a T wave or noise preceding the QRS
                self._noise_peak(tent[1])
                self._add_noise(tent)
                self._tent = cand
                self._tent_r = r
                return
            # the pending beat stands; judge this candidate against it
            self._finalize(beats)
            self._decide(cand, beats)
        else:
            self._noise_peak(val)
            self._add_noise(cand)

    def _finalize(self, beats: list[float]) -> None:
        """Accept the pending beat; keep the noise candidates that came after it."""
        tent = self._tent
        assert tent is not None  # called only with a pending beat
        self._tent = None
        later = [nc for nc in self._noise if nc[0] > tent[0]]
        self._accept(tent, beats, searchback=False)
        self._noise.extend(later)

    def _add_noise(self, cand: _Cand) -> None:
        self._noise.append(cand)
        if len(self._noise) > 64:
            del self._noise[0]

    def _append(self, *rows: np.ndarray) -> None:
        """Write new samples of each buffer row, compacting or growing when full."""
        n = rows[0].size
        if self._len + n > self._buf.shape[1]:
            drop = 0
            if self._learnt:  # keep the QRS region of the oldest undecided sample
                drop = max(0, self._done - self._nb - self._hist - 2 - self._buf0)
                # and the history of every candidate whose features may still be needed
                refs = [c[0] for c in self._noise]
                if self._tent is not None:
                    refs.append(self._tent[0])
                if refs:
                    drop = max(0, min(drop, min(refs) - self._hist - 2 - self._buf0))
            keep = self._len - drop
            if keep + n > self._buf.shape[1]:  # a chunk larger than the buffer
                buf = np.empty((4, 2 * (keep + n)))
                buf[:, :keep] = self._buf[:, drop : self._len]
                self._buf = buf
            else:
                self._buf[:, :keep] = self._buf[:, drop : self._len]
            self._len = keep
            self._buf0 += drop
        for k, r in enumerate(rows):
            self._buf[k, self._len : self._len + n] = r
        self._len += n


class PpgPulseDetector:
    """Causal streaming PPG systolic-peak detector (Elgendi two moving averages).

    Processing chain (filter states carried between chunks):

    1. 0.5-8 Hz Butterworth band-pass (order 2, second-order sections), started in the
       steady state of the first sample;
    2. negative values clipped to 0, squared;
    3. two causal moving averages, ``MA_peak`` over 111 ms and ``MA_beat`` over 667 ms;
       ``MA_peak`` is delayed so that both are centred on the same sample (integer
       delays), which makes the causal pair equal to Elgendi's centred one shifted by
       half the beat window;
    4. blocks of interest where ``MA_peak > MA_beat + 0.02 * mean(y^2)``, the mean being
       an exponential running mean with a 10 s time constant; blocks shorter than
       111 ms are ignored;
    5. the pulse peak is the maximum of the band-passed signal in each block; peaks
       closer than 0.3 s to the previous one are dropped; the band-pass phase delay at
       3 Hz (the systolic upstroke's dominant harmonics; ~17 ms) is subtracted from the
       peak's timestamp. Blocks ending in the first
       second (filter start-up) are ignored.

    Beats come out about 0.35 s plus the systolic half-width after the peak.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz, >= 20.

    Notes
    -----
    Not thread-safe: call :meth:`update` from one thread.

    References
    ----------
    Elgendi, M., et al. (2013). Systolic peak detection in acceleration
    photoplethysmograms measured from emergency responders in tropical conditions.
    PLoS ONE, 8(10), e76585. (NeuroKit2's default ``ppg_peaks`` method.)
    """

    peak_window_s = 0.111  #: MA_peak length in s
    beat_window_s = 0.667  #: MA_beat length in s
    beat_offset = 0.02  #: threshold offset, fraction of the mean squared signal
    min_delay_s = 0.3  #: minimum time between pulses in s
    mean_tau_s = 10.0  #: time constant of the running mean of y^2, s
    startup_s = 1.0  #: blocks ending before this are ignored, s

    def __init__(self, *, fs: float) -> None:
        if not np.isfinite(fs) or fs < 20:
            raise ValueError(f"PpgPulseDetector: fs must be >= 20 Hz, got {fs!r}")
        self.fs = float(fs)
        self._sos = scipy.signal.butter(2, [0.5, 8.0], btype="bandpass", fs=self.fs, output="sos")
        self._zi_unit = scipy.signal.sosfilt_zi(self._sos)
        self._zi: np.ndarray | None = None
        # the systolic peak is shaped by the upstroke's harmonics (~3 Hz): the phase delay
        # there is how far the band-pass moves the peak (measured: within ~15 ms)
        _, h = scipy.signal.sosfreqz(self._sos, worN=[3.0], fs=self.fs)
        self.group_delay_s = float(-np.angle(h[0]) / (2 * np.pi * 3.0))
        w1 = max(1, round(self.peak_window_s * self.fs)) // 2 * 2 + 1  # odd lengths
        w2 = max(3, round(self.beat_window_s * self.fs)) // 2 * 2 + 1
        self._w1 = w1
        self._d2 = (w2 - 1) // 2  # centre delay of MA_beat
        extra = (w2 - w1) // 2  # MA_peak is delayed this much more
        b1 = np.zeros(w1 + extra)
        b1[extra:] = 1.0 / w1
        self._b1, self._b2 = b1, np.full(w2, 1.0 / w2)
        self._z1 = np.zeros(b1.size - 1)
        self._z2 = np.zeros(w2 - 1)
        a = 1.0 - np.exp(-1.0 / (self.mean_tau_s * self.fs))
        self._ema = ([a], [1.0, a - 1.0])
        self._zm: np.ndarray | None = None
        self._min_delay = round(self.min_delay_s * self.fs)
        self._startup = round(self.startup_s * self.fs)
        self._max_block = round(3.0 * self.fs)
        self._bp = np.empty(0)
        self._ts = np.empty(0)
        self._buf0 = 0
        self._n = 0
        self._in_block = False
        self._block_start = 0  # absolute (centred) index
        self._last_peak = -(10**12)

    @property
    def delay_s(self) -> float:
        """Minimum output latency after the pulse peak, in seconds (~0.35 s)."""
        return self._d2 / self.fs + self.group_delay_s

    def update(self, data: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """Feed samples; return the times of newly detected pulse peaks.

        Parameters
        ----------
        data : ndarray, shape (n,)
            PPG samples, any unit (larger = more blood volume).
        timestamps : ndarray, shape (n,)
            Sample times in seconds.

        Returns
        -------
        ndarray, shape (n_beats,)
            Systolic peak times in seconds (band-pass delay compensated), increasing.
        """
        x, ts = _check_xy("PpgPulseDetector", data, timestamps)
        if x.size == 0:
            return np.empty(0)
        if not np.all(np.isfinite(x)):
            x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        if self._zi is None:
            self._zi = self._zi_unit * x[0]
        bp, self._zi = scipy.signal.sosfilt(self._sos, x, zi=self._zi)
        y = np.maximum(bp, 0.0)
        y *= y
        one = np.ones(1)
        ma1, self._z1 = scipy.signal.lfilter(self._b1, one, y, zi=self._z1)
        ma2, self._z2 = scipy.signal.lfilter(self._b2, one, y, zi=self._z2)
        if self._zm is None:
            self._zm = scipy.signal.lfilter_zi(*self._ema) * y[0]
        mean, self._zm = scipy.signal.lfilter(*self._ema, y, zi=self._zm)
        above = ma1 > ma2 + self.beat_offset * mean
        self._bp = np.concatenate((self._bp, bp))
        self._ts = np.concatenate((self._ts, ts))
        n0 = self._n
        self._n += x.size
        # edges of the boolean run, as absolute *centred* indices (sample - d2)
        prev = np.empty_like(above)
        prev[0] = self._in_block
        prev[1:] = above[:-1]
        starts = (np.flatnonzero(above & ~prev) + n0 - self._d2).tolist()
        ends = (np.flatnonzero(~above & prev) + n0 - self._d2).tolist()
        beats: list[float] = []
        si = 0
        if self._in_block and ends:  # block open from an earlier chunk
            self._close(self._block_start, ends[0], beats)
            ends = ends[1:]
        for e in ends:
            self._close(starts[si], e, beats)
            si += 1
        if si < len(starts):
            self._in_block, self._block_start = True, starts[si]
        elif not above[-1]:
            self._in_block = False
        self._trim()
        return np.asarray(beats, dtype=float)

    def _close(self, s: int, e: int, beats: list[float]) -> None:
        """Handle the finished block [s, e) (absolute sample indices)."""
        if e - s < self._w1 or e <= self._startup or e - s > self._max_block:
            return
        s = max(s, self._buf0)
        seg = self._bp[s - self._buf0 : e - self._buf0]
        p = s + int(np.argmax(seg))
        if p - self._last_peak < self._min_delay:
            return
        self._last_peak = p
        beats.append(float(self._ts[p - self._buf0]) - self.group_delay_s)

    def _trim(self) -> None:
        keep_from = self._n - self._d2 - self._max_block - 2
        if self._in_block:
            keep_from = min(keep_from, self._block_start)
        drop = keep_from - self._buf0
        if drop > self._max_block:
            self._bp = self._bp[drop:].copy()
            self._ts = self._ts[drop:].copy()
            self._buf0 += drop
