"""Sign-in (签到) use cases: create a sign-in activity, sign in, make up a missed day (补签), read
the month calendar, deliver the rewards, and what the kernel asks of a gameplay (may it go live,
rebuild its live state, the audit rows of its events).

A mark (a sign-in or a make-up) is one atomic script in the activity's Redis slot. Its rewards
that live elsewhere, points in a wallet shard, chances and prizes in a linked lottery's slot,
are delivered right after by their own scripts, each applied once per reference
"ck:<mark_id>:<reward index>". A delivery that fails is completed later by `reconcile` from the
SQL audit trail, as points prizes of draws are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date

from activities.audit import Row
from activities.audit_rows import EventHandler
from activities.auth import Identity
from activities.channels import Origin, origin_args
from activities.clock import Clock, from_ms, local_day
from activities.errors import Kind, PromoError, invalid, refusal
from activities.ids import new_id
from activities.model import Activity, validate_common
from activities.points import RECONCILE_AFTER_MS, PointsService
from activities.rewards import PrizeReward
from activities.service import FROZEN, REFERENCE_TTL_S, ActivityService, loading_error
from checkin.audit import has_rewards, mark_rows
from checkin.cycles import first_day, key_ttls_ms, makeups_left, month_bounds, period_of
from checkin.db import checkin_counts, checkins
from checkin.members import CheckinMembers
from checkin.model import CheckinRules, CheckinSpec, config_of, validate_rules
from checkin.month import marked_days, month_view
from checkin.rebuild import snapshot
from checkin.repository import CheckinRepository, RewardRow
from checkin.rewards import REDELIVER_WITHIN_MS, RewardDelivery
from checkin.schemas import Calendar, CheckinCounters, MarkResult
from checkin.store import CheckinSnapshot, CheckinStore, MarkReply, MarkRequest, MemberCycle, ScriptKind
from checkin.streak import Period, makeup_refusal
from lottery.service import DrawService

ACTIVITY_TYPE = "checkin"
_REFUSALS: dict[str, tuple[Kind, str]] = {
    "day_already_signed": (Kind.CONFLICT, "that day is already signed"),
    "makeup_limit": (Kind.LIMIT, "no make-ups left in this cycle"),
    "makeup_disabled": (Kind.CONFLICT, "this activity has no make-up sign-in"),
}
_MAKEUP_MESSAGES = {
    "makeup_not_in_past": "only a day before today can be made up",
    "makeup_before_start": "that day is before the activity started",
    "makeup_outside_cycle": "only a day of the current cycle can be made up",
    "makeup_too_far_back": "that day is too far back to be made up",
}


def makeup_cost_ref(mark_id: str) -> str:
    return f"makeup:{mark_id}"  # the reconciler strips "makeup:" to find the mark


class CheckinService:
    def __init__(
        self,
        activities: ActivityService,
        store: CheckinStore,
        repository: CheckinRepository,
        draws: DrawService,
        points: PointsService,
        clock: Clock,
    ) -> None:
        self.activities = activities
        self.store = store
        self.repository = repository
        self.draws = draws
        self.points = points
        self.clock = clock
        self.rewards = RewardDelivery(points, draws)
        self.members = CheckinMembers(repository, store, clock)

    # --- operators ---------------------------------------------------------------------------

    async def create(self, spec: CheckinSpec, operator_id: str) -> Activity:
        validate_common(spec)
        validate_rules(spec.checkin)
        await self._check_linked_lottery(spec.checkin)
        return await self.activities.create_draft(spec, ACTIVITY_TYPE, operator_id, config_of(spec.checkin))

    async def _check_linked_lottery(self, rules: CheckinRules) -> None:
        if rules.linked_lottery_id is None:
            return
        lottery = await self.draws.find(rules.linked_lottery_id)
        if lottery is None:
            raise invalid(
                "linked_lottery_invalid",
                f"activity {rules.linked_lottery_id} is not a lottery",
                field="checkin.linked_lottery_id",
            )
        if lottery.status == "ended":
            raise invalid("linked_lottery_ended", "the linked lottery has ended", field="checkin.linked_lottery_id")
        prizes = {p.id for p in lottery.prizes if not p.is_consolation}
        for _, _, reward in rules.rewards():
            if isinstance(reward, PrizeReward) and reward.prize_id not in prizes:
                raise invalid(
                    "prize_not_in_linked_lottery",
                    f"prize {reward.prize_id} is not a prize (other than the consolation) of lottery {lottery.id}",
                    field="checkin",
                )

    async def check_publishable(self, activity: Activity) -> None:
        """Rewards from a lottery need that lottery published."""
        linked = self.rules(activity).linked_lottery_id
        if linked is None:
            return
        lottery = await self.activities.get(linked)
        if lottery.status == "draft":
            raise PromoError(
                Kind.CONFLICT, "linked_lottery_not_published", f"publish the linked lottery {linked} first"
            )

    async def counters(self, activity: Activity) -> CheckinCounters:
        today = local_day(self.clock.now_ms(), activity.tz)
        live = await self.store.counters(activity.id, today)
        in_sql: Counter[str] = Counter()
        for _, kind, marks in await self.repository.counts(activity.id):  # the aggregates: no scan
            in_sql[kind] += marks
        return CheckinCounters(
            activity_id=activity.id,
            status=activity.status,
            loaded=live.status is not None,
            day=today.isoformat(),
            signins_total=live.signins_total,
            signins_today=live.today.get("signin", 0),
            makeups_total=live.makeups_total,
            makeups_today=live.today.get("makeup", 0),
            rewards_total=live.rewards_total,
            signins_in_sql=in_sql["signin"],
            makeups_in_sql=in_sql["makeup"],
            rewards_in_sql=in_sql["reward"],
            audit_backlog=live.audit_backlog,
            quarantined=await self.activities.repository.count_dead_letters(activity.id),
        )

    # --- players -----------------------------------------------------------------------------

    async def sign_in(self, player: Identity, activity_id: int, origin: Origin | None = None) -> MarkResult:
        """Sign in today. Signing in again the same day answers the first sign-in (replayed)."""
        activity, rules = await self._playable(player, activity_id)
        now_ms = self.clock.now_ms()
        today = local_day(now_ms, activity.tz)
        request = self._request(activity, rules, player.subject, "signin", today, now_ms, origin)
        return await self._answer(activity, rules, request, await self._mark(activity, request))

    async def make_up(self, player: Identity, activity_id: int, day: date, origin: Origin | None = None) -> MarkResult:
        """Make up a missed day of the current cycle (补签), paying its points cost if any.

        The cost is charged only once the script has checked everything (`quote`), under a
        reference naming this request's fresh mark id; the script then marks the day. Any answer
        but "ok" refunds the charge; an unknown outcome is left to the reconciler, which refunds
        costs whose mark never reached SQL."""
        activity, rules = await self._playable(player, activity_id)
        if rules.makeup is None:
            raise refusal("makeup_disabled", None, _REFUSALS)
        now_ms = self.clock.now_ms()
        today = local_day(now_ms, activity.tz)
        period = period_of(activity, rules, today)
        why = makeup_refusal(day, today, period, first_day(activity), rules.makeup.max_days_back)
        if why is not None:
            raise invalid(why, _MAKEUP_MESSAGES[why], field="day", max_days_back=rules.makeup.max_days_back)
        cost = rules.makeup.points_cost
        kind: ScriptKind = "quote" if cost else "makeup"
        request = self._request(activity, rules, player.subject, kind, day, now_ms, origin)
        reply = await self._mark(activity, request)
        if reply.kind == "quoted":
            cost_ref = makeup_cost_ref(request.mark_id)
            await self.points.debit(player.subject, cost, cost_ref, "makeup_cost", activity.id)
            try:
                reply = await self._mark(activity, replace(request, kind="makeup"))
            except PromoError as error:
                if error.code != "outcome_unknown":
                    await self.points.refund(player.subject, cost, cost_ref, activity.id)
                raise
            if reply.kind != "ok":
                await self.points.refund(player.subject, cost, cost_ref, activity.id)
        return await self._answer(activity, rules, request, reply)

    async def calendar(self, player: Identity, activity_id: int, month: str | None) -> Calendar:
        """A month of the member's sign-ins: signed, made up, missed, today; the current streak
        and what comes next (checkin/month.py)."""
        activity, rules = await self._checkin(activity_id)
        today = local_day(self.clock.now_ms(), activity.tz)
        first, last = month_bounds(month, today)
        period = period_of(activity, rules, today)
        member = await self._member_cycle(activity, period, player.subject)
        marked = await marked_days(self.repository, activity, player.subject, first, last, period, member)
        return month_view(activity, rules, today, first, last, period, member, marked)

    # --- rules, days and cycles ----------------------------------------------------------------

    def rules(self, activity: Activity) -> CheckinRules:
        return self.activities.settings(activity, CheckinRules)

    async def _checkin(self, activity_id: int) -> tuple[Activity, CheckinRules]:
        activity = await self.activities.published(activity_id, (ACTIVITY_TYPE,), "a sign-in")
        return activity, self.rules(activity)

    async def _playable(self, player: Identity, activity_id: int) -> tuple[Activity, CheckinRules]:
        activity, rules = await self._checkin(activity_id)
        await self.activities.admit(activity, player)
        return activity, rules

    def _request(
        self,
        activity: Activity,
        rules: CheckinRules,
        user_id: str,
        kind: ScriptKind,
        day: date,
        now_ms: int,
        origin: Origin | None = None,
    ) -> MarkRequest:
        today = local_day(now_ms, activity.tz)
        period = period_of(activity, rules, today)
        cycle_ttl_ms, day_ttl_ms = key_ttls_ms(activity, period, today, now_ms)
        return MarkRequest(
            activity_id=activity.id,
            user_id=user_id,
            mark_id=new_id("m", now_ms),
            now_ms=now_ms,
            kind=kind,
            cycle=period,
            day=day,
            today=today,
            cycle_ttl_ms=cycle_ttl_ms,
            day_ttl_ms=day_ttl_ms,
            origin=origin_args(origin),
        )

    # --- the script and its answer ------------------------------------------------------------

    async def _mark(self, activity: Activity, request: MarkRequest) -> MarkReply:
        unknown = "the sign-in may or may not have happened; send it again to learn the result"
        for _ in range(3):  # a member load overtaken by a rebuild: load again, then give up (503)
            reply = await self.activities.run_loaded(activity.id, lambda: self.store.mark(request), unknown=unknown)
            if reply.kind != "member_not_loaded":
                break
            await self.members.load(activity, self.rules(activity), request.user_id)
        else:
            raise loading_error()
        if reply.kind == "refused":
            raise refusal(reply.code or "refused", reply.detail, _REFUSALS)
        return reply

    async def _answer(
        self, activity: Activity, rules: CheckinRules, request: MarkRequest, reply: MarkReply
    ) -> MarkResult:
        """The answer to a mark (new or replayed: the record is that of the requested day)."""
        record = reply.record
        assert record is not None, reply
        deliver = reply.kind == "ok" or request.now_ms - record.at_ms < REDELIVER_WITHIN_MS
        user_id = request.user_id
        return MarkResult(
            mark_id=record.mark_id,
            activity_id=activity.id,
            kind=record.kind,
            day=request.day,
            streak=record.streak,
            cumulative=record.cumulative,
            rewards=[
                await self.rewards.deliver(activity, rules, user_id, record.mark_id, i, deliver) for i in record.rewards
            ],
            marked_at=from_ms(record.at_ms, activity.tz),
            makeups_left=makeups_left(rules, reply.made_up),
            replayed=reply.kind == "replay",
        )

    async def _member_cycle(self, activity: Activity, period: Period, user_id: str) -> MemberCycle:
        for _ in range(3):
            member = await self.store.member_cycle(activity.id, period, user_id)
            if isinstance(member, MemberCycle):
                return member
            if member == "member_not_loaded":
                await self.members.load(activity, self.rules(activity), user_id)
            else:
                await self.activities.ensure_loaded(activity.id)
        raise loading_error()

    # --- the kernel's questions: live state, audit rows, reconciliation ---------------------------

    async def load(self, activity: Activity) -> None:
        rules = self.rules(activity)

        async def read() -> CheckinSnapshot:
            return await snapshot(activity, rules, self.repository, self.clock.now_ms())

        async def recover(snapshot: CheckinSnapshot, epoch: str) -> CheckinSnapshot:
            """After a loss of Redis state: recorded for operators; a sign-in holds no units of
            its own (its prizes come from the linked lottery, which holds back its own)."""
            events = [(checkin_counts.c.activity_id, checkin_counts.c.last_ms)]  # not a scan of checkins
            await self.activities.recoveries.begin(activity.id, ACTIVITY_TYPE, epoch, {}, events=events)
            return snapshot

        await self.store.load(activity.id, read, recover)

    async def release_held(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        return "nothing_held"

    def audit_handlers(self) -> dict[str, EventHandler]:
        return {"checkin": self.audit_rows}

    async def sweep(self) -> int:
        """Nothing of a sign-in runs out of time on its own."""
        return 0

    async def audit_rows(self, activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
        """The SQL rows of a "checkin" event (checkin/audit.py)."""
        if activity_id is None:
            raise ValueError(f"checkin event {entry_id} outside an activity stream")
        rules = None
        if has_rewards(fields):
            rules = self.rules(await self.activities.get_published(activity_id, max_age_s=FROZEN))
        return mark_rows(activity_id, entry_id, fields, rules)

    async def reconcile(self) -> int:
        """Complete what a lost reply left half done: refund make-up costs whose make-up never
        happened, deliver rewards whose delivery never reached SQL. Returns the changes made."""
        fixed = await self.points.refund_orphan_costs("makeup_cost", "makeup:", checkins.c.mark_id)
        now_ms = self.clock.now_ms()
        for row in await self.repository.undelivered_rewards(
            now_ms - REFERENCE_TTL_S * 1000, now_ms - RECONCILE_AFTER_MS
        ):
            if await self._redeliver(row):
                fixed += 1
        return fixed

    async def _redeliver(self, row: RewardRow) -> bool:
        activity = await self.activities.get_published(row.activity_id, max_age_s=FROZEN)
        granted = await self.rewards.deliver(
            activity, self.rules(activity), row.user_id, row.mark_id, row.reward_index, deliver=True
        )
        return granted.status == "granted"
