"""The simulator's model of per-member caps (lottery/simulate.py, step 5 of its docstring): for
each capped prize, the share of its picks made by members still under their cap, as a curve of
the units granted per member."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from lottery.simulate import SimPrize

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

MAX_MODELLED_CAP = 100  # a per-member cap above this is treated as never reached


def _binomial_below(n: F64, q: F64, cap: int) -> tuple[F64, F64]:
    """P(Binomial(n, q) < cap) and E[min(Binomial(n, q), cap)], elementwise (n >= 0 integers)."""
    q = np.clip(q, 0.0, 1 - 1e-12)
    pmf = np.power(1 - q, n)
    below = pmf.copy()
    expected = 1 - below  # E[min(B, cap)] = sum over j < cap of P(B > j)
    for j in range(1, cap):
        pmf = pmf * np.clip(n - j + 1, 0, None) / j * q / (1 - q)
        below = below + pmf
        expected = expected + np.clip(1 - below, 0.0, 1.0)
    return np.clip(below, 0.0, 1.0), expected


def cap_curves(sample: I64, probs: F64, prizes: tuple[SimPrize, ...]) -> dict[int, tuple[F64, F64]]:
    """For each capped prize: units granted per member -> share of its picks made by members still
    under their cap. If each pick is granted with the same chance s (s = 1: every pick granted),
    member m with a draws wins min(Binomial(a, p s), cap); a pick comes from m in proportion to a
    and m is under the cap with P(Binomial(a - 1, p s) < cap). Exact while availability thins picks
    uniformly (the derivative of the first is the picks times the second), over a grid of s."""
    draws, members = np.unique(sample.sum(axis=1), return_counts=True)
    s = np.concatenate([[0.0], np.geomspace(1e-6, 1.0, 400)])[:, None]
    curves = {}
    for k, prize in enumerate(prizes):
        cap = prize.per_user_cap
        if not cap or cap > MAX_MODELLED_CAP or probs[k] == 0:
            continue
        q = probs[k] * s
        _, units = _binomial_below(draws.astype(np.float64)[None, :], q, cap)
        under, _ = _binomial_below(np.clip(draws - 1, 0, None).astype(np.float64)[None, :], q, cap)
        weight = draws * members
        share = (under * weight).sum(axis=1) / max(float(weight.sum()), 1.0)
        per_member = (units * members).sum(axis=1) / members.sum()
        curves[k] = (per_member, np.where(weight.sum() > 0, share, 1.0))
    return curves
