"""Drift statistics: KS, chi-squared and Wasserstein against scipy on the same data; PSI,
Jensen-Shannon and Hellinger against hand-computed cases; the summaries they run on."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlsteward.monitoring import (
    chi2_counts,
    chi2_values,
    hellinger,
    jensen_shannon,
    ks_counts,
    ks_values,
    null_distance,
    psi,
    summarise_like,
    summarise_reference,
    wasserstein_masses,
    wasserstein_values,
)


def _samples(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(0, 1, 700), rng.normal(0.2, 1.1, 400)),
        (rng.exponential(2.0, 3000), rng.exponential(2.3, 2500)),
        (rng.integers(0, 8, 900).astype(float), rng.integers(0, 9, 1100).astype(float)),  # ties
        (rng.normal(5, 2, 12000), rng.normal(5, 2, 15000)),  # scipy 'auto' is 'asymp' here
    ]


@pytest.mark.parametrize("seed", [0, 1])
def test_ks_agrees_with_scipy(seed: int) -> None:
    for ref, cur in _samples(seed):
        d, p = ks_values(ref, cur)
        expected = stats.ks_2samp(ref, cur, method="asymp")
        assert d == pytest.approx(expected.statistic, abs=1e-12)
        assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    ref, cur = _samples(seed)[-1]
    assert ks_values(ref, cur)[1] == pytest.approx(stats.ks_2samp(ref, cur).pvalue, rel=1e-9)


def test_ks_on_summaries_is_exact_with_one_value_per_bin_and_close_otherwise() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.integers(0, 50, 5000).astype(float), rng.integers(2, 52, 3000).astype(float)
    reference = summarise_reference("x", ref, "numeric")
    current, _ = summarise_like(reference, cur)
    assert reference.discrete  # 50 distinct values: one bin each
    d, p = ks_counts(reference.counts, current.counts)
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(0.05, 1, 20_000)
    reference = summarise_reference("x", ref, "numeric")
    current, _ = summarise_like(reference, cur)
    d, _ = ks_counts(reference.counts, current.counts)
    exact = stats.ks_2samp(ref, cur).statistic
    assert not reference.discrete
    assert exact - 2 / 1000 <= d <= exact + 1e-12  # at the edges: never above, within a bin


def test_chi_squared_agrees_with_scipy() -> None:
    rng = np.random.default_rng(4)
    for _ in range(5):
        ref = rng.integers(0, 60, 6).astype(float)
        cur = rng.integers(0, 60, 6).astype(float)
        ref[2] = cur[2] = 0  # a category in neither sample is dropped, as scipy requires
        statistic, p, dof = chi2_counts(ref, cur)
        keep = (ref + cur) > 0
        expected = stats.chi2_contingency(np.vstack([ref[keep], cur[keep]]), correction=False)
        assert statistic == pytest.approx(expected.statistic, rel=1e-10)
        assert p == pytest.approx(expected.pvalue, rel=1e-9)
        assert dof == expected.dof
    a = rng.choice(["x", "y", "z"], 500, p=[0.5, 0.3, 0.2])
    b = rng.choice(["x", "y", "z", "w"], 300, p=[0.4, 0.3, 0.2, 0.1])
    statistic, p, dof = chi2_values(a, b)
    table = np.array([[np.sum(a == k) for k in "wxyz"], [np.sum(b == k) for k in "wxyz"]])
    expected = stats.chi2_contingency(table, correction=False)
    assert (statistic, dof) == (pytest.approx(expected.statistic), expected.dof)
    assert p == pytest.approx(expected.pvalue)


@pytest.mark.parametrize("seed", [0, 5])
def test_wasserstein_agrees_with_scipy(seed: int) -> None:
    for ref, cur in _samples(seed):
        assert wasserstein_values(ref, cur) == pytest.approx(
            stats.wasserstein_distance(ref, cur), rel=1e-10
        )
    weights = np.array([1.0, 2.0, 3.0]), np.array([2.0, 1.0])
    assert wasserstein_masses([0, 1, 5], weights[0], [2, 3], weights[1]) == pytest.approx(
        stats.wasserstein_distance([0, 1, 5], [2, 3], weights[0], weights[1])
    )


def test_wasserstein_on_summaries_is_exact_for_discrete_and_close_for_continuous() -> None:
    rng = np.random.default_rng(6)
    ref, cur = rng.integers(18, 90, 8000).astype(float), rng.integers(20, 95, 6000).astype(float)
    reference = summarise_reference("age", ref, "numeric")
    current, _ = summarise_like(reference, cur)
    got = wasserstein_masses(
        reference.bin_means(), reference.counts, current.bin_means(reference), current.counts
    )
    assert got == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9)
    ref, cur = rng.lognormal(3, 1, 40_000), rng.lognormal(3.1, 1, 30_000)
    reference = summarise_reference("x", ref, "numeric")
    current, _ = summarise_like(reference, cur)
    got = wasserstein_masses(
        reference.bin_means(), reference.counts, current.bin_means(reference), current.counts
    )
    exact = stats.wasserstein_distance(ref, cur)
    assert abs(got - exact) < 0.01 * np.std(ref)  # far below the 0.1 std alarm level


def test_psi_by_hand() -> None:
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    assert psi([50, 50], [25, 75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert psi([10, 30, 60], [10, 30, 60]) == 0.0
    # an empty current bin is floored at 1e-4 instead of making PSI infinite
    floor = 1e-4
    expected = (floor - 0.5) * math.log(floor / 0.5) + (1 - 0.5) * math.log(1 / 0.5)
    assert psi([5, 5], [0, 10]) == pytest.approx(expected)


def test_jensen_shannon_by_hand() -> None:
    # P = (1, 0), Q = (1/2, 1/2), M = (3/4, 1/4); base 2
    kl_p = math.log2(1 / 0.75)
    kl_q = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    assert jensen_shannon([4, 0], [2, 2]) == pytest.approx(math.sqrt((kl_p + kl_q) / 2))
    assert jensen_shannon([4, 0], [2, 2]) == pytest.approx(
        jensenshannon([1, 0], [0.5, 0.5], base=2)
    )
    assert jensen_shannon([3, 0], [0, 7]) == pytest.approx(1.0)  # disjoint: the maximum
    assert jensen_shannon([3, 4, 5], [6, 8, 10]) == pytest.approx(0.0, abs=1e-9)


def test_hellinger_by_hand() -> None:
    # 1 - (sqrt(0.5 * 0.25) + sqrt(0.5 * 0.75))
    affinity = math.sqrt(0.125) + math.sqrt(0.375)
    assert hellinger([1, 1], [1, 3]) == pytest.approx(math.sqrt(1 - affinity))
    assert hellinger([2, 0], [0, 9]) == pytest.approx(1.0)
    assert hellinger([1, 2, 3], [2, 4, 6]) == pytest.approx(0.0, abs=1e-7)


def test_the_distance_noise_floor_matches_simulation() -> None:
    """A window drawn from the reference distribution exceeds the floor with ~alpha."""
    rng = np.random.default_rng(7)
    p = np.array([0.4, 0.3, 0.2, 0.1])
    n, m, alpha = 300, 5000, 0.05
    reference = rng.multinomial(m, p)
    draws = rng.multinomial(n, p, size=4000)
    for method, distance in (
        ("jensen_shannon", jensen_shannon),
        ("hellinger", hellinger),
        ("psi", psi),
    ):
        floor = null_distance(method, n, m, bins=4, alpha=alpha)
        share = np.mean([distance(reference, d) > floor for d in draws])
        assert 0.02 < share < 0.09, (method, share)


def test_summaries_merge_exactly() -> None:
    rng = np.random.default_rng(8)
    ref = rng.normal(size=20_000)
    cur = rng.normal(0.1, 1, 9_000)
    cur[::50] = np.nan
    reference = summarise_reference("x", ref, "numeric")
    whole, _ = summarise_like(reference, cur)
    left, _ = summarise_like(reference, cur[:4000])
    right, _ = summarise_like(reference, cur[4000:])
    merged = left.merge(right)
    assert np.array_equal(merged.counts, whole.counts)
    assert np.allclose(merged.sums, whole.sums)
    assert (merged.missing, merged.count, merged.low, merged.high) == (
        whole.missing,
        whole.count,
        whole.low,
        whole.high,
    )
    assert merged.missing == 180
