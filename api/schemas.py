"""What the API sends back about activities: the view every gameplay shares, completed by each
gameplay's own section (its `Gameplay.view`), and the body of the operators' create route."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from activities import drafts
from activities.experiment import Experiment, variant_of
from activities.model import Activity, Audience, Status
from api.gameplays import GAMEPLAY_BY_TYPE, GAMEPLAYS, SPECS_BY_TYPE

if TYPE_CHECKING:
    from api.platform import Platform

_SHARED: list[tuple[str, Any] | tuple[str, Any, Any]] = [
    ("id", int),
    ("type", Literal[tuple(SPECS_BY_TYPE)]),  # every registered gameplay's types
    ("name", str),
    ("status", Status),
    ("skin", str | None),
    ("starts_at", datetime),
    ("ends_at", datetime),
    ("timezone", str),
    ("audience", Audience),
    ("experiment", Experiment | None, None),  # operators: the A/B variants declared
    ("variant", str | None, None),  # players sending a token: their A/B variant (the odds shown are its)
]

# One struct for every gameplay's activities (the OpenAPI document shows every field): the shared
# fields, then each gameplay's section, whose fields take their defaults on other gameplays' activities.
if TYPE_CHECKING:

    class ActivityView(msgspec.Struct):  # what type checkers see: the fields are made below
        def __init__(self, **fields: Any) -> None: ...

else:
    ActivityView = msgspec.defstruct(
        "ActivityView",
        [*_SHARED, *(f for gameplay in GAMEPLAYS if gameplay.view for f in gameplay.view.fields)],
        module=__name__,
    )


async def activity_view(
    platform: Platform, activity: Activity, *, operator: bool, member: str | None = None
) -> ActivityView:
    """The activity as players (`operator=False`) or operators see it, times in its time zone,
    with its gameplay's section (read first by the gameplay's service when it has a `load`); as
    `member`'s A/B variant sees it (its odds) when the activity runs an experiment."""
    variant = variant_of(activity, member) if member is not None and not operator else ""
    tz = activity.tz
    gameplay = GAMEPLAY_BY_TYPE.get(activity.type)
    section = gameplay.view if gameplay else None
    if gameplay and section and section.load:
        activity = await section.load(platform.services[gameplay.name], activity, operator)
    if variant and section and section.variant:
        activity = section.variant(activity, variant)
    return ActivityView(
        id=activity.id,
        type=activity.type,
        name=activity.name,
        status=activity.status,
        skin=activity.skin,
        starts_at=activity.starts_at.astimezone(tz),
        ends_at=activity.ends_at.astimezone(tz),
        timezone=activity.timezone,
        audience=activity.audience,
        experiment=activity.experiment if operator else None,
        variant=variant or None,
        **(section.read(activity, operator) if section else {}),
    )


async def spec_of(platform: Platform, activity: Activity) -> dict[str, Any]:
    """The activity as its gameplay's create body (to edit, clone or save as a template)."""
    gameplay = GAMEPLAY_BY_TYPE[activity.type]
    section = gameplay.view
    loaded = await section.load(platform.services[gameplay.name], activity, True) if section and section.load else None
    return drafts.spec_dict(activity, gameplay.spec, loaded)


def spec_type(activity_type: str) -> type[Any] | None:
    """What an operator sends to create an activity of that type (None: no such type)."""
    return SPECS_BY_TYPE.get(activity_type)
