"""The experiment statistics against reference values (SciPy 1.x / R's prop.test, correct=FALSE)."""

from __future__ import annotations

import math

import pytest

from analytics.stats import (
    chi2_sf,
    chi_square_gof,
    chi_square_independence,
    normal_sf,
    sample_ratio_mismatch,
    too_small,
    two_proportions,
)


@pytest.mark.parametrize(
    ("x", "dof", "p"),
    [
        (3.841458820694124, 1, 0.05),  # scipy.stats.chi2.ppf(0.95, df)
        (5.991464547107979, 2, 0.05),
        (7.814727903251178, 3, 0.05),
        (9.487729036781154, 4, 0.05),
        (11.070497693516351, 5, 0.05),
        (6.634896601021214, 1, 0.01),
        (24.724970311318277, 11, 0.01),
        (0.0, 3, 1.0),
    ],
)
def test_chi2_survival_matches_the_reference_quantiles(x: float, dof: int, p: float) -> None:
    assert chi2_sf(x, dof) == pytest.approx(p, rel=1e-9)


def test_normal_tail() -> None:
    assert 2 * normal_sf(1.959963984540054) == pytest.approx(0.05, rel=1e-12)
    assert normal_sf(0) == 0.5


def test_two_proportions_matches_prop_test() -> None:
    # R: prop.test(c(200, 250), c(1000, 1000), correct=FALSE): X-squared = 7.1685, p-value = 0.007419
    result = two_proportions(200, 1000, 250, 1000)
    assert result.z**2 == pytest.approx(7.168458781, rel=1e-6)
    assert result.p_value == pytest.approx(0.00741939, rel=1e-4)
    assert result.difference == pytest.approx(0.05)
    se = math.sqrt(0.2 * 0.8 / 1000 + 0.25 * 0.75 / 1000)
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (0.05 - 1.959963984540054 * se, 0.05 + 1.959963984540054 * se)
    )
    assert result.lift == pytest.approx(0.25)
    # The 2 x 2 chi-square is the squared z.
    stat, p = chi_square_independence([200, 250], [1000, 1000])
    assert stat == pytest.approx(result.z**2)
    assert p == pytest.approx(result.p_value)


def test_goodness_of_fit_reference() -> None:
    # scipy.stats.chisquare([18, 22, 20, 40], [25, 25, 25, 25]): statistic 12.32, p 0.0063636...
    stat, p = chi_square_gof([18, 22, 20, 40], [0.25] * 4)
    assert stat == pytest.approx(12.32)
    assert p == pytest.approx(chi2_sf(12.32, 3))
    assert p == pytest.approx(0.00636, abs=5e-5)


def test_srm_is_detected_on_a_skewed_split_only() -> None:
    assert sample_ratio_mismatch([5000, 5000], [0.5, 0.5])[1] is False
    assert sample_ratio_mismatch([5050, 4950], [0.5, 0.5])[1] is False
    assert sample_ratio_mismatch([5300, 4700], [0.5, 0.5])[1] is True
    assert sample_ratio_mismatch([8000, 2000], [0.8, 0.2])[1] is False


def test_small_samples_are_flagged() -> None:
    assert too_small([50, 60], [5, 6])
    assert not too_small([1000, 1000], [200, 250])
