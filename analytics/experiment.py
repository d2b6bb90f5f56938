"""The experiment report: per variant its members and conversions on a chosen metric, each
variant against the control (difference, 95% CI, p-value), the chi-square over all variants, the
sample-ratio-mismatch check against the declared shares, and a small-sample warning. Anchor:
GrowthBook's experiment results."""

from __future__ import annotations

from typing import Any

from activities.errors import invalid
from activities.model import Activity
from analytics.queries import Rollup
from analytics.stats import SRM_ALPHA, chi_square_independence, sample_ratio_mismatch, too_small, two_proportions

# metric -> (what converts, out of what): sums of rollup counts per variant
METRICS = {
    "win": ("winners", "first_timers"),  # members who won a prize other than the consolation
    "redemption": ("redemptions", "reservations"),  # reservations redeemed at the store
    "d7": ("d7", "signins"),  # sign-ins continued 7 days later
    "participation": ("first_timers", "viewers"),  # members out of the variant's share of the visitors
}


async def experiment_report(activity: Activity, rollup: Rollup, metric: str) -> dict[str, Any]:
    if metric not in METRICS:
        raise invalid("invalid_parameter", f"metric must be one of {sorted(METRICS)}", field="metric")
    success, trials = METRICS[metric]
    by_variant = {r["variant"]: r for r in await rollup.daily(("variant",))}
    if success == "d7":
        for r in await rollup.details(["d7"], ("variant",)):
            by_variant.setdefault(r["variant"], {})["d7"] = int(r["count"])
    experiment = activity.experiment
    if experiment is not None:
        names = [v.name for v in experiment.variants]
        shares = [float(v.share) for v in experiment.variants]
        control = experiment.control_name
    else:
        names = sorted(by_variant)
        shares = [1.0] * len(names)
        control = names[0] if names else ""
    members = [int(by_variant.get(n, {}).get("first_timers", 0)) for n in names]
    # A visitor has no variant until they sign in (assignment hashes the member id), so a
    # variant's viewers are estimated as the visitors times its share of the split.
    visitors = sum((await rollup.visitors(("activity_id",))).values())
    viewers = [round(visitors * share / sum(shares)) for share in shares] if shares else []
    for name, n in zip(names, viewers, strict=True):
        by_variant.setdefault(name, {})["viewers"] = n
    xs = [int(by_variant.get(n, {}).get(success, 0)) for n in names]
    ns = [int(by_variant.get(n, {}).get(trials, 0)) for n in names]
    ns = [max(n, x) for n, x in zip(ns, xs, strict=True)]  # an estimate of trials (viewers) may fall short
    srm_p, srm = sample_ratio_mismatch(members, shares)
    _, p_all = chi_square_independence(xs, ns)
    c = names.index(control) if control in names else 0
    rows = []
    for i, name in enumerate(names):
        row: dict[str, Any] = {
            "variant": name,
            "control": i == c,
            "expected_share": round(shares[i] / sum(shares), 6) if shares else None,
            "members": members[i],
            "viewers_estimated": viewers[i],
            "participation_rate": round(members[i] / viewers[i], 6) if viewers[i] else None,
            "trials": ns[i],
            "conversions": xs[i],
            "rate": round(xs[i] / ns[i], 6) if ns[i] else None,
            "difference": None,
            "ci_low": None,
            "ci_high": None,
            "lift": None,
            "p_value": None,
        }
        if i != c and ns[i] and ns[c]:
            cmp = two_proportions(xs[c], ns[c], xs[i], ns[i])
            row |= {
                "difference": round(cmp.difference, 6),
                "ci_low": round(cmp.ci_low, 6),
                "ci_high": round(cmp.ci_high, 6),
                "lift": None if cmp.lift is None else round(cmp.lift, 6),
                "p_value": cmp.p_value,
            }
        rows.append(row)
    warnings = []
    if srm:
        warnings.append(f"sample ratio mismatch (p = {srm_p:.2g} < {SRM_ALPHA}): the split is broken")
    if not names or too_small(ns, xs):
        warnings.append("sample too small: fewer than 100 trials or 10 conversions in a variant")
    return {
        "metric": metric,
        "declared": experiment is not None,
        "salt": experiment.salt if experiment else None,
        "srm_p_value": srm_p,
        "srm": srm,
        "p_value_all": p_all,
        "warnings": warnings,
        "rows": rows,
    }
