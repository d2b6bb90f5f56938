"""The contract between the platform and a gameplay: what a gameplay package gives (`Gameplay`),
what the platform gives it (`Kernel`), and what its service must answer (`GameplayService`).

A gameplay package (lottery/, checkin/, assist/, reservation/...) exports one `Gameplay` in its
`gameplay.py`; the registry (`api/gameplays.py`) lists them, and the platform, the operator
routes, the activity view, the audit writer, the sweeps, the reconciler, the OpenAPI document
and the migrations loop over that list. The kernel (this package) imports no gameplay: a new
gameplay is one folder, one line in the registry and its migration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec
import sqlalchemy as sa

from activities.audit_rows import EventHandler
from activities.model import Activity, ActivityBase

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    from sqlalchemy.ext.asyncio import AsyncEngine

    from activities.auth import Tokens
    from activities.clock import Clock
    from activities.config import Settings
    from activities.points import PointsService
    from activities.repository import ActivityRepository
    from activities.scripts import ScriptBatcher
    from activities.service import ActivityService

S = TypeVar("S")


class GameplayService(Protocol):
    """What the platform asks of a gameplay's service, whatever the gameplay."""

    async def create(self, spec: Any, operator_id: str) -> Activity:
        """A draft activity from the operator's spec (already decoded as `Gameplay.spec`):
        validate what the schema cannot say, then write it in one transaction."""

    async def check_publishable(self, activity: Activity) -> None:
        """Raise a PromoError if the activity cannot go live yet."""

    async def load(self, activity: Activity) -> None:
        """Rebuild the activity's live state in Redis from SQL unless Redis has it (with
        `load_once`, whose AuditBacklog the kernel turns into a 503), failing closed after a
        loss (`ActivityService.recoveries`)."""

    async def release_held(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        """Give back units a fail-closed rebuild held back on `counter` (its store's release)."""

    async def counters(self, activity: Activity) -> msgspec.Struct:
        """Live counters from Redis beside what the SQL audit trail holds (operators' view)."""

    def audit_handlers(self) -> Mapping[str, EventHandler]:
        """Stream event type -> the rows the audit writer writes for it."""

    async def sweep(self) -> int:
        """Close what ran out of time (initiatives past their deadline...); how many."""

    async def reconcile(self) -> int:
        """Complete or undo what lost replies left half done; how many."""


@dataclass(frozen=True)
class ViewSection:
    """The gameplay's own part of an activity's view (`GET /activities/{id}`): the fields it adds
    (name, type, default: what other gameplays' activities show), filled by `read` for its own
    activities (`operator`: the back office's view, which may show more). A gameplay that keeps
    more than the kernel's `Activity` (a lottery's prizes, in its own tables) reads it first with
    `load(its service, activity, operator)`, whose answer `read` then gets."""

    fields: Sequence[tuple[str, Any, Any]]
    read: Callable[[Activity, bool], Mapping[str, Any]]
    load: Callable[[GameplayService, Activity, bool], Awaitable[Activity]] | None = None
    # The (loaded) activity as a member of an A/B variant sees it (activities/experiment.py).
    variant: Callable[[Activity, str], Activity] | None = None


@dataclass(frozen=True)
class Gameplay:
    """Everything the platform needs from a gameplay package."""

    name: str  # "lottery": metrics labels, the OpenAPI tag, the key of its service
    types: tuple[str, ...]  # the activity types it runs ("wheel", "blind_box"...)
    spec: type[ActivityBase]  # what an operator sends to create one (decoded strictly)
    build: Callable[[Kernel], GameplayService]  # its service, from the kernel's
    counters: type[msgspec.Struct]  # what `GameplayService.counters` answers
    summary: str  # one line for the docs (the OpenAPI tag's description)
    # Its Litestar controllers and route handlers, imported when the app is built (the routes
    # import the API's shared views, which are built from the registry).
    routes: Callable[[], Sequence[Any]] = tuple
    tables: Sequence[sa.Table] = ()  # its SQL tables (on the kernel's metadata)
    audit_ids: Mapping[str, sa.Column[Any]] = field(default_factory=dict)  # kind -> audit trail column
    view: ViewSection | None = None
    example: Mapping[str, Any] | None = None  # a spec that works, for the docs and the fuzzer
    # The back office's member lookup (issue 13): the member's records in this gameplay, JSON-ready.
    member: Callable[[AsyncEngine, str], Awaitable[Any]] | None = None


@dataclass
class Kernel:
    """What the platform gives a gameplay's `build`: the shared services and connections, and
    the services of the gameplays registered before it (a sign-in's rewards draw on a lottery)."""

    settings: Settings
    redis: aioredis.Redis
    engine: AsyncEngine
    batcher: ScriptBatcher
    clock: Clock
    tokens: Tokens
    repository: ActivityRepository
    activities: ActivityService
    points: PointsService
    built: dict[str, GameplayService] = field(default_factory=dict)

    def service(self, kind: type[S]) -> S:
        """The built service of that class (registered earlier in the list)."""
        for service in self.built.values():
            if isinstance(service, kind):
                return service
        raise LookupError(f"no gameplay service {kind.__name__} registered before this one")


def by_type(gameplays: Sequence[Gameplay]) -> dict[str, Gameplay]:
    """Activity type -> its gameplay; a type claimed twice is a programming error."""
    found: dict[str, Gameplay] = {}
    for gameplay in gameplays:
        for activity_type in gameplay.types:
            if activity_type in found:
                raise ValueError(
                    f"activity type {activity_type!r} claimed by {found[activity_type].name} and {gameplay.name}"
                )
            found[activity_type] = gameplay
    return found
