"""An initiative as both Redis and SQL tell it, and the conversions between them and the views:
the hash start.lua and help.lua keep, the audit trail's rows, amounts in CNY. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from activities.clock import from_ms
from activities.model import Activity
from assist import bargain
from assist.model import AssistRules
from assist.repository import HelpRow, InitiativeRow
from assist.schemas import HelperView, InitiativeView, ProgressView


@dataclass(frozen=True)
class Help:
    helper: str
    number: int
    cut_cents: int | None
    at_ms: int


@dataclass(frozen=True)
class Initiative:
    """An initiative as both Redis and SQL can tell it."""

    initiative_id: str
    initiator: str
    status: str  # open | completed | expired
    needed: int
    started_ms: int
    deadline_ms: int
    helps: list[Help]
    cuts: list[int]  # bargain; [] otherwise
    floor_cents: int | None

    @property
    def price_cents(self) -> int | None:
        if self.floor_cents is None:
            return None
        return self.floor_cents + sum(self.cuts) - sum(h.cut_cents or 0 for h in self.helps)


def from_redis(initiative_id: str, fields: dict[str, str]) -> Initiative:
    helps = []
    for name, value in fields.items():
        if name.startswith("h:"):
            number, cut, at_ms = value.split()
            helps.append(Help(name[2:], int(number), None if cut == "-" else int(cut), int(at_ms)))
    return Initiative(
        initiative_id=initiative_id,
        initiator=fields["initiator"],
        status=fields["status"],
        needed=int(fields["needed"]),
        started_ms=int(fields["started_ms"]),
        deadline_ms=int(fields["deadline_ms"]),
        helps=sorted(helps, key=lambda h: h.number),
        cuts=[int(c) for c in fields["cuts"].split(",")] if fields.get("cuts") else [],
        floor_cents=int_or_none(fields.get("floor", "")),
    )


def from_sql(row: InitiativeRow, outcome: str | None, helps: list[HelpRow]) -> Initiative:
    return Initiative(
        initiative_id=row.initiative_id,
        initiator=row.initiator,
        status=outcome or "open",
        needed=row.needed,
        started_ms=row.started_at_ms,
        deadline_ms=row.deadline_ms,
        helps=[Help(h.helper, h.number, h.cut_cents, h.at_ms) for h in sorted(helps, key=lambda h: h.number)],
        cuts=[int(c) for c in row.cuts.split(",")] if row.cuts else [],
        floor_cents=row.floor_cents,
    )


def redis_fields(found: Initiative) -> dict[str, str | int]:
    """The hash start.lua and help.lua keep for an open initiative."""
    fields: dict[str, str | int] = {
        "initiator": found.initiator,
        "status": found.status,
        "needed": found.needed,
        "helps": len(found.helps),
        "started_ms": found.started_ms,
        "deadline_ms": found.deadline_ms,
        "price": "" if found.price_cents is None else found.price_cents,
        "floor": "" if found.floor_cents is None else found.floor_cents,
        "cuts": ",".join(map(str, found.cuts)),
    }
    for h in found.helps:
        fields[f"h:{h.helper}"] = f"{h.number} {'-' if h.cut_cents is None else h.cut_cents} {h.at_ms}"
    return fields


def initiative_view(
    activity: Activity,
    rules: AssistRules,
    found: Initiative,
    share_token: str,
    *,
    with_helpers: bool,
    replayed: bool = False,
) -> InitiativeView:
    """The initiative as its initiator (and operators) see it; `with_helpers`: who helped."""
    tz = activity.tz
    price, floor = found.price_cents, found.floor_cents
    return InitiativeView(
        initiative_id=found.initiative_id,
        activity_id=activity.id,
        kind=rules.kind,
        status=found.status,
        initiator=found.initiator,
        share_token=share_token,
        helps=len(found.helps),
        needed=found.needed,
        started_at=from_ms(found.started_ms, tz),
        deadline=from_ms(found.deadline_ms, tz),
        reward=rules.reward_name,
        price_cny=cny(price),
        floor_cny=cny(floor),
        original_price_cny=cny(None if floor is None else floor + sum(found.cuts)),
        helpers=[HelperView(h.helper, h.number, cny(h.cut_cents), from_ms(h.at_ms, tz)) for h in found.helps]
        if with_helpers
        else None,
        replayed=replayed,
    )


def progress_view(activity: Activity, rules: AssistRules, found: Initiative) -> ProgressView:
    """What anyone with the share link sees: no helpers, the initiator masked."""
    price, floor = found.price_cents, found.floor_cents
    return ProgressView(
        initiative_id=found.initiative_id,
        activity_id=activity.id,
        activity_name=activity.name,
        kind=rules.kind,
        status=found.status,
        initiator=masked(found.initiator),
        helps=len(found.helps),
        needed=found.needed,
        deadline=from_ms(found.deadline_ms, activity.tz),
        reward=rules.reward_name,
        price_cny=cny(price),
        floor_cny=cny(floor),
        original_price_cny=cny(None if floor is None else floor + sum(found.cuts)),
    )


def cny(cents: int | None) -> str | None:
    return None if cents is None else f"{bargain.from_cents(cents):.2f}"


def int_or_none(text: str) -> int | None:
    return int(text) if text else None


def masked(member_id: str) -> str:
    """What a friend sees of the initiator's member id."""
    return member_id[:1] + "***" + member_id[-1:] if len(member_id) > 2 else "***"
