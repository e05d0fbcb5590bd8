"""Time bases of recorded samples: rate estimation, dejittering, resampling, gaps and jumps.

Files written by acquisition software carry the time each sample *arrived*, not when it
was taken: muse-lsl CSVs step back by up to ~16 ms between packets, a Polar H10 ECG
arrives at ~130.16 Hz with packet jitter. The samples themselves were taken on the
device's clock at a steady rate. This module recovers that rate and a uniform grid:

* :func:`fit_rate` estimates the real rate by least squares of time on sample index,
  pooled over the stretches between gaps (robust to jitter and clock quantisation;
  a 1 ms clock over 600 samples gives the rate to ~2e-5);
* :func:`regularise` replaces jittered timestamps by that grid (*dejitter*) when every
  sample lies within :func:`jitter_tolerance` of it, and otherwise marks the samples as
  irregular so that :func:`resample_uniform` interpolates them onto the grid;
* a step back larger than the tolerance is a real reversal and an error;
  :func:`shorten_jumps` turns a forward jump longer than :data:`MAX_GAP_S` into a gap
  of that length, so that a replay does not tick through it.

Everything is vectorized over samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from attune.sensors.types import SensorError

#: A timestamp step longer than this many sample periods is a gap.
GAP_PERIODS = 10.0
#: Steps back or off the grid up to this many periods are jitter (at least JITTER_MIN_S).
JITTER_PERIODS = 8.0
#: Lower bound of the jitter tolerance, seconds (muse-lsl steps back by up to ~16 ms).
JITTER_MIN_S = 0.025
#: An estimated rate within this fraction of an integer is that integer (device clocks
#: are good to ~1e-4; the Polar H10's 130.16 Hz is 1.2e-3 from 130 and stays).
ROUND_REL = 5e-4
#: Forward time steps longer than this are clock jumps: replayed as a gap of this length.
MAX_GAP_S = 60.0
#: Sampling rates outside this range (Hz) are refused: no biosignal is sampled there.
FS_MIN_HZ = 1.0
FS_MAX_HZ = 100_000.0


def check_rate(fs: float, what: str) -> float:
    """Return ``fs`` if it is a plausible sampling rate, else raise a one-line error.

    Parameters
    ----------
    fs : float
        Rate in Hz.
    what : str
        What the rate belongs to (file, stream), for the message.

    Raises
    ------
    SensorError
        If ``fs`` is not finite or outside [:data:`FS_MIN_HZ`, :data:`FS_MAX_HZ`].
    """
    try:
        ok = bool(np.isfinite(fs)) and FS_MIN_HZ <= fs <= FS_MAX_HZ
    except TypeError:
        ok = False
    if not ok:
        raise SensorError(
            f"{what}: sampling rate {fs!r} Hz is not plausible; expected "
            f"{FS_MIN_HZ:g} to {FS_MAX_HZ:g} Hz"
        )
    return float(fs)


def jitter_tolerance(fs: float) -> float:
    """How far (seconds) a timestamp may step back or sit off its grid and be jitter."""
    return max(JITTER_MIN_S, JITTER_PERIODS / fs)


#: Samples processed at a time (bounds the temporaries of long recordings).
CHUNK = 1 << 18


def _chunks(n: int, size: int = CHUNK) -> list[tuple[int, int]]:
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def _steps(times: np.ndarray, a: int, b: int) -> np.ndarray:
    """Return the steps ``times[i + 1] - times[i]`` for ``i`` in ``a .. b - 1``."""
    return np.diff(times[a : min(b + 1, times.size)])


def rough_period(times: np.ndarray) -> float:
    """Median positive step of ``times``, seconds (a first guess of the period).

    Taken over at most :data:`CHUNK` evenly spread steps.
    """
    n = times.size - 1
    if n < 1:
        return 0.0
    stride = max(1, n // CHUNK)
    i = np.arange(0, n, stride)
    d = times[i + 1] - times[i]
    pos = d[d > 0]
    if pos.size == 0:
        return 0.0
    return float(np.median(pos))


def segments(times: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """Return starts and ends (exclusive) of the stretches between gaps."""
    cuts = [
        np.flatnonzero(_steps(times, a, b) > GAP_PERIODS * period) + a + 1
        for a, b in _chunks(max(times.size - 1, 0))
    ]
    cut = np.concatenate(cuts) if cuts else np.empty(0, np.int64)
    starts = np.concatenate([[0], cut]).astype(np.int64)
    ends = np.concatenate([cut, [times.size]]).astype(np.int64)
    return starts, ends


def _seg_k(starts: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Stretch number and index within it of samples ``a .. b - 1``."""
    idx = np.arange(a, b)
    seg = np.searchsorted(starts, idx, side="right") - 1
    return seg, (idx - starts[seg]).astype(np.float64)


def fit_rate(
    times: np.ndarray, starts: np.ndarray, ends: np.ndarray, *, robust: bool = True
) -> float:
    """Real sampling rate (Hz): least squares of time on index, one intercept per stretch.

    Parameters
    ----------
    times : ndarray, shape (n,)
        Timestamps in seconds (jittered, possibly stepping back).
    starts, ends : ndarray of int
        Stretches without gaps (:func:`segments`).
    robust : bool
        Refit once without the timestamps more than 3 robust SDs (1.4826 MAD, from at
        most :data:`CHUNK` evenly spread samples) off the first fit, so that a few late
        packets do not tilt the line.

    Returns
    -------
    float
        Samples per second; 0.0 if no stretch has 3 samples.
    """
    fs = _ls_rate(times, starts, ends, None)
    if not robust or fs <= 0:
        return fs
    icpt = _intercepts(times, starts, ends, fs)
    stride = max(1, times.size // CHUNK)
    i = np.arange(0, times.size, stride)
    seg = np.searchsorted(starts, i, side="right") - 1
    r = times[i] - times[starts][seg] - icpt[seg] - (i - starts[seg]) / fs
    med = float(np.median(r))
    mad = 1.4826 * float(np.median(np.abs(r - med)))
    lim = max(3.0 * mad, 1e-9)
    keep = np.empty(times.size, bool)
    t0 = times[starts]
    for a, b in _chunks(times.size):
        sg, k = _seg_k(starts, a, b)
        keep[a:b] = np.abs(times[a:b] - t0[sg] - icpt[sg] - k / fs - med) <= lim
    if keep.all() or keep.sum() < 3:
        return fs
    refit = _ls_rate(times, starts, ends, keep)
    return refit if refit > 0 else fs


def _ls_rate(
    times: np.ndarray, starts: np.ndarray, ends: np.ndarray, mask: np.ndarray | None
) -> float:
    """Pooled least-squares rate over stretches with 3 or more (unmasked) samples."""
    m = starts.size
    sums = np.zeros((5, m))  # count, sum k, sum t, sum k^2, sum k t (t from the stretch start)
    t0 = times[starts]
    for a, b in _chunks(times.size):
        seg, k = _seg_k(starts, a, b)
        tt = times[a:b] - t0[seg]
        w = mask[a:b].astype(np.float64) if mask is not None else None
        wk = k if w is None else w * k
        sums[0] += np.bincount(seg, w, minlength=m) if w is not None else np.bincount(seg, None, m)
        sums[1] += np.bincount(seg, wk, minlength=m)
        sums[2] += np.bincount(seg, tt if w is None else w * tt, minlength=m)
        sums[3] += np.bincount(seg, wk * k, minlength=m)
        sums[4] += np.bincount(seg, wk * tt, minlength=m)
    cnt, sk, st, skk, skt = sums
    ok = cnt >= 3
    if not ok.any():
        return 0.0
    den = float(np.sum(skk[ok] - sk[ok] ** 2 / cnt[ok]))
    num = float(np.sum(skt[ok] - sk[ok] * st[ok] / cnt[ok]))
    slope = num / den if den > 0 else 0.0
    return 1.0 / slope if slope > 0 else 0.0


def _intercepts(times: np.ndarray, starts: np.ndarray, ends: np.ndarray, fs: float) -> np.ndarray:
    """Least-squares offset of each stretch from ``t_start + k / fs``, seconds."""
    m = starts.size
    acc = np.zeros(m)
    t0 = times[starts]
    for a, b in _chunks(times.size):
        seg, k = _seg_k(starts, a, b)
        acc += np.bincount(seg, times[a:b] - t0[seg] - k / fs, minlength=m)
    return acc / np.maximum(ends - starts, 1)


def round_rate(fs: float) -> float:
    """``fs`` rounded to an integer when within :data:`ROUND_REL` of it."""
    r = round(fs)
    if r > 0 and abs(fs - r) <= ROUND_REL * fs:
        return float(r)
    return fs


@dataclass(frozen=True)
class TimeBase:
    """The time base found for a set of samples.

    Attributes
    ----------
    times : ndarray, shape (n,)
        Timestamps, seconds: the uniform grid where the samples were dejittered,
        the recorded times otherwise.
    fs : float
        Rate in Hz (nominal if given and consistent, else the real rate).
    irregular : bool
        True when the samples do not sit within the jitter tolerance of a uniform
        grid: they must be interpolated onto one (:func:`resample_uniform`).
    """

    times: np.ndarray
    fs: float
    irregular: bool


def regularise(
    times: np.ndarray,
    nominal: float | None,
    what: str,
    warn: Callable[[str], None],
    *,
    column: str = "time",
    rows: np.ndarray | None = None,
) -> TimeBase:
    """Find the rate and grid of regularly sampled data with jittered timestamps.

    Parameters
    ----------
    times : ndarray, shape (n,)
        Recorded timestamps in seconds, in file order, finite.
    nominal : float or None
        Nominal rate in Hz if known (``--fs``, a header); None: estimate it.
    what : str
        Stream or file, for messages.
    warn : callable
        Receives one-line warnings (backward steps dejittered, rate estimated,
        irregular sampling, nominal rate not matching).
    column : str
        Name of the time column, for messages.
    rows : ndarray of int, optional
        The data row (0-based) of each timestamp, for messages; default ``0..n-1``.

    Returns
    -------
    TimeBase

    Raises
    ------
    SensorError
        On a real reversal (a step back longer than :func:`jitter_tolerance`), or when
        the rate cannot be estimated (fewer than 3 samples, equal timestamps).
    """
    n = times.size
    if n < 3:
        if nominal is None:
            raise SensorError(
                f"{what}: {n} samples are too few to estimate the sampling rate; pass fs="
            )
        return TimeBase(times, nominal, False)
    period = rough_period(times)
    if period <= 0:
        raise SensorError(f"{what}: all timestamps are equal; expected increasing times")
    tol = jitter_tolerance(nominal if nominal else 1.0 / period)
    nback, largest = 0, 0.0
    for a, b in _chunks(n - 1):
        d = _steps(times, a, b)
        back = np.flatnonzero(d < 0)
        if not back.size:
            continue
        nback += int(back.size)
        worst = int(back[np.argmin(d[back])])
        largest = max(largest, float(-d[worst]))
        if -d[worst] > tol:
            i = a + worst + 1
            raise SensorError(
                f"{what}: time column {column!r} goes backwards at data row "
                f"{(int(rows[i]) if rows is not None else i) + 1} "
                f"({times[i]:.6f} s after {times[i - 1]:.6f} s, {-d[worst] * 1e3:.0f} ms back; "
                f"jitter up to {tol * 1e3:.0f} ms is tolerated); expected non-decreasing time"
            )
    starts, ends = segments(times, nominal and 1.0 / nominal or period)
    real = fit_rate(times, starts, ends)
    if real <= 0:
        raise SensorError(f"{what}: cannot estimate the sampling rate from the timestamps")
    fs = nominal if nominal else round_rate(real)
    grid, off = _grid(times, starts, ends, fs)
    if nominal and off > tol and abs(real - nominal) > ROUND_REL * nominal:
        fs = round_rate(real)
        warn(
            f"{what}: the timestamps run at {fs:.6g} Hz, not the given {nominal:g} Hz; "
            f"using {fs:.6g} Hz"
        )
        grid, off = _grid(times, starts, ends, fs)
    if nominal is None:
        warn(f"{what}: no sampling rate stored; {fs:.6g} Hz estimated from the timestamps")
    if off <= tol:
        if nback or off > 0.25 / fs:
            steps = ""
            if nback:
                steps = f"{nback} backward timestamp step(s) (largest {largest * 1e3:.1f} ms), "
            warn(
                f"{what}: {steps}timestamps up to {off * 1e3:.1f} ms off a uniform grid "
                f"(jitter): dejittered onto a uniform {fs:.6g} Hz grid"
            )
        return TimeBase(grid, fs, False)
    warn(
        f"{what}: irregular sampling (timestamps up to {off * 1e3:.1f} ms off a uniform grid"
        + (f", {nback} backward step(s)" if nback else "")
        + f"): resampled by linear interpolation onto a uniform {fs:.6g} Hz grid"
    )
    return TimeBase(times, fs, True)


def _grid(
    times: np.ndarray, starts: np.ndarray, ends: np.ndarray, fs: float
) -> tuple[np.ndarray, float]:
    """Least-squares uniform grid at ``fs`` per stretch, and the largest distance to it."""
    icpt = _intercepts(times, starts, ends, fs)
    t0 = times[starts]
    grid = np.empty(times.size)
    off = 0.0
    for a, b in _chunks(times.size):
        seg, k = _seg_k(starts, a, b)
        g = t0[seg] + icpt[seg] + k / fs
        grid[a:b] = g
        off = max(off, float(np.max(np.abs(times[a:b] - g))))
    return grid, off


def resample_uniform(
    data: np.ndarray, times: np.ndarray, fs: float
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate irregular samples onto a uniform grid at ``fs``, stretch by stretch.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n)
        Finite samples.
    times : ndarray, shape (n,)
        Their times, seconds (may step back a little: sorted first).
    fs : float
        Grid rate, Hz.

    Returns
    -------
    data : ndarray, shape (n_channels, m)
    times : ndarray, shape (m,)
        ``t_start + j / fs`` within each stretch between gaps; no samples in the gaps.
    """
    order = np.argsort(times, kind="stable")
    t = times[order]
    x = data[:, order]
    starts, ends = segments(t, 1.0 / fs)
    grids = []
    for s, e in zip(starts, ends, strict=True):
        m = int(np.floor((t[e - 1] - t[s]) * fs + 1e-9)) + 1
        grids.append(t[s] + np.arange(m) / fs)
    g = np.concatenate(grids)
    out = np.empty((x.shape[0], g.size))
    for c in range(x.shape[0]):
        out[c] = np.interp(g, t, x[c])  # gaps hold no grid points
    return out, g


def shorten_jumps(
    times_list: list[np.ndarray], what: str, warn: Callable[[str], None]
) -> list[np.ndarray]:
    """Turn forward jumps longer than :data:`MAX_GAP_S` into gaps of that length.

    The jumps are found on the union of every stream's timestamps (they share one
    clock), and every timestamp after a jump moves back by the same amount, so streams
    stay aligned and markers keep their place.

    Parameters
    ----------
    times_list : list of ndarray
        Each stream's timestamps (non-decreasing).
    what : str
        The file, for the warning.
    warn : callable
        Receives one line per file naming the jumps.

    Returns
    -------
    list of ndarray
        The (new) timestamps, the same arrays where nothing moved.
    """
    spans: list[tuple[float, float]] = []  # (first, last) of runs without a jump, all streams
    for t in times_list:
        if t.size == 0:
            continue
        cuts = [np.flatnonzero(_steps(t, a, b) > MAX_GAP_S) + a + 1 for a, b in _chunks(t.size - 1)]
        cut = np.concatenate(cuts) if cuts else np.empty(0, np.int64)
        starts = np.concatenate([[0], cut]).astype(np.int64)
        ends = np.concatenate([cut, [t.size]]).astype(np.int64)
        spans.extend(zip(t[starts].tolist(), t[ends - 1].tolist(), strict=True))
    if not spans:
        return times_list
    spans.sort()
    at_l, gap_l = [], []
    end = spans[0][1]
    for first, last in spans[1:]:
        if first - end > MAX_GAP_S:
            at_l.append(first)
            gap_l.append(first - end)
        end = max(end, last)
    if not at_l:
        return times_list
    at = np.asarray(at_l)  # first time after each jump
    gaps = np.asarray(gap_l)
    cut = np.concatenate([[0.0], np.cumsum(gaps - MAX_GAP_S)])
    out = []
    for t in times_list:
        moved = np.empty_like(t)
        for a, b in _chunks(t.size):
            moved[a:b] = t[a:b] - cut[np.searchsorted(at, t[a:b], side="right")]
        out.append(moved)
    big = int(np.argmax(gaps))
    warn(
        f"{what}: {at.size} time jump(s) longer than {MAX_GAP_S:g} s (largest {gaps[big]:.6g} s "
        f"after t={at[big] - gaps[big]:.3f} s) replayed as {MAX_GAP_S:g} s gaps: "
        "later timestamps moved back, no ticks invented for the jump"
    )
    return out
