"""The task centre: members' events count toward tasks (`on_events`, one progress script per
event and activity), members see their tasks and claim completed ones (one claim script per
claim, once per member, task and period), and the rewards are delivered once per reference
`task:<claim id>` (a replayed claim delivers again, harmlessly)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa

from activities.audit_rows import EventHandler, Row
from activities.auth import Identity, Tokens
from activities.clock import Clock, from_ms, to_ms
from activities.errors import Kind, PromoError, invalid, not_found, refusal
from activities.ids import new_id
from activities.keys import ActivityKeys
from activities.live import LiveActivities
from activities.model import Activity, validate_common
from activities.points import PointsService
from activities.rewards import ChancesReward, CouponReward, PointsReward, PrizeReward, Reward
from activities.service import ActivityService, loading_error
from activities.store import AuditStore
from event_gift.service import MemberEvent
from lottery.service import DrawService
from tasks import friends
from tasks.db import task_assists, task_claims, task_progress
from tasks.model import (
    ACTIVITY_TYPE,
    FRIEND_ASSIST,
    TaskSpec,
    TasksRules,
    TasksSpec,
    config_of,
    progress_of,
    validate_rules,
)
from tasks.periods import TaskPeriod, period_of
from tasks.schemas import AssistResult, ClaimResult, TaskList, TasksCounters, TaskView
from tasks.store import Step, TasksSnapshot, TasksStore

log = logging.getLogger("promo.tasks")
GRACE_MS = 24 * 3600 * 1000  # progress and claims stay in Redis a day after their period
_LIVE_REFRESH_S = 1.0
_REFUSALS = {"task_not_completed": (Kind.CONFLICT, "this task is not completed yet")}


class TasksService:
    def __init__(
        self,
        activities: ActivityService,
        store: TasksStore,
        draws: DrawService,
        points: PointsService,
        clock: Clock,
        tokens: Tokens | None = None,  # seals friend_assist tasks' share codes (tasks/friends.py)
    ) -> None:
        self.tokens = tokens
        self.activities = activities
        self.store = store
        self.draws = draws
        self.points = points
        self.clock = clock
        self._live = LiveActivities(activities, ACTIVITY_TYPE, _LIVE_REFRESH_S)

    # --- operators ---------------------------------------------------------------------------

    async def create(self, spec: TasksSpec, operator_id: str) -> Activity:
        validate_common(spec)
        validate_rules(spec.tasks)
        linked = spec.tasks.linked_lottery_id
        if linked is not None:
            lottery = await self.draws.find(linked)
            if lottery is None:
                raise invalid("linked_lottery_invalid", f"activity {linked} is not a lottery", field="tasks")
        return await self.activities.create_draft(spec, ACTIVITY_TYPE, operator_id, config_of(spec.tasks))

    async def check_publishable(self, activity: Activity) -> None:
        linked = self.rules(activity).linked_lottery_id
        if linked is not None and (await self.activities.get(linked)).status == "draft":
            raise PromoError(
                Kind.CONFLICT, "linked_lottery_not_published", f"publish the linked lottery {linked} first"
            )

    def rules(self, activity: Activity) -> TasksRules:
        return self.activities.settings(activity, TasksRules)

    def period(self, activity: Activity, task: TaskSpec, now_ms: int) -> TaskPeriod:
        return period_of(task.period, now_ms, activity.tz, to_ms(activity.starts_at), to_ms(activity.ends_at))

    async def counters(self, activity: Activity) -> TasksCounters:
        keys_loaded = await self.store.redis.exists(ActivityKeys(activity.id).state)
        async with self.activities.repository.engine.connect() as conn:
            progress = (
                await conn.execute(sa.select(sa.func.count()).where(task_progress.c.activity_id == activity.id))
            ).scalar_one()
            claims = (
                await conn.execute(sa.select(sa.func.count()).where(task_claims.c.activity_id == activity.id))
            ).scalar_one()
        return TasksCounters(
            activity_id=activity.id,
            status=activity.status,
            loaded=bool(keys_loaded),
            progress_in_sql=int(progress),
            claims_in_sql=int(claims),
            audit_backlog=await AuditStore(self.store.redis).backlog(ActivityKeys(activity.id).events),
            quarantined=await self.activities.repository.count_dead_letters(activity.id),
        )

    # --- members' events -----------------------------------------------------------------------

    async def on_events(self, events: Sequence[MemberEvent]) -> None:
        """Count each new event toward the live tasks it matches (one script per event and activity)."""
        live = await self._live_tasks()
        if not live or not events:
            return
        now_ms = self.clock.now_ms()
        counts = []
        for event in events:
            attributes: dict[str, Any] | None = None
            for activity, rules in live:
                if not any(task.event == event.type for task in rules.tasks):
                    continue
                if attributes is None:
                    attributes = msgspec.json.decode(event.attributes)
                steps = []
                for task in rules.tasks:
                    delta = progress_of(task, event.type, attributes)
                    if delta <= 0:
                        continue
                    # an event counts for the period it occurred in, while that period is current
                    period = self.period(activity, task, now_ms)
                    if period.start_ms <= event.occurred_ms < period.end_ms:
                        steps.append(Step(task.id, period.name, delta, period.end_ms + GRACE_MS - now_ms))
                if steps:
                    counts.append(self._count(activity, event.member_id, event.event_id, now_ms, steps))
        for outcome in await asyncio.gather(*counts, return_exceptions=True):  # coalesced by the batcher
            if isinstance(outcome, BaseException):
                log.error("an event was not counted toward tasks: %r", outcome)

    async def _count(self, activity: Activity, user_id: str, event_id: str, now_ms: int, steps: list[Step]) -> None:
        await self.activities.run_loaded(
            activity.id,
            lambda: self.store.progress(activity.id, user_id, event_id, now_ms, steps),
            unknown="the progress may or may not have been counted",
        )

    async def wants(self, event_type: str) -> bool:
        """Whether a live task counts events of this type (the platform's own actions are
        recorded as events only then: events/actions.py)."""
        return any(task.event == event_type for _, rules in await self._live_tasks() for task in rules.tasks)

    async def _live_tasks(self) -> list[tuple[Activity, TasksRules]]:
        return [(a, self.rules(a)) for a in await self._live.all()]

    # --- members ---------------------------------------------------------------------------------

    async def _tasks(self, player: Identity, activity_id: int) -> tuple[Activity, TasksRules]:
        activity = await self.activities.published(activity_id, (ACTIVITY_TYPE,), "a task centre")
        await self.activities.admit(activity, player)
        return activity, self.rules(activity)

    async def list(self, player: Identity, activity_id: int) -> TaskList:
        """The member's tasks with their progress in the current period."""
        activity, rules = await self._tasks(player, activity_id)
        now_ms = self.clock.now_ms()
        periods = [self.period(activity, task, now_ms) for task in rules.tasks]
        wanted = [(task.id, period.name) for task, period in zip(rules.tasks, periods, strict=True)]
        for _ in range(2):
            loaded, found = await self.store.member(activity.id, player.subject, wanted)
            if loaded:
                break
            await self.activities.ensure_loaded(activity.id)
        else:
            raise loading_error()
        items = []
        for task, period, (progress, claim) in zip(rules.tasks, periods, found, strict=True):
            items.append(
                TaskView(
                    id=task.id,
                    name=task.name,
                    period=task.period,
                    event=task.event,
                    measure=task.measure,
                    target=task.target,
                    progress=progress,
                    completed=progress >= task.target,
                    claimed=claim is not None,
                    reward=task.reward,
                    resets_at=None if task.period == "once" else from_ms(period.end_ms, activity.tz),
                    share_code=self._share_code(activity, task, player.subject),
                )
            )
        return TaskList(activity_id=activity.id, items=items)

    def _share_code(self, activity: Activity, task: TaskSpec, sharer: str) -> str | None:
        if task.event != FRIEND_ASSIST or self.tokens is None:
            return None
        return friends.share_code(self.tokens, activity.id, task.id, sharer)

    async def assist(self, friend: Identity, activity_id: int, task_id: str, share_code: str) -> AssistResult:
        """A friend's assist toward the sharer's friend_assist task (tasks/friends.py)."""
        return await friends.assist(self, friend, activity_id, task_id, share_code)

    async def claim(self, player: Identity, activity_id: int, task_id: str) -> ClaimResult:
        """Claim a completed task's reward; claiming again in the same period answers the same claim."""
        activity, rules = await self._tasks(player, activity_id)
        task = next((t for t in rules.tasks if t.id == task_id), None)
        if task is None:
            raise not_found("task_not_found", f"no task {task_id!r} in activity {activity_id}")
        now_ms = self.clock.now_ms()
        period = self.period(activity, task, now_ms)
        claim_id = new_id("tc", now_ms)
        reply = await self.activities.run_loaded(
            activity.id,
            lambda: self.store.claim(
                activity.id, player.subject, task.id, period.name, task.target, claim_id, now_ms,
                period.end_ms + GRACE_MS - now_ms,
            ),
            unknown="the claim may or may not have happened; send it again to learn the result",
        )  # fmt: skip
        if reply.kind == "refused":
            code = reply.values[0]
            if code == "task_not_completed":
                raise PromoError(
                    Kind.CONFLICT,
                    code,
                    "this task is not completed yet",
                    progress=int(reply.values[1]),
                    target=task.target,
                )
            raise refusal(code, None, _REFUSALS)
        claimed = reply.values[0]
        await self.deliver(activity, rules, player.subject, task.reward, claimed)
        return ClaimResult(claimed, activity.id, task.id, period.name, task.reward, reply.kind == "replay")

    async def deliver(self, activity: Activity, rules: TasksRules, user_id: str, reward: Reward, claim_id: str) -> None:
        ref = f"task:{claim_id}"
        if isinstance(reward, CouponReward):
            return  # issued by the brand's CRM from the audit trail (task_claims)
        if isinstance(reward, PointsReward):
            await self.points.credit(user_id, reward.points, ref, "task_reward", activity.id)
        elif isinstance(reward, ChancesReward):
            assert rules.linked_lottery_id is not None
            await self.draws.credit_chances(rules.linked_lottery_id, user_id, reward.chances, ref, "task_reward")
        elif isinstance(reward, PrizeReward):
            assert rules.linked_lottery_id is not None
            await self.draws.grant_prize(rules.linked_lottery_id, user_id, reward.prize_id, ref)

    # --- the kernel's questions -------------------------------------------------------------------

    async def load(self, activity: Activity) -> None:
        async def read() -> TasksSnapshot:
            return await self._snapshot(activity)

        await self.store.load(activity.id, read)

    async def _snapshot(self, activity: Activity) -> TasksSnapshot:
        now_ms = self.clock.now_ms()
        rules = self.rules(activity)
        snapshot = TasksSnapshot(
            state={
                "status": activity.status,
                "starts_at_ms": to_ms(activity.starts_at),
                "ends_at_ms": to_ms(activity.ends_at),
            }
        )
        current: dict[tuple[str, str], int] = {}
        for task in rules.tasks:
            period = self.period(activity, task, now_ms)
            current[(task.id, period.name)] = period.end_ms + GRACE_MS - now_ms
        snapshot.ttl_ms = current
        progress: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        claims: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        async with self.activities.repository.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(
                    task_progress.c.task_id,
                    task_progress.c.period,
                    task_progress.c.user_id,
                    sa.func.sum(task_progress.c.delta),
                )
                .where(task_progress.c.activity_id == activity.id)
                .group_by(task_progress.c.task_id, task_progress.c.period, task_progress.c.user_id)
            )
            for task_id, period_name, user_id, total in rows.all():
                if (task_id, period_name) in current:
                    progress[(task_id, period_name)][user_id] = int(total)
            rows = await conn.execute(
                sa.select(
                    task_claims.c.task_id, task_claims.c.period, task_claims.c.user_id, task_claims.c.claim_id
                ).where(task_claims.c.activity_id == activity.id)
            )
            for task_id, period_name, user_id, claim_id in rows.all():
                if (task_id, period_name) in current:
                    claims[(task_id, period_name)][user_id] = claim_id
            pairs = sa.select(
                task_assists.c.task_id, task_assists.c.period, task_assists.c.sharer, task_assists.c.friend
            )
            for task_id, period_name, sharer, friend in (
                await conn.execute(pairs.where(task_assists.c.activity_id == activity.id))
            ).all():
                if (task_id, period_name) in current:
                    snapshot.assists.setdefault((task_id, period_name), []).append(f"{sharer}|{friend}")
        snapshot.progress, snapshot.claims = dict(progress), dict(claims)
        return snapshot

    async def release_held(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        return "nothing_held"

    def audit_handlers(self) -> Mapping[str, EventHandler]:
        return {"task_progress": _progress_rows, "task_claim": _claim_rows, "task_assist": friends.assist_rows}

    async def sweep(self) -> int:
        return 0

    async def reconcile(self) -> int:
        """Nothing: a claim whose reward delivery failed delivers it again when claimed again."""
        return 0


async def _progress_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    if activity_id is None:
        raise ValueError(f"task event {entry_id} outside an activity stream")
    row = {
        "activity_id": activity_id,
        "task_id": fields["task_id"],
        "event_id": fields["event_id"],
        "period": fields["period"],
        "user_id": fields["user_id"],
        "delta": int(fields["delta"]),
        "at_ms": int(fields["at_ms"]),
        "stream_id": entry_id,
    }
    return [(task_progress, row)]


async def _claim_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    if activity_id is None:
        raise ValueError(f"task event {entry_id} outside an activity stream")
    row = {
        "claim_id": fields["claim_id"],
        "activity_id": activity_id,
        "task_id": fields["task_id"],
        "period": fields["period"],
        "user_id": fields["user_id"],
        "at_ms": int(fields["at_ms"]),
        "stream_id": entry_id,
    }
    return [(task_claims, row)]
