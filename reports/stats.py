"""Statistics on per-run scores: bootstrap intervals, two-sample tests, Holm, effect sizes.

Pure functions on 1-d arrays (one score per run), no data frames. A run whose score is NaN or that
is marked failed counts in the failure rate and is left out of every mean, interval and test
(docs/protocol.md §4.7: a run that stopped being finite is failed). Tests need two healthy runs per
side; below that they return NaN with ``reason`` set, never a number that looks like evidence.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
NO_TEST = "no test possible (n < 2)"


@dataclasses.dataclass(frozen=True)
class Sample:
    """The healthy scores of a set of runs, and how many runs there were and failed."""

    values: np.ndarray  # finite scores of the runs that did not fail
    n_runs: int
    n_failed: int

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def failure_rate(self) -> float:
        return self.n_failed / self.n_runs if self.n_runs else math.nan

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.n else math.nan

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof=1); NaN below two runs."""
        return float(np.std(self.values, ddof=1)) if self.n > 1 else math.nan


def sample(scores: ArrayLike, failed: ArrayLike | None = None) -> Sample:
    """Split per-run ``scores`` into healthy values and a failure count.

    A run is failed where ``failed`` is True or its score is NaN or infinite.
    """
    scores = np.asarray(scores, float).ravel()
    bad = ~np.isfinite(scores)
    if failed is not None:
        bad |= np.asarray(failed, bool).ravel()
    return Sample(scores[~bad], len(scores), int(bad.sum()))


@dataclasses.dataclass(frozen=True)
class TestResult:
    """A two-sided test: statistic and p-value, or NaN and the reason no test was made."""

    statistic: float
    pvalue: float
    reason: str = ""


# --- bootstrap (percentile, seeded) ----------------------------------------------------------


def _resampled_means(x: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    return x[rng.integers(0, len(x), size=(n_resamples, len(x)))].mean(axis=1)


def _percentiles(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(draws, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_mean_ci(
    x: ArrayLike, *, n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``x``; (NaN, NaN) below two values.

    Resamples ``len(x)`` values with replacement ``n_resamples`` times. It under-covers for
    few runs: for normal data a nominal 95% covers the mean about 75% of the time at n = 3,
    84% at n = 5, 90% at n = 10 and 94.5% at n = 30 (measured, 1,000 repetitions).
    """
    x = np.asarray(x, float)
    if len(x) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    return _percentiles(_resampled_means(x, n_resamples, rng), confidence)


def bootstrap_diff_ci(
    a: ArrayLike, b: ArrayLike, *, n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(a) - mean(b), each sample resampled on its own."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    diffs = _resampled_means(a, n_resamples, rng) - _resampled_means(b, n_resamples, rng)
    return _percentiles(diffs, confidence)


# --- two-sample tests ------------------------------------------------------------------------


def _identical_constants(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.ptp(a) == 0 and np.ptp(b) == 0 and a[0] == b[0])


def welch_t(a: ArrayLike, b: ArrayLike) -> TestResult:
    """Welch's unequal-variance t-test, two-sided (``scipy.stats.ttest_ind(equal_var=False)``).

    Below two runs a side: NaN and :data:`NO_TEST`. Identical constant samples: t = 0, p = 1
    (scipy gives NaN). Constant samples of different values: t = +-inf, p = 0, as scipy.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return TestResult(math.nan, math.nan, NO_TEST)
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # zero variance: no t distribution to speak of
        if a[0] == b[0]:
            return TestResult(0.0, 1.0, "identical constant samples")
        return TestResult(math.copysign(math.inf, a[0] - b[0]), 0.0, "constant samples")
    res = sps.ttest_ind(a, b, equal_var=False)
    return TestResult(float(res.statistic), float(res.pvalue))


def mann_whitney_u(a: ArrayLike, b: ArrayLike) -> TestResult:
    """Mann-Whitney U, two-sided (``scipy.stats.mannwhitneyu``: exact without ties at small n,
    else the normal approximation with tie correction); ``statistic`` is U of ``a``.

    Below two runs a side: NaN and :data:`NO_TEST`. Identical constant samples: scipy's
    U = n_a n_b / 2, p = 1.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return TestResult(math.nan, math.nan, NO_TEST)
    res = sps.mannwhitneyu(a, b, alternative="two-sided")
    reason = "identical constant samples" if _identical_constants(a, b) else ""
    return TestResult(float(res.statistic), float(res.pvalue), reason)


def holm(pvalues: ArrayLike) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control), in the input order.

    Sorted ascending, p_(i) becomes max over j <= i of min(1, (m - j + 1) p_(j)). NaN entries
    (no test made) stay NaN and do not count in m. Not ``scipy.stats.false_discovery_control``,
    which is Benjamini-Hochberg (false discovery rate).
    """
    p = np.asarray(pvalues, float)
    out = np.full(p.shape, math.nan)
    tested = np.flatnonzero(np.isfinite(p))
    m = len(tested)
    if m == 0:
        return out
    order = tested[np.argsort(p[tested], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


# --- effect sizes ----------------------------------------------------------------------------


def cohens_d(a: ArrayLike, b: ArrayLike) -> float:
    """(mean(a) - mean(b)) / pooled sd (ddof=1 per side); NaN below two runs a side.

    Zero pooled sd: 0 for equal means, +-inf otherwise.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return math.nan
    diff = float(a.mean() - b.mean())
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if pooled == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / pooled


def common_language(a: ArrayLike, b: ArrayLike) -> float:
    """P(a run of ``a`` scores above one of ``b``), ties counting half: U_a / (n_a n_b).

    Cliff's delta is ``2 * common_language(a, b) - 1``. NaN if a side is empty.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0 or len(b) == 0:
        return math.nan
    greater = (a[:, None] > b[None, :]).mean()
    ties = (a[:, None] == b[None, :]).mean()
    return float(greater + 0.5 * ties)


def cliffs_delta(a: ArrayLike, b: ArrayLike) -> float:
    """P(a > b) - P(a < b) over all pairs of runs, in [-1, 1]."""
    return 2.0 * common_language(a, b) - 1.0
