"""An assist activity's live state as the SQL audit trail rebuilds it (issue 17: a cold rebuild
that does not grow with the campaign): the state hash the scripts read (with the activity's
totals) and the stock left, from the aggregates the triggers keep (`assist_counts`); nothing of
any member. The open initiatives' deadlines (`assist_open`: at most the prize's stock of them)
are added by the next sweep, the state saying `deadlines_pending` until then. If SQL holds
anything, the state's `lazy` is this load's token and `lazy_day` its local day: members,
initiatives, and the devices and addresses of that day's helps are loaded when first reached
(assist/members.py)."""

from __future__ import annotations

import secrets

from activities.clock import day_end_ms, local_day, to_ms
from activities.model import Activity
from activities.service import DAY_KEY_GRACE_MS
from assist.model import AssistRules
from assist.repository import AssistRepository
from assist.store import AssistSnapshot


def rule_fields(rules: AssistRules) -> dict[str, str | int]:
    """The rules as start.lua and help.lua read them: plain fields, no JSON to decode per call
    (`rules`, the JSON, stays for a reader of the whole)."""
    caps = rules.anti_abuse
    return {
        "rules": rules.script_rules(),
        "helper_daily": caps.helps_per_helper_daily or 0,
        "device_daily": caps.helps_per_device_daily or 0,
        "ip_daily": caps.helps_per_ip_daily or 0,
        "new_only": int(caps.new_users_only),
        "per_user": rules.initiatives_per_user,
    }


async def snapshot(activity: Activity, rules: AssistRules, repo: AssistRepository, now_ms: int) -> AssistSnapshot:
    """The activity-level state from the aggregates: no per-member or per-initiative query."""
    today = local_day(now_ms, activity.tz)
    totals = await repo.totals(activity.id)
    helper_stock = rules.helper_reward.stock if rules.helper_reward else 0
    token = secrets.token_hex(8) if totals.initiatives + totals.helps > 0 else "0"
    return AssistSnapshot(
        state={
            "status": activity.status,
            "starts_at_ms": to_ms(activity.starts_at),
            "ends_at_ms": to_ms(activity.ends_at),
            **rule_fields(rules),
            "initiatives_total": totals.initiatives,
            "helps_total": totals.helps,
            "completed_total": totals.completed,
            "expired_total": totals.expired,
            "helper_rewards_total": totals.helper_rewards,
            "lazy": token,
            "lazy_day": today.isoformat(),
            # The open initiatives' deadlines: added by the next sweep (AssistService.sweep), not
            # before the first answer (20,000 of them took 100 ms to read and write at 1M members).
            **({"deadlines_pending": token} if token != "0" else {}),
        },
        # A started initiative holds its unit until it expires; a completed one has won it.
        stock={
            "prize": rules.stock - (totals.initiatives - totals.expired),
            "helper": helper_stock - totals.helper_rewards,
        },
        today=today,
        day_ttl_ms=day_end_ms(today, activity.tz) + DAY_KEY_GRACE_MS - now_ms,
    )
