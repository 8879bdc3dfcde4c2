"""Per-feature drift: the false-alarm rate on windows from the reference distribution, a
planted shift flagging exactly its columns, missing values and unseen categories, the
automatic choice of test, and ad-hoc comparisons of files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from mlsteward.core import InvalidInput
from mlsteward.monitoring import (
    DriftConfig,
    choose_method,
    compare_columns,
    drift,
    drift_report,
    summarise,
    summarise_window,
)

CATEGORIES = np.array(["a", "b", "c", "d", "e"])
SHARES = np.array([0.35, 0.25, 0.2, 0.15, 0.05])


def _population(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Four columns from fixed distributions: normal, skewed, few integers, categories."""
    return pd.DataFrame(
        {
            "normal": rng.normal(10, 2, n),
            "skewed": rng.lognormal(1, 0.8, n),
            "count": rng.poisson(3, n).astype(float),
            "colour": pd.Categorical(rng.choice(CATEGORIES, n, p=SHARES), categories=CATEGORIES),
        }
    )


def _tolerance(p: float, trials: int) -> float:
    return 3 * np.sqrt(p * (1 - p) / trials)


@pytest.mark.parametrize(("window", "forced"), [(400, True), (400, False), (3000, False)])
def test_windows_from_the_reference_distribution_alarm_at_the_configured_rate(
    window: int, forced: bool
) -> None:
    """Tests alarm at their p-value; distances (large windows) at most at it."""
    rng = np.random.default_rng(2024 + window)
    alpha = 0.05
    config = DriftConfig(p_value=alpha)
    if forced:  # force the tests whatever the size
        config = DriftConfig(
            p_value=alpha, features={"normal": ("ks", None), "skewed": ("ks", None)}
        )
    reference = summarise(_population(20_000, rng))
    windows = 250
    flags = np.zeros((windows, 4), dtype=bool)
    methods = set()
    for i in range(windows):
        current = summarise_window(reference, _population(window, rng), workers=1)
        report = compare_columns(reference, current, config)
        flags[i] = [f.drifted for f in report.features]
        methods |= {f.test.method for f in report.features}
    trials = flags.size
    rate = flags.mean()
    if window <= 1000:
        assert methods == {"ks", "chi2"}
        assert abs(rate - alpha) <= _tolerance(alpha, trials), rate
    else:
        assert methods == {
            "wasserstein",
            "jensen_shannon",
        }  # counts: few values, compared as categories
        assert rate <= alpha + _tolerance(alpha, trials), rate
    # no column alarms much more often than the others
    assert flags.mean(axis=0).max() <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / windows)


def test_a_planted_shift_flags_exactly_the_shifted_columns() -> None:
    rng = np.random.default_rng(11)
    n = 60_000
    columns = {f"x{i}": rng.normal(0, 1, n) for i in range(12)}
    columns |= {f"k{i}": rng.choice(CATEGORIES, n, p=SHARES) for i in range(4)}
    reference = pd.DataFrame(columns)
    current = pd.DataFrame(
        {f"x{i}": rng.normal(0, 1, n) for i in range(12)}
        | {f"k{i}": rng.choice(CATEGORIES, n, p=SHARES) for i in range(4)}
    )
    current["x2"] += 0.4  # location shift
    current["x7"] *= 1.6  # scale change
    current["x9"] = rng.exponential(1.0, n) - 1  # shape change, same mean and variance
    current["k1"] = rng.choice(CATEGORIES, n, p=[0.1, 0.2, 0.2, 0.25, 0.25])
    report = drift(reference, current)
    assert {f.feature for f in report.drifted} == {"x2", "x7", "x9", "k1"}
    assert report.drift_share == pytest.approx(4 / 16)
    assert {f.test.method for f in report.features} == {"wasserstein", "jensen_shannon"}
    assert report.feature("x2").test.statistic == pytest.approx(0.4, abs=0.02)
    assert all(f.score < 1 for f in report.features if not f.drifted)
    assert all(f.score > 1 for f in report.drifted)


def test_a_rise_in_missing_values_is_drift_even_when_the_values_look_alike() -> None:
    rng = np.random.default_rng(12)
    reference = pd.DataFrame({"income": rng.normal(50, 10, 20_000)})
    reference.loc[::100, "income"] = np.nan  # 1 %
    current = pd.DataFrame({"income": rng.normal(50, 10, 5_000)})
    current.loc[::4, "income"] = np.nan  # 25 %
    item = drift(reference, current).feature("income")
    assert item.drifted and item.reasons == ("missing_rate",)
    assert not item.test.drifted  # the present values did not change
    assert item.missing_reference == pytest.approx(0.01) and item.missing_current == pytest.approx(
        0.25
    )
    same = pd.DataFrame({"income": rng.normal(50, 10, 5_000)})
    same.loc[::100, "income"] = np.nan
    assert not drift(reference, same).feature("income").drifted


def test_unseen_categories_are_drift_and_named() -> None:
    rng = np.random.default_rng(13)
    reference = pd.DataFrame({"plan": rng.choice(["basic", "plus", "pro"], 30_000)})
    values = rng.choice(["basic", "plus", "pro"], 4_000).astype(object)
    values[:200] = "premium-2024"  # a category the reference never had (5 %)
    report = drift(reference, pd.DataFrame({"plan": values}))
    item = report.feature("plan")
    assert item.drifted and "unseen_categories" in item.reasons
    assert item.unseen_share == pytest.approx(0.05)
    assert item.unseen_values[0] == ("premium-2024", 200)
    assert "premium-2024" in item.describe()


def test_the_automatic_choice_follows_type_and_size() -> None:
    rng = np.random.default_rng(14)
    reference = summarise(_population(5000, rng))
    config = DriftConfig()
    assert choose_method(reference["normal"], 800, config) == "ks"
    assert choose_method(reference["normal"], 5000, config) == "wasserstein"
    assert choose_method(reference["colour"], 800, config) == "chi2"
    assert choose_method(reference["colour"], 5000, config) == "jensen_shannon"
    assert choose_method(reference["count"], 5000, config) == "jensen_shannon"  # few values
    psi_config = DriftConfig(method="psi")
    assert choose_method(reference["normal"], 5000, psi_config) == "psi"
    with pytest.raises(InvalidInput, match="ks needs ordered numbers, but 'colour' is categorical"):
        choose_method(reference["colour"], 5000, DriftConfig(method="ks"))


@pytest.mark.parametrize("method", ["psi", "hellinger", "jensen_shannon", "chi2", "ks"])
def test_every_method_flags_a_shift_and_spares_a_copy(method: str) -> None:
    rng = np.random.default_rng(15)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 20_000)})
    shifted = pd.DataFrame({"x": rng.normal(0.8, 1, 4000)})
    same = pd.DataFrame({"x": rng.normal(0, 1, 4000)})
    assert drift(reference, shifted, method=method).feature("x").drifted
    assert not drift(reference, same, method=method).feature("x").drifted


def test_drift_of_files_batch_by_batch_matches_in_memory(tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    ref = _population(30_000, rng)
    cur = _population(25_000, rng)
    cur["normal"] += 1.0
    pq.write_table(pa.Table.from_pandas(ref, preserve_index=False), tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    from_files = drift(tmp_path / "ref.parquet", tmp_path / "cur.csv")
    in_memory = drift(ref, cur)
    assert [f.feature for f in from_files.drifted] == ["normal"]
    for a, b in zip(from_files.features, in_memory.features, strict=True):
        assert a.feature == b.feature and a.test.method == b.test.method
        assert a.test.statistic == pytest.approx(b.test.statistic, rel=1e-9)
    document = json.loads(drift_report(from_files, format="json"))
    assert document["drifted_features"] == ["normal"]
    first = document["features"][0]
    assert {"feature", "test", "statistic", "p_value", "threshold", "drifted"} <= set(first)
    page = drift_report(from_files, str(tmp_path / "drift.html"))
    assert page.startswith("<!DOCTYPE html>") and (tmp_path / "drift.html").exists()
    assert "normal" in page and "wasserstein" in page


def test_ks_on_windows_agrees_with_scipy_on_the_same_rows() -> None:
    rng = np.random.default_rng(17)
    ref, cur = rng.integers(0, 40, 3000).astype(float), rng.integers(1, 41, 600).astype(float)
    report = drift(pd.DataFrame({"v": ref}), pd.DataFrame({"v": cur}), method="ks")
    test = report.feature("v").test
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert test.statistic == pytest.approx(expected.statistic)
    assert test.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_errors_name_what_was_wrong() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(InvalidInput, match="share no column"):
        drift(frame, pd.DataFrame({"b": [1.0]}))
    with pytest.raises(InvalidInput, match="Unknown drift method 'kolmogorov'"):
        drift(frame, frame, method="kolmogorov")
    with pytest.raises(InvalidInput, match="Unknown drift setting"):
        drift(frame, frame, threshold=0.3)
