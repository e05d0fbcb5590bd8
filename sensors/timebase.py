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


def rough_period(times: np.ndarray) -> float:
    """Median positive step of ``times``, seconds (a first guess of the period)."""
    d = np.diff(times)
    pos = d[d > 0]
    if pos.size == 0:
        return 0.0
    return float(np.median(pos))


def segments(times: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """Return starts and ends (exclusive) of the stretches between gaps."""
    d = np.diff(times)
    cut = np.flatnonzero(d > GAP_PERIODS * period) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [times.size]])
    return starts, ends


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
        Refit once without the timestamps more than 3 robust SDs (1.4826 MAD) off the
        first fit, so that a few late packets do not tilt the line.

    Returns
    -------
    float
        Samples per second; 0.0 if no stretch has 3 samples.
    """
    fs = _ls_rate(times, starts, ends, None)
    if not robust or fs <= 0:
        return fs
    _, resid = _grid(times, starts, ends, fs)
    dev = np.abs(resid - np.median(resid))
    mad = 1.4826 * float(np.median(dev))
    keep = dev <= max(3.0 * mad, 1e-9)
    if keep.all() or keep.sum() < 3:
        return fs
    refit = _ls_rate(times, starts, ends, keep)
    return refit if refit > 0 else fs


def _ls_rate(
    times: np.ndarray, starts: np.ndarray, ends: np.ndarray, mask: np.ndarray | None
) -> float:
    n = times.size
    seg = np.repeat(np.arange(starts.size), ends - starts)
    k = np.arange(n, dtype=np.float64) - np.repeat(starts, ends - starts)
    use = mask.copy() if mask is not None else np.ones(n, bool)
    counts = np.bincount(seg, use, minlength=starts.size)
    use &= counts[seg] >= 3
    if not use.any():
        return 0.0
    counts = np.bincount(seg, use, minlength=starts.size)
    k = np.where(use, k, 0.0)
    k_mean = np.bincount(seg, k, minlength=starts.size) / np.maximum(counts, 1)
    t0 = np.repeat(times[starts], ends - starts)  # centre for precision (epoch seconds)
    tt = np.where(use, times - t0, 0.0)
    t_mean = np.bincount(seg, tt, minlength=starts.size) / np.maximum(counts, 1)
    dk = (k - k_mean[seg])[use]
    dt = (tt - t_mean[seg])[use]
    den = float(dk @ dk)
    slope = float(dk @ dt) / den if den > 0 else 0.0
    return 1.0 / slope if slope > 0 else 0.0


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
    d = np.diff(times)
    tol = jitter_tolerance(nominal if nominal else 1.0 / period)
    back = np.flatnonzero(d < 0)
    if back.size:
        worst = int(back[np.argmin(d[back])])
        if -d[worst] > tol:
            i = worst + 1
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
    grid, resid = _grid(times, starts, ends, fs)
    off = float(np.max(np.abs(resid)))
    if nominal and off > tol and abs(real - nominal) > ROUND_REL * nominal:
        warn(
            f"{what}: the timestamps run at {real:.6g} Hz, not the given {nominal:g} Hz; "
            f"using {real:.6g} Hz"
        )
        fs = real
        grid, resid = _grid(times, starts, ends, fs)
        off = float(np.max(np.abs(resid)))
    if nominal is None:
        warn(f"{what}: no sampling rate stored; {fs:.6g} Hz estimated from the timestamps")
    nback = int(back.size)
    if off <= tol:
        if nback or off > 0.25 / fs:
            steps = ""
            if nback:
                largest = float(-d[back].min()) * 1e3
                steps = f"{nback} backward timestamp step(s) (largest {largest:.1f} ms), "
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
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares uniform grid at ``fs`` per stretch: ``(grid, times - grid)``."""
    lens = ends - starts
    seg = np.repeat(np.arange(starts.size), lens)
    k = np.arange(times.size, dtype=np.float64) - np.repeat(starts, lens)
    t0 = times[starts]
    rel = times - t0[seg] - k / fs
    a = np.bincount(seg, rel, minlength=starts.size) / np.maximum(lens, 1)
    grid = t0[seg] + a[seg] + k / fs
    return grid, times - grid


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
    nonempty = [t for t in times_list if t.size]
    if not nonempty:
        return times_list
    allt = np.unique(np.concatenate(nonempty))
    d = np.diff(allt)
    jumps = np.flatnonzero(d > MAX_GAP_S)
    if jumps.size == 0:
        return times_list
    at = allt[jumps + 1]  # first time after each jump
    cut = np.cumsum(d[jumps] - MAX_GAP_S)
    out = []
    for t in times_list:
        j = np.searchsorted(at, t, side="right")  # jumps at or before each sample
        shift = np.concatenate([[0.0], cut])[j]
        out.append(t - shift if np.any(shift) else t)
    big = float(d[jumps].max())
    warn(
        f"{what}: {jumps.size} time jump(s) longer than {MAX_GAP_S:g} s (largest {big:.6g} s "
        f"after t={allt[jumps[np.argmax(d[jumps])]]:.3f} s) replayed as {MAX_GAP_S:g} s gaps: "
        "later timestamps moved back, no ticks invented for the jump"
    )
    return out
