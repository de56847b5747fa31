"""reports.stats against scipy, hand-computed answers, and its calibration in repeated
sampling (size and power of the tests, coverage of the bootstrap interval)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from reports import stats

A = np.array([6.1, 5.8, 6.5, 6.0, 6.3, 5.9])
B = np.array([6.8, 7.1, 6.6, 7.4, 6.9])


def test_sample_counts_failed_and_nan_runs_and_leaves_them_out():
    s = stats.sample([1.0, np.nan, 3.0, 5.0, np.inf], failed=[False, False, False, True, False])
    assert (s.n_runs, s.n_failed, s.n) == (5, 3, 2)
    assert s.failure_rate == pytest.approx(0.6) and s.mean == 2.0
    assert math.isnan(stats.sample([1.0, np.nan]).std)
    s = stats.sample([2.0, 4.0])
    assert (s.n_failed, s.mean, s.std) == (0, 3.0, pytest.approx(math.sqrt(2)))
    assert math.isnan(stats.sample([]).failure_rate)


def test_welch_and_mann_whitney_match_scipy():
    t = stats.welch_t(A, B)
    ref = sps.ttest_ind(A, B, equal_var=False)
    assert (t.statistic, t.pvalue, t.reason) == (pytest.approx(ref.statistic),
                                                 pytest.approx(ref.pvalue), "")
    u = stats.mann_whitney_u(A, B)
    ref = sps.mannwhitneyu(A, B, alternative="two-sided")
    assert (u.statistic, u.pvalue) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    # hand check: every A below every B, so U_A = 0, exact p = 2 / C(11, 5) = 2 / 462
    assert u.statistic == 0 and u.pvalue == pytest.approx(2 / 462)


@pytest.mark.parametrize("a, b", [([1.0], [2.0, 3.0]), ([1.0, 2.0], [3.0]), ([], [1.0, 2.0])])
def test_no_test_below_two_runs_a_side(a, b):
    for result in (stats.welch_t(a, b), stats.mann_whitney_u(a, b)):
        assert math.isnan(result.pvalue) and math.isnan(result.statistic)
        assert result.reason == stats.NO_TEST == "no test possible (n < 2)"
    assert math.isnan(stats.cohens_d(a, b))
    assert stats.bootstrap_diff_ci(a, b) == (pytest.approx(math.nan, nan_ok=True),) * 2


def test_constant_samples():
    same = stats.welch_t([2.0, 2.0, 2.0], [2.0, 2.0])
    assert (same.statistic, same.pvalue, same.reason) == (0.0, 1.0, "identical constant samples")
    u = stats.mann_whitney_u([2.0, 2.0, 2.0], [2.0, 2.0])
    assert (u.statistic, u.pvalue) == (3.0, 1.0)
    apart = stats.welch_t([1.0, 1.0, 1.0], [2.0, 2.0, 2.0])
    assert apart.pvalue == 0.0 and apart.statistic == -math.inf
    with warnings.catch_warnings():  # scipy warns of the zero variance
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = sps.ttest_ind([1.0] * 3, [2.0] * 3, equal_var=False)
    assert (apart.statistic, apart.pvalue) == (ref.statistic, ref.pvalue)
    assert stats.cohens_d([1.0, 1.0], [1.0, 1.0]) == 0.0
    assert stats.cohens_d([2.0, 2.0], [1.0, 1.0]) == math.inf


def test_holm_known_answer():
    # Holm (1979) as on Wikipedia's worked example; R: p.adjust(p, "holm") = .03 .06 .06 .02
    p = [0.01, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(stats.holm(p), [0.03, 0.06, 0.06, 0.02])
    # Benjamini-Hochberg (scipy's false_discovery_control) is another correction
    np.testing.assert_allclose(sps.false_discovery_control(p), [0.02, 0.04, 0.04, 0.02])
    # capped at 1, monotone in the sorted order, NaN (no test) left out of m
    np.testing.assert_allclose(stats.holm([0.5, np.nan, 0.02]), [0.5, np.nan, 0.04])
    np.testing.assert_allclose(stats.holm([0.6, 0.7]), [1.0, 1.0])
    assert stats.holm([]).shape == (0,) and np.isnan(stats.holm([np.nan])).all()


def test_effect_sizes():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0])
    pooled = math.sqrt((3 * np.var(a, ddof=1) + 2 * np.var(b, ddof=1)) / 5)
    assert stats.cohens_d(a, b) == pytest.approx((2.5 - 4.0) / pooled)
    # pairs (a > b, ties): 3 > 2, 4 > 2; ties 2 = 2, 4 = 4 -> (2 + 0.5 * 2) / 12
    assert stats.common_language(a, b) == pytest.approx(3 / 12)
    u = sps.mannwhitneyu(a, b, alternative="two-sided").statistic
    assert stats.common_language(a, b) == pytest.approx(u / (len(a) * len(b)))
    assert stats.cliffs_delta(a, b) == pytest.approx(2 * 3 / 12 - 1)
    assert stats.cliffs_delta(b + 10, a) == 1.0


def test_bootstrap_interval_is_seeded_and_holds_the_mean():
    lo, hi = stats.bootstrap_mean_ci(A, n_resamples=2000, seed=3)
    assert lo < A.mean() < hi and (lo, hi) == stats.bootstrap_mean_ci(A, n_resamples=2000,
                                                                        seed=3)
    lo, hi = stats.bootstrap_diff_ci(A, B, n_resamples=2000)
    assert lo < A.mean() - B.mean() < hi < 0
    assert math.isnan(stats.bootstrap_mean_ci([1.0])[0])


def _rejection_rates(shift: float, n: int, reps: int, alpha: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    welch = mwu = 0
    for _ in range(reps):
        a, b = rng.normal(size=n), rng.normal(shift, size=n)
        welch += stats.welch_t(a, b).pvalue < alpha
        mwu += stats.mann_whitney_u(a, b).pvalue < alpha
    return welch / reps, mwu / reps


def test_size_of_the_tests_under_the_null():
    """n = 10 vs 10 draws of one normal: each test rejects at about its nominal 5%."""
    welch, mwu = _rejection_rates(0.0, 10, 2000)
    assert 0.03 <= welch <= 0.07 and 0.03 <= mwu <= 0.07, (welch, mwu)


def test_power_against_a_clear_shift():
    """A 1.5 sd shift with n = 20 a side (power about 0.99 for the t-test)."""
    welch, mwu = _rejection_rates(1.5, 20, 500, seed=1)
    assert welch > 0.9 and mwu > 0.9, (welch, mwu)


def test_holm_controls_the_family_wise_error():
    """Three true nulls: P(any Holm-adjusted p < 0.05) stays at or below 5% (up to noise)."""
    rng = np.random.default_rng(2)
    reps, any_reject = 1000, 0
    for _ in range(reps):
        p = [stats.welch_t(rng.normal(size=10), rng.normal(size=10)).pvalue for _ in range(3)]
        any_reject += (stats.holm(p) < 0.05).any()
    assert any_reject / reps <= 0.065


def test_bootstrap_coverage():
    """The 95% percentile interval covers the true mean about 95% of the time at n = 30."""
    rng = np.random.default_rng(4)
    reps = 1000
    hits = 0
    for i in range(reps):
        lo, hi = stats.bootstrap_mean_ci(rng.normal(3.0, 2.0, size=30), n_resamples=1000, seed=i)
        hits += lo <= 3.0 <= hi
    assert 0.92 <= hits / reps <= 0.97, hits / reps
