"""What an operator reads of an assist activity: the live counters (Redis) beside what the SQL
audit trail holds. Pure."""

from __future__ import annotations

from activities.model import Activity
from assist.model import AssistRules
from assist.repository import AssistTotals
from assist.schemas import AssistCounters
from assist.store import AssistCountersLive


def counters_of(
    activity: Activity, rules: AssistRules, live: AssistCountersLive, in_sql: AssistTotals, quarantined: int
) -> AssistCounters:
    """Live counters beside SQL's."""
    totals = live.totals
    started, completed, expired = (totals.get(f"{k}_total", 0) for k in ("initiatives", "completed", "expired"))
    return AssistCounters(
        activity_id=activity.id,
        status=activity.status,
        loaded=live.status is not None,
        stock=rules.stock,
        stock_left=live.stock.get("prize", 0),
        initiatives_total=started,
        open=started - completed - expired,
        completed_total=completed,
        expired_total=expired,
        helps_total=totals.get("helps_total", 0),
        helper_rewards_total=totals.get("helper_rewards_total", 0),
        initiatives_in_sql=in_sql.initiatives,
        completed_in_sql=in_sql.completed,
        expired_in_sql=in_sql.expired,
        helps_in_sql=in_sql.helps,
        helper_rewards_in_sql=in_sql.helper_rewards,
        audit_backlog=live.audit_backlog,
        quarantined=quarantined,
    )
