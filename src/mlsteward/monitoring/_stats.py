"""Drift tests: two-sample statistics computed from counts on shared bins, vectorised.

Every test compares a reference distribution with a current one. The statistical tests
(``ks``, ``chi2``) give a p-value; the distances (``psi``, ``jensen_shannon``,
``wasserstein``, ``hellinger``) give a size of the change. All of them work on *summaries*
(counts on the reference's bins and, for Wasserstein, the mean of each bin), so a
reference is summarised once and stored, and a window is summarised in one pass over its
sorted values. The ``*_values`` functions compute the same statistics from raw arrays
(they agree with scipy, see ``tests/monitoring/test_stats.py``).

==================  =======================================  =========================
method              statistic                                alarm (defaults)
==================  =======================================  =========================
``ks``              sup |F_ref - F_cur| (at the bin edges)   p-value < 0.01
``chi2``            Pearson X^2 of the 2 x k table            p-value < 0.01
``psi``             sum (c - r) ln(c / r), 10 equal-mass     PSI > 0.2
                    reference bins, shares floored at 1e-4
``jensen_shannon``  sqrt(JS divergence), base 2, in [0, 1]   distance > 0.1
``hellinger``       sqrt(1 - sum sqrt(r c)), in [0, 1]       distance > 0.1
``wasserstein``     W1(ref, cur) / std(ref)                  distance > 0.1
==================  =======================================  =========================

The no-drift null of the distances
==================================
With ``n`` current and ``m`` reference rows, ``n_eff = n m / (n + m)``. Under "no drift",
to second order, ``n_eff * PSI``, ``8 ln2 n_eff JS^2`` and ``8 n_eff H^2`` are chi-squared
with ``k - 1`` degrees of freedom (all three are the chi-squared divergence to second
order), and ``sqrt(n_eff) W1`` is the integral of ``|B(F(x))|`` for a Brownian bridge
``B``. :func:`null_distance` gives the distance that a window drawn from the reference
distribution exceeds with probability ``alpha``: a distance alarms only when it exceeds
both its threshold and that noise floor, so small windows do not raise false alarms and
large ones do not flag differences too small to matter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt
from scipy import stats as _sps

from mlsteward.core import InvalidInput

__all__ = [
    "DISTANCE_METHODS",
    "METHODS",
    "PSI_FLOOR",
    "TEST_METHODS",
    "Method",
    "TestResult",
    "bridge_null_constant",
    "chi2_counts",
    "chi2_values",
    "hellinger",
    "jensen_shannon",
    "ks_counts",
    "ks_pvalue",
    "ks_values",
    "null_distance",
    "psi",
    "shares",
    "wasserstein_masses",
    "wasserstein_values",
]

Method = Literal["ks", "chi2", "psi", "jensen_shannon", "wasserstein", "hellinger"]
METHODS: Final[tuple[Method, ...]] = get_args(Method)
TEST_METHODS: Final = ("ks", "chi2")
DISTANCE_METHODS: Final = ("psi", "jensen_shannon", "wasserstein", "hellinger")
PSI_FLOOR: Final = 1e-4
"""Shares below this are raised to it in PSI (an empty bin would make PSI infinite)."""

Floats = npt.NDArray[np.float64]
Counts = npt.NDArray[np.int64] | Floats


@dataclass(frozen=True)
class TestResult:
    """One drift test of one column.

    ``statistic`` is the KS D, the chi-squared X^2 or the distance; ``p_value`` the
    test's p-value (``None`` for distances); ``threshold`` the alarm level (a p-value for
    tests, a distance for distances); ``null_distance`` the noise floor of a distance at
    these sizes (see the module docstring). ``score`` is how far past its alarm level the
    statistic is: 1.0 at the level, above 1 when the test alarms.
    """

    method: Method
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    score: float
    null_distance: float | None = None
    bins: int | None = None

    @property
    def kind(self) -> str:
        return "p-value" if self.method in TEST_METHODS else "distance"

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "kind": self.kind,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "threshold": self.threshold,
            "null_distance": self.null_distance,
            "drifted": self.drifted,
            "score": self.score,
            "bins": self.bins,
        }


def _counts(values: Counts, what: str) -> Floats:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0 or np.any(array < 0) or not np.all(np.isfinite(array)):
        raise InvalidInput(
            f"The {what} counts must be a non-empty 1-d array of finite non-negative numbers; "
            f"got shape {array.shape}."
        )
    return array


def shares(counts: Counts) -> Floats:
    """Counts as shares summing to 1 (all zeros stay zeros)."""
    array = np.asarray(counts, dtype=np.float64)
    total = array.sum()
    return array / total if total > 0 else array


def _pair(reference: Counts, current: Counts) -> tuple[Floats, Floats]:
    ref, cur = _counts(reference, "reference"), _counts(current, "current")
    if ref.shape != cur.shape:
        raise InvalidInput(
            f"Reference and current counts must be on the same bins; got {ref.size} and "
            f"{cur.size} bins. Summarise the current data on the reference's bins."
        )
    return ref, cur


def n_effective(n: float, m: float) -> float:
    """``n m / (n + m)``: the size that sets the noise of a two-sample comparison."""
    return n * m / (n + m) if n > 0 and m > 0 else 0.0


# -- Kolmogorov-Smirnov ------------------------------------------------------------------
def ks_pvalue(d: float, n: int, m: int) -> float:
    """Two-sided p-value of the two-sample KS statistic ``d`` (scipy's ``asymp`` method:
    the one-sample distribution at ``round(n m / (n + m))``)."""
    en = round(n_effective(float(n), float(m)))
    if en < 1:
        return 1.0
    return float(np.clip(_sps.kstwo.sf(d, en), 0.0, 1.0))


def ks_critical(alpha: float, n: int, m: int) -> float:
    """The KS statistic at which the p-value equals ``alpha``."""
    en = round(n_effective(float(n), float(m)))
    return float(_sps.kstwo.isf(alpha, max(en, 1)))


def ks_counts(reference: Counts, current: Counts) -> tuple[float, float]:
    """``(D, p)`` from counts on shared ordered bins: D is evaluated at the bin edges, so
    it is exact when every bin holds one value and otherwise at most the largest bin
    share below the raw-data D."""
    ref, cur = _pair(reference, current)
    n_ref, n_cur = ref.sum(), cur.sum()
    if n_ref == 0 or n_cur == 0:
        return 0.0, 1.0
    d = float(np.max(np.abs(np.cumsum(ref) / n_ref - np.cumsum(cur) / n_cur)))
    return d, ks_pvalue(d, int(n_ref), int(n_cur))


def ks_values(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[float, float]:
    """``(D, p)`` of the raw samples (NaN dropped), as ``scipy.stats.ks_2samp(...,
    method="asymp")``; sorting both and counting at every value, vectorised."""
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    cur = np.sort(np.asarray(current, dtype=np.float64))
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        raise InvalidInput("The KS test needs at least one value in each sample.")
    both = np.concatenate([ref, cur])
    diff = np.searchsorted(ref, both, side="right") / ref.size - (
        np.searchsorted(cur, both, side="right") / cur.size
    )
    d = float(max(diff.max(), -diff.min(), 0.0))
    return d, ks_pvalue(d, ref.size, cur.size)


# -- chi-squared -----------------------------------------------------------------------
def chi2_counts(reference: Counts, current: Counts) -> tuple[float, float, int]:
    """``(X^2, p, dof)`` of the 2 x k contingency table (two-sample homogeneity, no
    continuity correction; bins empty in both samples are dropped), as
    ``scipy.stats.chi2_contingency(..., correction=False)``."""
    ref, cur = _pair(reference, current)
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    n_ref, n_cur = ref.sum(), cur.sum()
    if ref.size < 2 or n_ref == 0 or n_cur == 0:
        return 0.0, 1.0, max(ref.size - 1, 0)
    total = n_ref + n_cur
    column = ref + cur
    expected_ref = column * (n_ref / total)
    expected_cur = column * (n_cur / total)
    statistic = float(
        np.sum((ref - expected_ref) ** 2 / expected_ref)
        + np.sum((cur - expected_cur) ** 2 / expected_cur)
    )
    dof = ref.size - 1
    return statistic, float(_sps.chi2.sf(statistic, dof)), dof


def chi2_values(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[float, float, int]:
    """``(X^2, p, dof)`` of two samples of categories (``None`` and NaN dropped)."""
    ref = [v for v in np.asarray(reference, dtype=object).tolist() if v is not None and v == v]
    cur = [v for v in np.asarray(current, dtype=object).tolist() if v is not None and v == v]
    keys = sorted({*ref, *cur}, key=repr)
    index = {k: i for i, k in enumerate(keys)}
    ref_counts = np.bincount([index[v] for v in ref], minlength=len(keys))
    cur_counts = np.bincount([index[v] for v in cur], minlength=len(keys))
    return chi2_counts(ref_counts, cur_counts)


# -- distances on shared bins ------------------------------------------------------------
def psi(reference: Counts, current: Counts, *, floor: float = PSI_FLOOR) -> float:
    """Population stability index ``sum (c - r) ln(c / r)`` with shares floored at
    ``floor`` (so an empty bin does not make it infinite)."""
    ref, cur = _pair(reference, current)
    r = np.maximum(shares(ref), floor)
    c = np.maximum(shares(cur), floor)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(reference: Counts, current: Counts) -> float:
    """Jensen-Shannon distance (square root of the divergence, base 2), in [0, 1]."""
    ref, cur = _pair(reference, current)
    r, c = shares(ref), shares(cur)
    m = (r + c) / 2

    def kl(p: Floats) -> float:
        mask = p > 0
        return float(np.sum(p[mask] * np.log2(p[mask] / m[mask])))

    divergence = max((kl(r) + kl(c)) / 2, 0.0)
    return math.sqrt(min(divergence, 1.0))


def hellinger(reference: Counts, current: Counts) -> float:
    """Hellinger distance ``sqrt(1 - sum sqrt(r c))``, in [0, 1]."""
    ref, cur = _pair(reference, current)
    affinity = float(np.sum(np.sqrt(shares(ref) * shares(cur))))
    return math.sqrt(max(1.0 - affinity, 0.0))


# -- Wasserstein --------------------------------------------------------------------------
def wasserstein_values(reference: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """First Wasserstein distance of two samples, as ``scipy.stats.wasserstein_distance``."""
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        raise InvalidInput("The Wasserstein distance needs at least one value in each sample.")
    return wasserstein_masses(ref, np.ones(ref.size), cur, np.ones(cur.size))


def wasserstein_masses(
    ref_positions: npt.ArrayLike,
    ref_weights: npt.ArrayLike,
    cur_positions: npt.ArrayLike,
    cur_weights: npt.ArrayLike,
) -> float:
    """W1 between two weighted point sets: the integral of ``|F_ref - F_cur|``.

    On summaries the points are the bins' means weighted by their counts: exact when each
    bin holds one value, otherwise off by at most the mass moved within a bin times its
    width.
    """
    rp = np.asarray(ref_positions, dtype=np.float64)
    rw = np.asarray(ref_weights, dtype=np.float64)
    cp = np.asarray(cur_positions, dtype=np.float64)
    cw = np.asarray(cur_weights, dtype=np.float64)
    rkeep, ckeep = rw > 0, cw > 0
    rp, rw, cp, cw = rp[rkeep], rw[rkeep], cp[ckeep], cw[ckeep]
    if rw.sum() <= 0 or cw.sum() <= 0:
        return 0.0
    order_r, order_c = np.argsort(rp, kind="stable"), np.argsort(cp, kind="stable")
    rp, rw, cp, cw = rp[order_r], rw[order_r], cp[order_c], cw[order_c]
    support = np.sort(np.concatenate([rp, cp]))
    cdf_r = np.concatenate([[0.0], np.cumsum(rw)])[np.searchsorted(rp, support[:-1], "right")]
    cdf_c = np.concatenate([[0.0], np.cumsum(cw)])[np.searchsorted(cp, support[:-1], "right")]
    gaps = np.diff(support)
    return float(np.sum(np.abs(cdf_r / rw.sum() - cdf_c / cw.sum()) * gaps))


# -- the no-drift null ---------------------------------------------------------------------
_BRIDGE_DRAWS: Final = 2000
_BRIDGE_GRID: Final = 256
_BRIDGE_CACHE: list[Floats] = []


def _bridges() -> Floats:
    """Brownian bridges at ``j / G``, ``j = 1 .. G - 1`` (fixed seed: deterministic)."""
    if not _BRIDGE_CACHE:
        rng = np.random.default_rng(20261126)
        steps = rng.standard_normal((_BRIDGE_DRAWS, _BRIDGE_GRID)) / math.sqrt(_BRIDGE_GRID)
        walk = np.cumsum(steps, axis=1)
        t = np.arange(1, _BRIDGE_GRID + 1) / _BRIDGE_GRID
        _BRIDGE_CACHE.append((walk - t * walk[:, -1:])[:, :-1])
    return _BRIDGE_CACHE[0]


def bridge_null_constant(
    probabilities: npt.ArrayLike, values: npt.ArrayLike, scale: float, alpha: float
) -> float:
    """The ``1 - alpha`` quantile of ``integral |B(u)| dQ(u) / scale`` for a Brownian bridge
    ``B`` and the reference quantile function ``Q`` (``values`` at increasing
    ``probabilities`` from 0 to 1): ``sqrt(n_eff) W1 / scale`` exceeds it with probability
    ``alpha`` when nothing drifted."""
    p = np.asarray(probabilities, dtype=np.float64)
    q = np.asarray(values, dtype=np.float64)
    if q.size < 2 or not scale > 0 or not np.all(np.isfinite(q)):
        return 0.0
    grid = np.arange(0, _BRIDGE_GRID + 1) / _BRIDGE_GRID
    at = np.interp(grid, p, q)
    weights = (at[2:] - at[:-2]) / 2  # dQ around each inner grid point
    functional = np.abs(_bridges()) @ weights / scale
    return float(np.quantile(functional, 1.0 - alpha))


def null_distance(
    method: Method,
    n: float,
    m: float,
    *,
    bins: int,
    alpha: float,
    bridge_constant: float | None = None,
) -> float:
    """The distance a window of ``n`` rows drawn from the reference (``m`` rows) exceeds
    with probability ``alpha`` (see the module docstring); ``inf`` when a sample is empty."""
    n_eff = n_effective(n, m)
    if n_eff <= 0:
        return math.inf
    if method == "wasserstein":
        return (bridge_constant or 0.0) / math.sqrt(n_eff)
    dof = max(bins - 1, 1)
    critical = float(_sps.chi2.isf(alpha, dof))
    if method == "psi":
        return critical / n_eff
    if method == "jensen_shannon":
        return math.sqrt(critical / (8 * math.log(2) * n_eff))
    if method == "hellinger":
        return math.sqrt(critical / (8 * n_eff))
    raise InvalidInput(f"{method} is a statistical test, not a distance; it has a p-value.")
