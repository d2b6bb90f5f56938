"""An assist activity's live state as the SQL audit trail rebuilds it: the state hash the
scripts read, the stock left, the open initiatives with their helps and deadlines, who started
and who helped, today's per-helper, per-device and per-address counts."""

from __future__ import annotations

from activities.clock import day_end_ms, local_day, to_ms
from activities.model import Activity
from activities.service import DAY_KEY_GRACE_MS
from assist.initiatives import from_sql, redis_fields
from assist.model import AssistRules
from assist.repository import AssistRepository, HelpRow
from assist.store import AssistSnapshot


async def snapshot(activity: Activity, rules: AssistRules, repo: AssistRepository, now_ms: int) -> AssistSnapshot:
    """Everything the scripts need, from the SQL audit trail."""
    today = local_day(now_ms, activity.tz)
    totals = await repo.totals(activity.id)
    helper_stock = rules.helper_reward.stock if rules.helper_reward else 0
    user_day, device_day, ip_day = await repo.day_counts(activity.id, today)
    snap = AssistSnapshot(
        state={
            "status": activity.status,
            "starts_at_ms": to_ms(activity.starts_at),
            "ends_at_ms": to_ms(activity.ends_at),
            "rules": rules.script_rules(),
            "initiatives_total": totals.initiatives,
            "helps_total": totals.helps,
            "completed_total": totals.completed,
            "expired_total": totals.expired,
            "helper_rewards_total": totals.helper_rewards,
        },
        # A started initiative holds its unit until it expires; a completed one has won it.
        stock={
            "prize": rules.stock - (totals.initiatives - totals.expired),
            "helper": helper_stock - totals.helper_rewards,
        },
        today=today,
        day_ttl_ms=day_end_ms(today, activity.tz) + DAY_KEY_GRACE_MS - now_ms,
        initiators=await repo.initiatives_by_user(activity.id),
        helped=await repo.helpers(activity.id),
        invitees=await repo.invitees(activity.id),
        user_day=dict(user_day),
        device_day=dict(device_day),
        ip_day=dict(ip_day),
    )
    open_rows = await repo.open_initiatives(activity.id)
    helps_by_initiative: dict[str, list[HelpRow]] = {}
    for help_row in await repo.helps_of([row.initiative_id for row in open_rows]):
        helps_by_initiative.setdefault(help_row.initiative_id, []).append(help_row)
    for row in open_rows:
        found = from_sql(row, None, helps_by_initiative.get(row.initiative_id, []))
        snap.initiatives[row.initiative_id] = redis_fields(found)
        snap.deadlines[row.initiative_id] = row.deadline_ms
        snap.open[row.initiator] = row.initiative_id
    return snap
