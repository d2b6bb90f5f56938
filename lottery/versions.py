"""Config versions of a lottery (issue 18): the pure rules.

A lottery's odds and prize values are versioned. Creating and editing a draft write versions;
publishing freezes the latest one (effective from the publication). A live change to the odds or
the prize values is a new frozen version that takes effect at a stated future time, disclosed in
the public view from the moment it is made: never retroactively. The prize table in SQL (and the
`prizes` field of the Redis state) stays the version frozen at publication; later versions are
kept beside it and applied by time: the version of a draw is the last one whose time had come at
the draw's time, so it is a function of the draw's time alone (draw.lua picks it the same way,
atomically, from the state hash's `next_versions`).

Stock additions and a later end time are not versions (they change no odds): they are logged.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated

import msgspec

from activities.errors import invalid
from activities.model import MAX_SAFE_INT, AwareDatetime, NonNegative, Positive, ShortText
from lottery.model import (
    MAX_TOTAL_WEIGHT,
    TOP_PRIZE_MAX_CNY,
    ConfigVersion,
    Limits,
    Lottery,
    Prize,
    PrizeTerms,
    variant_lottery,
)


class PrizeChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A prize's new terms in a new version (fields left out keep their value)."""

    id: Annotated[int, msgspec.Meta(ge=1, le=MAX_SAFE_INT)]
    weight: NonNegative | None = None
    value_cny: Decimal | None = None
    points: Positive | None = None


class NewVersion(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A live change of a lottery's odds, prize values or limits, effective at a future time."""

    effective_at: AwareDatetime
    prizes: Annotated[list[PrizeChange], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    limits: Limits | None = None  # the limits from then on, whole (a field left out: no limit)
    note: ShortText | None = None

    def __post_init__(self) -> None:
        from activities.model import check_time

        check_time(self.effective_at, "effective_at")


def terms_of(prizes: list[Prize]) -> list[PrizeTerms]:
    return [PrizeTerms(id=p.id, name=p.name, weight=p.weight, value_cny=p.value_cny, points=p.points) for p in prizes]


def version_at(lottery: Lottery, at_ms: int) -> ConfigVersion | None:
    """The later version in effect at `at_ms` (None: the version frozen at publication)."""
    found = None
    for version in lottery.later_versions:
        if version.effective_at_ms <= at_ms:
            found = version
    return found


def number_at(lottery: Lottery, at_ms: int) -> int:
    version = version_at(lottery, at_ms)
    return lottery.config_version if version is None else version.version


def with_terms(lottery: Lottery, version: ConfigVersion) -> Lottery:
    terms = {t.id: t for t in version.prizes}
    prizes = [
        msgspec.structs.replace(p, weight=t.weight, value_cny=t.value_cny, points=t.points)
        if (t := terms.get(p.id)) is not None
        else p
        for p in lottery.prizes
    ]
    limits = lottery.limits if version.limits is None else version.limits
    return msgspec.structs.replace(lottery, prizes=prizes, limits=limits, config_version=version.version)


def lottery_at(lottery: Lottery, at_ms: int) -> Lottery:
    """The lottery as it stood at `at_ms`: the odds and values of the version in effect then."""
    if not lottery.later_versions:
        return lottery
    version = version_at(lottery, at_ms)
    return lottery if version is None else with_terms(lottery, version)


def all_versions(lottery: Lottery, published_at_ms: int) -> list[ConfigVersion]:
    """Every frozen version, the one frozen at publication first."""
    base = ConfigVersion(
        version=lottery.config_version, effective_at_ms=published_at_ms, prizes=terms_of(lottery.prizes)
    )
    return [base, *lottery.later_versions]


def next_versions_field(lottery: Lottery) -> str:
    """The state hash's `next_versions`: each later version's number, time and weights in the
    prize table's order (draw.lua applies the last one whose time has come)."""
    table = []
    for version in lottery.later_versions:
        weights = {t.id: t.weight for t in version.prizes}
        limits = version.limits or lottery.limits
        table.append(
            {
                "v": version.version,
                "at": version.effective_at_ms,
                "w": [weights.get(p.id, p.weight) for p in lottery.prizes],
                "l": [limits.per_user_daily or 0, limits.per_user_total or 0, limits.global_daily or 0],
            }
        )
    return json.dumps(table, separators=(",", ":"))


def changed(lottery: Lottery, change: NewVersion, now_ms: int) -> tuple[list[PrizeTerms], Limits]:
    """The prize terms and limits of the version `change` makes, on top of the latest version
    (validated whole: a 422 naming the first broken rule)."""
    if not change.prizes and change.limits is None:
        raise invalid("version_empty", "a new version changes prizes or limits", field="prizes")
    effective_ms = int(change.effective_at.timestamp() * 1000)
    if effective_ms <= now_ms:
        raise invalid(
            "effective_at_not_future",
            "a new version takes effect at a future time (odds never change retroactively)",
            field="effective_at",
        )
    latest = lottery.later_versions[-1] if lottery.later_versions else None
    if latest is not None and effective_ms <= latest.effective_at_ms:
        raise invalid(
            "effective_at_not_after_latest",
            "a new version takes effect after the latest one already announced",
            field="effective_at",
        )
    current = {t.id: t for t in (latest.prizes if latest else terms_of(lottery.prizes))}
    kinds = {p.id: p.type for p in lottery.prizes}
    seen: set[int] = set()
    for index, item in enumerate(change.prizes):
        field = f"prizes[{index}]"
        if item.id not in current or item.id in seen:
            raise invalid(
                "prize_not_in_activity", f"prize {item.id} is not a prize of this activity (or repeated)", field=field
            )
        seen.add(item.id)
        terms = current[item.id]
        if item.weight is not None:
            terms = msgspec.structs.replace(terms, weight=item.weight)
        if item.value_cny is not None:
            if not item.value_cny.is_finite() or item.value_cny < 0:
                raise invalid(
                    "prize_value_invalid", "value_cny must be a non-negative amount", field=f"{field}.value_cny"
                )
            if item.value_cny > TOP_PRIZE_MAX_CNY:
                raise invalid(
                    "prize_value_too_high",
                    f"a prize is worth at most {TOP_PRIZE_MAX_CNY} CNY",
                    field=f"{field}.value_cny",
                )
            terms = msgspec.structs.replace(terms, value_cny=item.value_cny.quantize(Decimal("0.01")))
        if item.points is not None:
            if kinds[item.id] != "points":
                raise invalid(
                    "points_amount_mismatch", 'only a "points" prize has a points amount', field=f"{field}.points"
                )
            terms = msgspec.structs.replace(terms, points=item.points)
        current[item.id] = terms
    prizes = [current[p.id] for p in lottery.prizes]
    total = sum(t.weight for t in prizes)
    if total == 0:
        raise invalid("weights_all_zero", "at least one prize needs a positive weight", field="prizes")
    if total > MAX_TOTAL_WEIGHT:
        raise invalid("weights_too_large", f"the weights must add up to at most {MAX_TOTAL_WEIGHT}", field="prizes")
    limits = change.limits or (latest.limits if latest is not None and latest.limits else lottery.limits)
    for index, prize in enumerate(lottery.prizes):
        if prize.unlock_after_draws and limits.per_user_total and prize.unlock_after_draws > limits.per_user_total:
            raise invalid(
                "unlock_beyond_total_limit",
                f"prize {prize.name!r} unlocks after more draws than the total limit allows",
                field=f"limits.per_user_total (prizes[{index}])",
            )
    return prizes, limits


def played_at(lottery: Lottery, variant: str, at_ms: int) -> Lottery:
    """The lottery as a member of the A/B `variant` played it at `at_ms`: the version in effect
    then, with the variant's own overrides (odds, reward values) on top, as in draw.lua."""
    return variant_lottery(lottery_at(lottery, at_ms), variant)


def draw_table(lottery: Lottery, variant: str, at_ms: int) -> tuple[int, int, str]:
    """(config version, total weight, draw.lua's ARGV[11]) of a draw at `at_ms` by a member of
    the A/B `variant` of `lottery` (as published: no variant applied). A variant's own weights
    replace the version's (sent as ARGV[11]); otherwise the version's apply (draw.lua has them)."""
    played = played_at(lottery, variant, at_ms)
    total = sum(p.weight for p in played.prizes)
    experiment = lottery.experiment
    overrides = experiment.variant(variant).overrides.weights if variant and experiment is not None else None
    weights = ",".join(str(p.weight) for p in played.prizes) if overrides is not None else ""
    return number_at(lottery, at_ms), total, weights
