"""Operator use cases on activities, the activity cache of the hot path, and rebuilding the live
Redis state from SQL.

Every gameplay registers its service (`activities.gameplay.GameplayService`) for its activity
types: the service asks it whether an activity may be published and has it load the activity's
live state (each gameplay's rebuild, stock and counters live in its own package).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from functools import partial
from typing import Any, Protocol, TypeVar

import msgspec
import sqlalchemy as sa

from activities import drafts, listing
from activities.auth import Identity
from activities.clock import Clock
from activities.config import idempotency_ttl_s
from activities.errors import Kind, OutcomeUnknown, PromoError, conflict, not_found
from activities.gameplay import GameplayService
from activities.model import PUBLISHED_STATUSES, TRANSITIONS, Activity, ActivityBase, AudienceLists
from activities.pages import Page, cut, decode_cursor
from activities.recovery import Recoveries, Recovery, Resolution
from activities.repository import ActivityRepository, WriteRows
from activities.store import ActivityStore, AuditBacklog, RebuildInProgress

log = logging.getLogger("promo.activities")

_CACHE_TTL_S = 1.0
FROZEN = float("inf")  # a cache age for what cannot change after publishing (all but the status)

IDEMPOTENCY_TTL_S = idempotency_ttl_s()  # PROMO_IDEMPOTENCY_TTL_S, a day by default
REFERENCE_TTL_S = 7 * 24 * 3600  # how long a grant or a credit remembers its reference in Redis
DAY_KEY_GRACE_MS = 24 * 3600 * 1000  # day counters outlive their day by one day, for reporting


_LOAD_ATTEMPTS = 3
LOAD_WAIT_S = 3.0  # how long a request waits for its activity's rebuild before a 503
RETRY_AFTER_S = 1  # what a 503 activity_loading tells the client to wait


def loading_error(message: str = "the activity is loading; retry shortly") -> PromoError:
    return PromoError(Kind.UNAVAILABLE, "activity_loading", message, retry_after_s=RETRY_AFTER_S)


class ScriptReply(Protocol):
    @property
    def kind(self) -> str: ...  # "not_loaded" when Redis has no state for the activity


R = TypeVar("R", bound=ScriptReply)
S = TypeVar("S")


def check_audience(activity: Activity, member: Identity) -> None:
    """The audience's levels and tags (the token's); `ActivityService.admit` checks the lists too."""
    if not activity.audience.admits(member.level, list(member.tags)):
        raise PromoError(Kind.FORBIDDEN, "audience_not_allowed", "this activity is not open to your membership")


class ListMembership(Protocol):
    """Operators' audience lists (lists/service.py), as the kernel needs them."""

    async def check(self, lists: AudienceLists, member_id: str) -> None:
        """Raise 403 `audience_not_in_list` / `audience_excluded` unless the member qualifies."""

    async def validate(self, lists: AudienceLists) -> None:
        """Raise 422 unless every list exists and is of the right kind (allow / deny)."""


class ActivityService:
    def __init__(self, repository: ActivityRepository, store: ActivityStore, clock: Clock) -> None:
        self.repository = repository
        self.store = store
        self.clock = clock
        self._cache: dict[int, tuple[float, Activity]] = {}
        self._loading: dict[int, asyncio.Future[Activity]] = {}
        self._gameplays: dict[str, GameplayService] = {}
        self._settings: dict[tuple[int, type[Any]], Any] = {}
        self._rebuilds: dict[int, asyncio.Future[None]] = {}
        self.recoveries = Recoveries(repository.engine, clock)
        self.lists: ListMembership | None = None  # audience lists (set by the platform: lists/)

    def register(self, activity_type: str, gameplay: GameplayService) -> None:
        self._gameplays[activity_type] = gameplay

    async def admit(self, activity: Activity, member: Identity) -> None:
        """403 unless the activity's audience admits the member: levels and tags (the token's),
        then the audience lists (one SMISMEMBER per list: `lists/store.py`)."""
        check_audience(activity, member)
        lists = activity.audience.lists
        if lists is not None and self.lists is not None and (lists.require or lists.exclude):
            await self.lists.check(lists, member.subject)

    async def check_excluded(self, activity: Activity, member_id: str) -> None:
        """403 `audience_excluded` if the member is on one of the audience's deny lists: for
        those an action concerns who are not its audience (a friend's assist)."""
        lists = activity.audience.lists
        if lists is not None and self.lists is not None and lists.exclude:
            await self.lists.check(AudienceLists(exclude=lists.exclude), member_id)

    async def in_lists(self, activity: Activity, member_id: str) -> bool:
        """Whether the audience's lists admit the member (levels and tags aside): for members
        known by their id only (a member's event from the brand's systems)."""
        lists = activity.audience.lists
        if lists is None or self.lists is None or not (lists.require or lists.exclude):
            return True
        try:
            await self.lists.check(lists, member_id)
        except PromoError as error:
            if error.kind is Kind.FORBIDDEN:
                return False
            raise
        return True

    # --- reading -------------------------------------------------------------------------------

    async def get(self, activity_id: int) -> Activity:
        activity = await self.repository.get(activity_id)
        if activity is None:
            raise not_found("activity_not_found", f"no activity {activity_id}")
        return activity

    async def list_page(
        self, limit: int, cursor: str | None = None, where: list[sa.ColumnElement[bool]] | None = None
    ) -> Page[Activity]:
        """Activities, newest first, a page at a time (activities/pages.py), matching `where`
        (activities/drafts.py: filters); one whose stored row cannot be read is left out (and
        logged) rather than failing the whole list."""
        after = decode_cursor(cursor, (int,))
        if where:
            below = int(after[0]) if after else None
            ids = await drafts.filtered_ids(self.repository.engine, where, limit + 1, below)
        else:
            ids = await listing.activity_ids(self.repository.engine, limit + 1, after)
        kept, next_cursor = cut(ids, limit, lambda activity_id: (activity_id,))
        found = []
        for activity_id in kept:
            try:
                found.append(await self.get(activity_id))
            except (ValueError, OverflowError, TypeError, msgspec.ValidationError) as exc:
                log.error("activity %d cannot be read, left out of the list: %s", activity_id, exc)
        return Page(items=found, next_cursor=next_cursor)

    async def get_published(self, activity_id: int, max_age_s: float = _CACHE_TTL_S) -> Activity:
        """The activity as players see it, from a cache at most `max_age_s` old. Drafts do not
        exist for players.

        Only the status can change after publishing (prizes, odds, audience and window are
        frozen), and the draw script checks the status in Redis, so the draw path accepts a
        cached copy of any age. One query refreshes an entry however many requests want it.
        """
        cached = self._cache.get(activity_id)
        if cached is not None and time.monotonic() - cached[0] < max_age_s:
            return cached[1]
        loading = self._loading.get(activity_id)
        if loading is None:
            loading = asyncio.ensure_future(self._fetch_published(activity_id))
            self._loading[activity_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(activity_id, None))
        return await asyncio.shield(loading)

    async def published(self, activity_id: int, types: Collection[str], what: str) -> Activity:
        """A published activity of one of `types` (`what` names them in the error), from the
        cache: what a gameplay reads of it cannot change after publishing, and its scripts
        check the status in Redis."""
        activity = await self.get_published(activity_id, max_age_s=FROZEN)
        if activity.type not in types:
            raise PromoError(
                Kind.CONFLICT, "wrong_activity_type", f"activity {activity_id} is a {activity.type}, not {what}"
            )
        return activity

    def settings(self, activity: Activity, shape: type[S]) -> S:
        """A gameplay's settings of an activity (its `config` as `shape`), decoded once: they
        cannot change after publishing."""
        key = (activity.id, shape)
        found = self._settings.get(key)
        if found is None:
            found = self._settings[key] = msgspec.convert(activity.config, shape)
        settings: S = found
        return settings

    async def _fetch_published(self, activity_id: int) -> Activity:
        activity = await self.repository.get(activity_id)
        if activity is None or activity.status == "draft":
            raise not_found("activity_not_found", f"no activity {activity_id}")
        self._cache[activity_id] = (time.monotonic(), activity)
        return activity

    # --- operator changes ------------------------------------------------------------------------

    async def create_draft(
        self,
        spec: ActivityBase,
        type_: str,
        operator_id: str,
        config: dict[str, Any] | None = None,
        *,
        columns: dict[str, Any] | None = None,
        write: WriteRows | None = None,
    ) -> Activity:
        """A draft activity of any gameplay; the caller has validated `spec` and `config` (and its
        own `columns` and rows `write` writes in the same transaction: activities/repository.py).
        While a draft is being edited (activities/drafts.py: EDITING), that draft is replaced instead."""
        if spec.audience.lists is not None and self.lists is not None:
            await self.lists.validate(spec.audience.lists)
        editing = drafts.EDITING.get()
        now_ms = self.clock.now_ms()
        if editing is not None:
            await drafts.replace(
                self.repository.engine, editing, spec, type_, operator_id, now_ms, config, columns=columns, write=write
            )
            for key in [k for k in self._settings if k[0] == editing]:
                del self._settings[key]
            return await self.get(editing)
        activity_id = await self.repository.create(
            spec, type_, operator_id, now_ms, config, columns=columns, write=write
        )
        return await self.get(activity_id)

    async def transition(self, activity_id: int, action: str, operator_id: str) -> Activity:
        allowed_from, target = TRANSITIONS[action]
        activity = await self.get(activity_id)
        gameplay = self._gameplays.get(activity.type)
        if action == "publish" and gameplay is not None and activity.status in allowed_from:
            await gameplay.check_publishable(activity)
        changed = await self.repository.set_status(
            activity_id, sorted(allowed_from), target, operator_id, self.clock.now_ms()
        )
        if not changed:
            raise conflict(
                "invalid_transition",
                f"cannot {action} an activity that is {activity.status}",
                status=activity.status,
            )
        self._cache.pop(activity_id, None)
        if action == "publish":
            if stale := await self.store.purge(activity_id):
                log.warning("activity %d: removed %d stale Redis keys before publishing", activity_id, stale)
            await self.ensure_loaded(activity_id)
        else:
            await self.store.set_status(activity_id, target, activity.buckets)
        return await self.get(activity_id)

    def forget(self, activity_id: int) -> None:
        """Drop this process's cached copy (an operator changed the activity's window)."""
        self._cache.pop(activity_id, None)

    # --- live state ------------------------------------------------------------------------------

    async def ensure_loaded(self, activity_id: int) -> None:
        """Rebuild the activity's Redis state from SQL if Redis has none (fresh or flushed Redis).

        One rebuild per activity at a time in this process (the others wait for it, at most
        LOAD_WAIT_S, then get a 503 `activity_loading` with Retry-After); across processes the
        store's lock does the same."""
        flight = self._rebuilds.get(activity_id)
        if flight is None:
            flight = asyncio.ensure_future(self._rebuild(activity_id))
            self._rebuilds[activity_id] = flight
            flight.add_done_callback(partial(_forget, self._rebuilds, activity_id))
        try:
            await asyncio.wait_for(asyncio.shield(flight), timeout=LOAD_WAIT_S)
        except TimeoutError as exc:
            raise loading_error() from exc

    async def _rebuild(self, activity_id: int) -> None:
        activity = await self.get(activity_id)
        if activity.status == "draft":
            raise PromoError(Kind.CONFLICT, "activity_not_live", "the activity is not published")
        gameplay = self._gameplay(activity)
        deadline = time.monotonic() + LOAD_WAIT_S
        while True:
            try:
                await gameplay.load(activity)
                return
            except RebuildInProgress as exc:  # another process rebuilds it: wait for its state
                if time.monotonic() > deadline:
                    raise loading_error() from exc
                await asyncio.sleep(0.05)
                if await self.store.loaded(activity_id):
                    return
            except AuditBacklog as exc:
                raise loading_error("the activity is being restored; retry shortly") from exc

    async def recovery(self, activity_id: int) -> Recovery | None:
        """The activity's latest fail-closed rebuild (open: the activity is recovering)."""
        await self.get(activity_id)
        return await self.recoveries.latest(activity_id)

    async def resolve_recovery(self, activity_id: int, resolution: Resolution, operator_id: str) -> Recovery:
        """An operator confirms or corrects the units a fail-closed rebuild held back; what is
        no longer held goes back to the live counters (if Redis still holds that load)."""
        activity = await self.get(activity_id)
        release = partial(self._gameplay(activity).release_held, activity_id)
        return await self.recoveries.resolve(activity_id, resolution, operator_id, release)

    def _gameplay(self, activity: Activity) -> GameplayService:
        gameplay = self._gameplays.get(activity.type)
        if gameplay is None:  # a row of a gameplay this build does not run
            raise PromoError(Kind.CONFLICT, "wrong_activity_type", f"no gameplay runs {activity.type} activities")
        return gameplay

    async def load_if_missing(self, activity_id: int) -> None:
        """Rebuild the activity's state from SQL if Redis does not hold it (before a read)."""
        if not await self.store.loaded(activity_id):
            await self.ensure_loaded(activity_id)

    async def sweep(
        self, activity_type: str, close: Callable[[int, str, int], Awaitable[int]], limit: int = 1000
    ) -> int:
        """For every published activity of `activity_type`, `close(activity_id, item, now_ms)`
        each item of its deadlines set whose time has come (it answers how many things it closed:
        a bool, or a count for an item that stands for many). Returns how many it closed. Runs on
        a schedule (no timer per item); `close` must be safe to run twice (a script that checks
        first), so that several processes can sweep at once."""
        now_ms = self.clock.now_ms()
        closed = 0
        for activity_id in await self.repository.list_ids(PUBLISHED_STATUSES, types=(activity_type,)):
            try:
                await self.load_if_missing(activity_id)
                for item in await self.store.due(activity_id, now_ms, limit):
                    closed += await close(activity_id, item, now_ms)
            except PromoError as error:  # being restored: the next pass will do it
                log.warning("sweep of activity %d skipped: %s", activity_id, error.message)
        return closed

    async def run_loaded(self, activity_id: int, call: Callable[[], Awaitable[R]], *, unknown: str) -> R:
        """Run a script of the activity; if Redis has no state for it (fresh or flushed Redis),
        rebuild the state from SQL and run the script again. If Redis does not answer, the
        script may or may not have run: a 503 `outcome_unknown` with the message `unknown`
        (which tells the caller how to learn the outcome)."""
        for _ in range(_LOAD_ATTEMPTS):
            try:
                reply = await call()
            except OutcomeUnknown as exc:
                raise PromoError(Kind.UNAVAILABLE, "outcome_unknown", unknown) from exc
            if reply.kind != "not_loaded":
                return reply
            await self.ensure_loaded(activity_id)
        raise loading_error()


def _forget(flights: dict[int, asyncio.Future[None]], activity_id: int, flight: asyncio.Future[None]) -> None:
    """Done callback of a rebuild: the next request may start another; its error is retrieved
    (every waiter may have given up)."""
    flights.pop(activity_id, None)
    if not flight.cancelled():
        flight.exception()
