"""Statistics of A/B experiments as plain functions (exact: no SciPy needed): the two-proportion
z-test with its confidence interval, Pearson's chi-square test (goodness of fit for the
sample-ratio-mismatch check, independence for A/B/n conversions) and their p-values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for X chi-square with `dof` (>= 1) degrees of freedom, exactly (the series of the
    regularised upper incomplete gamma function for integer and half-integer shapes)."""
    if dof < 1:
        raise ValueError("dof must be at least 1")
    if x <= 0:
        return 1.0
    half = x / 2
    if dof % 2 == 0:  # e^-h * sum_{k < dof/2} h^k / k!
        term = total = math.exp(-half)
        for k in range(1, dof // 2):
            term *= half / k
            total += term
        return min(total, 1.0)
    # odd: erfc(sqrt(h)) + e^-h * sum_{k=1}^{(dof-1)/2} h^(k-1/2) / Gamma(k+1/2)
    total = math.erfc(math.sqrt(half))
    term = math.exp(-half) * math.sqrt(half) / math.gamma(1.5)
    for k in range(1, (dof - 1) // 2 + 1):
        total += term
        term *= half / (k + 0.5)
    return min(total, 1.0)


@dataclass(frozen=True)
class Comparison:
    """A variant against the control: rates, their difference (variant - control) with its 95%
    confidence interval (unpooled standard error), the relative lift, and the two-sided p-value
    of the pooled two-proportion z-test."""

    control_rate: float
    variant_rate: float
    difference: float
    ci_low: float
    ci_high: float
    lift: float | None
    z: float
    p_value: float


def two_proportions(x1: int, n1: int, x2: int, n2: int, z_crit: float = Z_95) -> Comparison:
    """Control x1/n1 against variant x2/n2 (n1, n2 > 0)."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both samples must be non-empty")
    p1, p2 = x1 / n1, x2 / n2
    diff = p2 - p1
    pooled = (x1 + x2) / (n1 + n2)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = diff / se_pooled if se_pooled > 0 else 0.0
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return Comparison(
        control_rate=p1,
        variant_rate=p2,
        difference=diff,
        ci_low=diff - z_crit * se,
        ci_high=diff + z_crit * se,
        lift=diff / p1 if p1 > 0 else None,
        z=z,
        p_value=2 * normal_sf(abs(z)),
    )


def chi_square_gof(observed: Sequence[int], expected_shares: Sequence[float]) -> tuple[float, float]:
    """Pearson's goodness-of-fit statistic and p-value of counts against expected shares."""
    total = sum(observed)
    weight = sum(expected_shares)
    if total == 0 or len(observed) < 2:
        return 0.0, 1.0
    stat = 0.0
    for count, share in zip(observed, expected_shares, strict=True):
        expected = total * share / weight
        if expected > 0:
            stat += (count - expected) ** 2 / expected
    return stat, chi2_sf(stat, len(observed) - 1)


def chi_square_independence(successes: Sequence[int], trials: Sequence[int]) -> tuple[float, float]:
    """Pearson's chi-square test that the rates successes/trials are equal across groups (2 x k)."""
    n, x = sum(trials), sum(successes)
    if n == 0 or x in (0, n) or len(trials) < 2:
        return 0.0, 1.0
    stat = 0.0
    for s, t in zip(successes, trials, strict=True):
        for observed, share in ((s, x / n), (t - s, (n - x) / n)):
            expected = t * share
            if expected > 0:
                stat += (observed - expected) ** 2 / expected
    return stat, chi2_sf(stat, len(trials) - 1)


SRM_ALPHA = 0.001  # GrowthBook's default threshold for a sample ratio mismatch


def sample_ratio_mismatch(observed: Sequence[int], expected_shares: Sequence[float]) -> tuple[float, bool]:
    """The SRM check: the p-value of the assignment counts against the declared shares, and
    whether it is below `SRM_ALPHA` (the split is broken: do not trust the results)."""
    _, p = chi_square_gof(observed, expected_shares)
    return p, p < SRM_ALPHA


def too_small(trials: Sequence[int], successes: Sequence[int], min_trials: int = 100, min_successes: int = 10) -> bool:
    """Whether any group is too small for the normal approximation to be trusted."""
    return any(
        t < min_trials or s < min_successes or t - s < min_successes for t, s in zip(trials, successes, strict=True)
    )
