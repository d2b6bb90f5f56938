"""The reports of an activity (overview, funnel, checkin, assist, points, experiment), read from
the rollups only, in the activity's time zone, over `from`..`to` local days (by default the
activity's whole window). Each report is JSON with a `rows` table that its CSV export streams."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.errors import Kind, PromoError
from activities.model import Activity
from analytics.experiment import experiment_report
from analytics.queries import Rollup
from lottery.repository import LotteryRepository

REPORTS = ("overview", "funnel", "checkin", "assist", "points", "experiment")
Report = dict[str, Any]


def cny(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def bad_parameter(message: str, name: str) -> PromoError:
    """A 400 `invalid_parameter` (a query parameter out of its bounds)."""
    return PromoError(Kind.MALFORMED, "invalid_parameter", message, field=name)


def day_range(activity: Activity, first: str | None, last: str | None) -> tuple[str, str]:
    """The local days asked for (YYYY-MM-DD), by default the activity's window."""
    tz = activity.tz

    def parse(value: str | None, default: datetime, name: str) -> str:
        if value is None:
            return default.astimezone(tz).date().isoformat()
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise bad_parameter(f"{name} must be a date YYYY-MM-DD", name) from None

    start, end = parse(first, activity.starts_at, "from"), parse(last, activity.ends_at, "to")
    if start > end:
        # each day is valid on its own (the schema's): the pair is refused as a 422
        raise PromoError(Kind.INVALID, "range_invalid", "from must not be after to", field="from")
    return start, end


class Reports:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def build(self, name: str, activity: Activity, first: str | None, last: str | None, **opts: Any) -> Report:
        start, end = day_range(activity, first, last)
        rollup = Rollup(self.engine, activity.id, start, end)
        head: Report = {"activity_id": activity.id, "timezone": activity.timezone, "from": start, "to": end}
        body: Report = await getattr(self, f"_{name}")(activity, rollup, **opts)
        return head | body

    async def _overview(self, activity: Activity, rollup: Rollup) -> Report:
        days = await rollup.daily()
        visitors = await rollup.visitors()
        rows = []
        spent = 0
        for d in days:
            uv = visitors.get((d["day"],), 0)
            spent += d["cost_cents"]
            rows.append(
                {
                    "day": d["day"],
                    "visitors": uv,
                    "participants": d["participants"],
                    "new_participants": d["first_timers"],
                    "returning_participants": d["participants"] - d["first_timers"],
                    "participation_rate": ratio(d["participants"], uv),
                    "actions": d["actions"],
                    "draws": d["draws"],
                    "wins": d["wins"],
                    "cost_cny": cny(d["cost_cents"]),
                    "cost_to_date_cny": cny(spent),  # since the start of the range: against the budget
                }
            )
        total = {k: sum(d[k] for d in days) for k in ("actions", "first_timers", "draws", "wins", "cost_cents")}
        uv_total = sum(visitors.values())
        lottery = await LotteryRepository(self.engine).read(activity)  # its prizes' names, if a lottery
        names = {p.id: p.name for p in lottery.prizes} if lottery is not None else {}
        prizes = [
            {
                "prize_id": p["prize_id"],
                "name": names.get(p["prize_id"], ""),
                "wins": int(p["wins"]),
                "win_rate": ratio(int(p["wins"]), total["draws"]),
                "cost_cny": cny(int(p["cost_cents"])),
            }
            for p in await rollup.prizes()
        ]
        return {
            "totals": {
                "visitors": uv_total,
                "participants": total["first_timers"],  # distinct members whose first action is in the range
                "participant_days": sum(d["participants"] for d in days),
                "participation_rate": ratio(total["first_timers"], uv_total),
                "actions": total["actions"],
                "actions_per_participant": ratio(total["actions"], total["first_timers"]),
                "wins": total["wins"],
                "win_rate": ratio(total["wins"], total["draws"]),
                "cost_cny": cny(total["cost_cents"]),
                **_budget(lottery, total["cost_cents"]),
            },
            "by_channel": [_share(r, "channel") for r in await rollup.daily(("channel",), all_channels=False)],
            "by_source": [_share(r, "source") for r in await rollup.daily(("source",), all_channels=False)],
            "prizes": prizes,
            "rows": rows,
        }

    async def _funnel(self, activity: Activity, rollup: Rollup) -> Report:
        totals = (await rollup.daily(("activity_id",)) or [dict.fromkeys(("first_timers", "winners"), 0)])[0]
        viewed = sum((await rollup.visitors(("activity_id",))).values())
        steps = [("viewed", viewed), ("participated", totals.get("first_timers", 0)), ("won", totals.get("winners", 0))]
        stores: dict[str, dict[str, int]] = {}
        for r in await rollup.details(["store_reserved", "store_redeemed", "store_cancelled", "store_expired"]):
            stores.setdefault(r["item"], {})[r["kind"].removeprefix("store_")] = int(r["count"])
        by_store: list[dict[str, Any]] = [
            {
                "store": store,
                "reserved": c.get("reserved", 0),
                "redeemed": c.get("redeemed", 0),
                "cancelled": c.get("cancelled", 0),
                "expired": c.get("expired", 0),
                "show_up_rate": ratio(c.get("redeemed", 0), c.get("reserved", 0) - c.get("cancelled", 0)),
            }
            for store, c in sorted(stores.items())
        ]
        rows = [
            {"step": step, "members": n, "of_previous": ratio(n, steps[i - 1][1]) if i else None}
            for i, (step, n) in enumerate(steps)
        ]
        reserved = sum(s["reserved"] for s in by_store)
        reservations = {k: sum(s[k] for s in by_store) for k in ("redeemed", "cancelled", "expired")}
        return {
            "steps": rows,
            "reservations": {"reserved": reserved, **reservations, "by_store": by_store},
            "rows": rows,
        }

    async def _checkin(self, activity: Activity, rollup: Rollup) -> Report:
        days = await rollup.daily(columns=("signins", "makeups", "participants"))
        cohorts = {
            (r["kind"], r["day"]): int(r["count"]) for r in await rollup.details(["d1", "d7", "d30"], ("kind", "day"))
        }
        rows = []
        for d in days:
            base = d["participants"]
            row = {"day": d["day"], "signins": d["signins"], "makeups": d["makeups"], "members": base}
            for k in ("d1", "d7", "d30"):
                row[k] = ratio(cohorts.get((k, d["day"]), 0), base)
            rows.append(row)
        streaks = sorted(
            ({"streak": int(r["item"]), "signins": int(r["count"])} for r in await rollup.details(["streak"])),
            key=lambda r: r["streak"],
        )
        signins, makeups = sum(d["signins"] for d in days), sum(d["makeups"] for d in days)
        return {
            "totals": {"signins": signins, "makeups": makeups, "makeup_share": ratio(makeups, signins + makeups)},
            "streaks": streaks,
            "rows": rows,
        }

    async def _assist(self, activity: Activity, rollup: Rollup) -> Report:
        columns = ("initiatives", "helps", "completions", "assist_expiries", "helpers_new", "helper_initiators")
        days = await rollup.daily(columns=columns)
        t = {k: sum(d[k] for d in days) for k in columns}
        done = await rollup.details(["assist_completed"], ("kind",))
        completed, took_ms = (int(done[0]["count"]), int(done[0]["total_ms"])) if done else (0, 0)
        by_depth = sorted((int(r["item"]), int(r["count"])) for r in await rollup.details(["share_depth"]))
        depth_helps = sum(n for _, n in by_depth)
        return {
            "totals": {
                "initiatives": t["initiatives"],
                "helps": t["helps"],
                "helps_per_initiative": ratio(t["helps"], t["initiatives"]),
                "completions": t["completions"],
                "completion_rate": ratio(t["completions"], t["initiatives"]),
                "expired": t["assist_expiries"],
                "mean_time_to_complete_s": round(took_ms / completed / 1000, 1) if completed else None,
                "new_members_brought": t["helpers_new"],
                "new_members_per_initiative": ratio(t["helpers_new"], t["initiatives"]),
                "helpers_who_became_initiators": t["helper_initiators"],
                # K: initiatives that helpers went on to start, per initiative (helpers per initiator
                # x the share of them who became initiators); above 1 the campaign spreads itself
                "viral_coefficient": ratio(t["helper_initiators"], t["initiatives"]),
                "share_tree_depth": by_depth[-1][0] if by_depth else None,  # the deepest help
                "mean_share_depth": ratio(sum(d * n for d, n in by_depth), depth_helps),
                "reshared_helps": sum(n for d, n in by_depth if d > 1),  # through a helper's link
            },
            "share_depths": [{"depth": d, "helps": n} for d, n in by_depth],
            "rows": [{"day": d["day"], **{k: d[k] for k in columns}} for d in days],
        }

    async def _points(self, activity: Activity, rollup: Rollup) -> Report:
        days = await rollup.daily(columns=("points_granted", "points_spent"))
        rows = [
            {
                "day": d["day"],
                "granted": d["points_granted"],
                "spent": d["points_spent"],
                "net": d["points_granted"] - d["points_spent"],
            }
            for d in days
        ]
        granted, spent = sum(r["granted"] for r in rows), sum(r["spent"] for r in rows)
        return {"totals": {"granted": granted, "spent": spent, "net": granted - spent}, "rows": rows}

    async def _experiment(self, activity: Activity, rollup: Rollup, metric: str = "win") -> Report:
        return await experiment_report(activity, rollup, metric)


def _budget(lottery: Any, cost_cents: int) -> dict[str, Any]:
    """Cost so far against the lottery's declared budget (`budget_cny`, when its spec has one;
    null otherwise): what is left and the share used."""
    budget = getattr(lottery, "budget_cny", None) if lottery is not None else None
    if budget is None:
        return {"budget_cny": None, "budget_left_cny": None, "budget_used": None}
    budget_cents = int(Decimal(budget) * 100)
    return {
        "budget_cny": cny(budget_cents),
        "budget_left_cny": cny(budget_cents - cost_cents),
        "budget_used": ratio(cost_cents, budget_cents),
    }


def _share(row: dict[str, Any], by: str) -> dict[str, Any]:
    return {
        by: row[by],
        "participants": row["first_timers"],
        "participant_days": row["participants"],
        "actions": row["actions"],
        "wins": row["wins"],
        "cost_cny": cny(row["cost_cents"]),
    }
