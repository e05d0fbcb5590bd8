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


def _sos_lfilter(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """Filter ``x`` through second-order sections, one ``lfilter`` call per section.

    Same cascade as ``scipy.signal.sosfilt`` (direct form II transposed per section),
    with far less per-call overhead for short chunks. ``zi`` (shape ``(n_sections,
    2)``) is updated in place.
    """
    y = x
    for k in range(sos.shape[0]):
        y, zi[k] = scipy.signal.lfilter(sos[k, :3], sos[k, 3:], y, zi=zi[k])
    return y


# (idx, mwi value, R index if upright, R index if inverted, slope, + amplitude,
#  - amplitude, R time if upright, R time if inverted)
_Cand = tuple[int, float, int, int, float, float, float, float, float]


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
       electrodes are handled. The FIR delay plus the high-pass group delay at 10 Hz
       is subtracted from that sample's timestamp.

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
        # preallocated sample buffer, rows band-pass, cleaned ECG, MWI, timestamps;
        # column 0 holds absolute sample _buf0, columns [0, _len) are filled
        self._buf = np.empty((4, self._learn_n + 8 * (self._nb + self._back) + round(self.fs)))
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
        self._last_r = -(10**12)  # absolute sample of the last R peak
        self._last_slope = 0.0
        self._have_beat = False
        self._polarity = 0.0  # running QRS dominance, > 0 upright
        self._inverted = False
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
            if self._tent is not None and self._done - 1 - self._r_of(self._tent) > self._horizon:
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
        r_bp = np.abs(bpw).argmax(axis=1) - self._bp_shift
        near = np.abs(self._ar[None, 1:-1] - r_bp[:, None]) <= self._near
        up = (c >= left) & (c > right) & near
        dn = (c <= left) & (c < right) & near
        k_pos = np.where(
            up.any(axis=1), np.where(up, c, -np.inf).argmax(axis=1) + 1, clw.argmax(axis=1)
        )
        k_neg = np.where(
            dn.any(axis=1), np.where(dn, c, np.inf).argmin(axis=1) + 1, clw.argmin(axis=1)
        )
        r_pos = np.minimum(start + k_pos, idx)
        r_neg = np.minimum(start + k_neg, idx)
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
                strict=True,
            )
        )

    def _upright(self, cand: _Cand) -> bool:
        """Whether to place R at the maximum (upright QRS) rather than the minimum."""
        pos, neg = cand[5], cand[6]
        if not self._have_beat:
            return pos >= neg
        dom = (pos - neg) / (pos + neg) if pos + neg > 0 else 0.0
        if self._inverted:
            return self._discordant(dom)  # a clearly upright complex in an inverted lead
        return not self._discordant(dom)  # a clearly inverted one (e.g. a PVC)

    def _discordant(self, dom: float) -> bool:
        """Whether a complex's dominance opposes the lead's running polarity."""
        if self._inverted:
            return dom > 0 and dom > self._polarity + self.discordant
        return dom < 0 and dom < self._polarity - self.discordant

    def _r_of(self, cand: _Cand) -> int:
        """R sample of a candidate under the current polarity."""
        return cand[2] if self._upright(cand) else cand[3]

    def _threshold(self) -> float:
        return self._npki + 0.25 * (self._spki - self._npki)

    def _accept(self, cand: _Cand, beats: list[float], searchback: bool) -> None:
        _, val, _, _, slope, pos, neg, t_pos, t_neg = cand
        upright = self._upright(cand)
        r, t = (cand[2], t_pos) if upright else (cand[3], t_neg)
        if searchback:
            self._spki = 0.25 * val + 0.75 * self._spki
        else:
            self._spki = 0.125 * val + 0.875 * self._spki
        dom = (pos - neg) / (pos + neg) if pos + neg > 0 else 0.0
        if self._have_beat:
            # an ectopic complex of the other polarity leaves the lead's polarity alone
            if not self._discordant(dom):
                self._polarity += self.polarity_weight * (dom - self._polarity)
                if self._inverted and self._polarity > self.polarity_switch[1]:
                    self._inverted = False
                elif not self._inverted and self._polarity < self.polarity_switch[0]:
                    self._inverted = True
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
        else:
            self._polarity = dom
            self._inverted = dom < 0
        self._last_r = r
        self._last_slope = slope
        self._have_beat = True
        self._noise.clear()
        beats.append(t)

    def _decide(self, cand: _Cand, beats: list[float]) -> None:
        idx, val, _, _, slope = cand[:5]
        if self._tent is not None and idx - self._r_of(self._tent) > self._horizon:
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
                best = None
                for nc in self._noise:
                    nr = self._r_of(nc)
                    if (
                        nr - self._last_r > self._refr
                        and r - nr > self._refr
                        and nc[1] > thr2
                        and (best is None or nc[1] > best[1])
                    ):
                        best = nc
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
            if early or (r - self._last_r < self._twave and slope < 0.5 * self._last_slope):
                self._npki = 0.125 * val + 0.875 * self._npki  # T wave
                self._add_noise(cand)
                return
            if self._tent is None:
                self._tent = cand  # decided once its look-ahead horizon has passed
                return
            tent = self._tent
            if (
                r - self._r_of(tent) <= self._twave
                and slope > self.rival_margin * tent[4]
                and val > self.rival_margin * tent[1]
            ):
                # a clearly steeper and larger complex right after the pending one: the
                # pending one was a T wave or noise preceding the QRS
                self._npki = 0.125 * tent[1] + 0.875 * self._npki
                self._add_noise(tent)
                self._tent = cand
                return
            # the pending beat stands; judge this candidate against it
            self._finalize(beats)
            self._decide(cand, beats)
        else:
            self._npki = 0.125 * val + 0.875 * self._npki
            self._add_noise(cand)

    def _finalize(self, beats: list[float]) -> None:
        """Accept the pending beat; keep the noise candidates that came after it."""
        tent = self._tent
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
                drop = max(0, self._done - self._nb - self._back - 2 - self._buf0)
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
        ma1, self._z1 = scipy.signal.lfilter(self._b1, 1.0, y, zi=self._z1)
        ma2, self._z2 = scipy.signal.lfilter(self._b2, 1.0, y, zi=self._z2)
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
