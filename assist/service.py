"""Friend assist (助力), bargain (砍价) and invite use cases: an operator creates the activity, a
member starts an initiative and shares its token, friends help (or invitees count when the host
reports their registration or first order), the initiative completes with its prize or expires
by the sweep; and what the kernel asks of a gameplay (may it go live, rebuild its live state,
the audit rows of its events).

Every start, help and expiry is one atomic script in the activity's Redis slot. A helper reward
in points is credited to the wallet right after (another slot), once per reference
"as:<help_id>"; the reconciler completes a credit that was lost.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Literal

from activities.audit import Row
from activities.audit_rows import EventHandler
from activities.auth import Identity, Tokens
from activities.channels import Origin, origin_args
from activities.clock import Clock, day_end_ms, local_day, to_ms
from activities.errors import Kind, PromoError, refusal
from activities.ids import new_id
from activities.model import PUBLISHED_STATUSES, Activity, validate_common
from activities.pages import Page, cut, decode_cursor
from activities.points import RECONCILE_AFTER_MS, PointsService
from activities.rewards import PointsReward
from activities.service import DAY_KEY_GRACE_MS, REFERENCE_TTL_S, ActivityService, R, loading_error
from assist import bargain
from assist.audit import EVENT_TYPES, assist_rows
from assist.counters import counters_of
from assist.db import assist_counts
from assist.helper_rewards import deliver_helper_reward
from assist.initiatives import Initiative, cny, from_redis, from_sql, initiative_view, progress_view
from assist.members import AssistMembers
from assist.model import AssistRules, AssistSpec, config_of, validate_rules
from assist.rebuild import snapshot
from assist.repository import AssistRepository
from assist.schemas import (
    AssistCounters,
    HelpBody,
    HelpResult,
    InitiativeView,
    InviteEvent,
    InviteResult,
    ProgressView,
)
from assist.store import AssistSnapshot, AssistStore, HelpReply, HelpRequest, StartRequest

ACTIVITY_TYPE = "assist"
SHARE = "assist-share"  # what share tokens are sealed for
_REFUSALS: dict[str, tuple[Kind, str]] = {
    "initiative_not_found": (Kind.NOT_FOUND, "no such initiative"),
    "already_helped": (Kind.CONFLICT, "you have already helped this initiative"),
    "initiative_completed": (Kind.CONFLICT, "this initiative has already got all the help it needs"),
    "initiative_expired": (Kind.CONFLICT, "this initiative has run out of time"),
    "self_help": (Kind.FORBIDDEN, "you cannot help your own initiative"),
    "invitee_already_counted": (Kind.CONFLICT, "this invitee has already counted for an initiative"),
    "new_users_only": (Kind.FORBIDDEN, "only new users can help in this activity"),
    "helper_daily_limit": (Kind.LIMIT, "you have helped as many times as allowed today"),
    "device_daily_limit": (Kind.LIMIT, "this device has helped as many times as allowed today"),
    "ip_daily_limit": (Kind.LIMIT, "this network has helped as many times as allowed today"),
    "initiative_limit": (Kind.LIMIT, "you have started as many initiatives as allowed"),
    "out_of_stock": (Kind.CONFLICT, "the prize is out of stock"),
}


class AssistService:
    def __init__(
        self,
        activities: ActivityService,
        store: AssistStore,
        repository: AssistRepository,
        points: PointsService,
        tokens: Tokens,
        clock: Clock,
    ) -> None:
        self.activities = activities
        self.store = store
        self.repository = repository
        self.points = points
        self.tokens = tokens
        self.clock = clock
        self.members = AssistMembers(repository, store, clock)

    # --- operators ---------------------------------------------------------------------------

    async def create(self, spec: AssistSpec, operator_id: str) -> Activity:
        validate_common(spec)
        validate_rules(spec.assist)
        return await self.activities.create_draft(spec, ACTIVITY_TYPE, operator_id, config_of(spec.assist))

    async def check_publishable(self, activity: Activity) -> None:
        """Nothing outside the activity to wait for."""

    async def counters(self, activity: Activity) -> AssistCounters:
        live = await self.store.counters(activity.id)
        in_sql = await self.repository.totals(activity.id)
        quarantined = await self.activities.repository.count_dead_letters(activity.id)
        return counters_of(activity, self.rules(activity), live, in_sql, quarantined)

    async def invite(self, activity_id: int, event: InviteEvent) -> InviteResult:
        """The host reports that an invitee completed an action. The invitee counts for the
        initiative of the share token they came with if it is the activity's target action."""
        activity, rules = await self._assist(activity_id)
        if rules.kind != "invite":
            raise PromoError(Kind.CONFLICT, "not_an_invite_activity", "this activity does not count invitees")
        if event.action != rules.target_action:
            return InviteResult(counted=False, reason=f"only {rules.target_action} counts in this activity")
        shared_activity, initiative_id = self._unseal(event.share_token)
        if shared_activity != activity_id:
            raise PromoError(Kind.NOT_FOUND, "share_token_invalid", "this share token is not of this activity")
        origin = (*origin_args(event), "")
        reply = await self._help(
            activity, rules, initiative_id, event.invitee_id, "invite", event.device_id, event.ip, origin=origin
        )
        return InviteResult(
            counted=True, help=await self._help_result(activity, rules, initiative_id, event.invitee_id, reply)
        )

    # --- players -----------------------------------------------------------------------------

    async def start(self, player: Identity, activity_id: int, origin: Origin | None = None) -> InitiativeView:
        """Start an initiative (or get back the member's open one) and its share token."""
        activity, rules = await self._assist(activity_id)
        await self.activities.admit(activity, player)
        now_ms = self.clock.now_ms()
        ends_ms = to_ms(activity.ends_at)
        request = StartRequest(
            activity_id=activity.id,
            user_id=player.subject,
            initiative_id=new_id("i", now_ms),
            now_ms=now_ms,
            deadline_ms=min(now_ms + rules.hours * 3600 * 1000, ends_ms),
            needed=rules.helps_needed,
            origin=origin_args(origin),
        )
        if rules.item is not None:
            price, floor = bargain.to_cents(rules.item.price_cny), bargain.to_cents(rules.item.floor_cny)
            seed = secrets.randbits(62)
            cuts = bargain.cuts(price - floor, rules.helps_needed, seed)
            request = replace(request, price_cents=price, floor_cents=floor, cuts=cuts, seed=seed)
        for _ in range(3):
            reply = await self._run(activity, lambda: self.store.start(request))
            if reply.kind != "member_not_loaded":
                break
            await self.members.load(activity, player.subject)  # rebuilt lazily: the member from SQL first
        else:
            raise loading_error()
        if reply.kind == "refused":
            raise refusal(reply.code or "refused", reply.detail, _REFUSALS)
        found = await self._initiative(activity, reply.initiative_id)
        assert found is not None
        return self._view(activity, rules, found, with_helpers=True, replayed=reply.kind == "open")

    async def mine(
        self, player: Identity, activity_id: int, limit: int = 50, cursor: str | None = None
    ) -> Page[InitiativeView]:
        """The member's initiatives on the activity, newest first, a page at a time, from the SQL
        audit trail (a new initiative shows up there within about a second)."""
        after = decode_cursor(cursor, (int, int))
        activity, rules = await self._assist(activity_id)
        rows = await self.repository.initiatives_of(activity.id, player.subject, limit + 1, after)
        kept, next_cursor = cut(rows, limit, lambda row: (row[2], row[0]))
        views = []
        for _, initiative_id, _ in kept:
            found = await self._initiative(activity, initiative_id)
            if found is not None:
                views.append(self._view(activity, rules, found, with_helpers=True))
        return Page(items=views, next_cursor=next_cursor)

    async def progress(self, share_token: str) -> ProgressView:
        """What a friend who opens the share link sees (no token needed)."""
        activity_id, initiative_id = self._unseal(share_token)
        activity, rules = await self._assist(activity_id)
        found = await self._initiative(activity, initiative_id)
        if found is None:
            raise refusal("initiative_not_found", None, _REFUSALS)
        return progress_view(activity, rules, found)

    async def known(self, share_token: str) -> None:
        """404 `share_token_invalid` (or `activity_not_found`) unless the share token is ours
        and its activity is a published assist."""
        activity_id, _ = self._unseal(share_token)
        await self._assist(activity_id)

    async def help(
        self,
        player: Identity,
        share_token: str,
        device_id: str | None,
        ip: str | None,
        body: HelpBody | None = None,
    ) -> HelpResult:
        """Help a friend's initiative, once."""
        activity_id, initiative_id = self._unseal(share_token)
        activity, rules = await self._assist(activity_id)
        if rules.kind == "invite":
            raise PromoError(
                Kind.CONFLICT, "invitees_count_by_event", "invitees count when the host reports their action"
            )
        await self.activities.check_excluded(activity, player.subject)  # deny lists: fraud accounts
        reply = await self._help(
            activity,
            rules,
            initiative_id,
            player.subject,
            "help",
            device_id,
            ip,
            new_user=player.new_user,
            origin=(*origin_args(body), (body.via or "") if body else ""),
        )
        return await self._help_result(activity, rules, initiative_id, player.subject, reply)

    async def initiative(self, caller: Identity, initiative_id: str, activity_id: int) -> InitiativeView:
        """An initiative with who helped: for its initiator and for operators."""
        activity, rules = await self._assist(activity_id)
        found = await self._initiative(activity, initiative_id)
        if found is None:
            raise refusal("initiative_not_found", None, _REFUSALS)
        if caller.role != "operator" and caller.subject != found.initiator:
            raise PromoError(Kind.FORBIDDEN, "not_your_data", "only the initiator sees who helped")
        return self._view(activity, rules, found, with_helpers=True)

    # --- the expiry sweep --------------------------------------------------------------------

    async def sweep(self) -> int:
        """Close every open initiative past its deadline, giving its reserved prize back."""

        async def expire(activity_id: int, initiative_id: str, now_ms: int) -> bool:
            for _ in range(3):
                reply = await self.store.expire(activity_id, initiative_id, now_ms)
                if reply != "initiative_not_loaded":
                    return reply == "expired"
                activity = await self.activities.published(activity_id, (ACTIVITY_TYPE,), "an assist")
                await self.members.load_initiative(activity, initiative_id)  # rebuilt lazily: from SQL first
            return False

        for activity_id in await self.activities.repository.list_ids(PUBLISHED_STATUSES, types=(ACTIVITY_TYPE,)):
            token = await self.store.pending_deadlines(activity_id)  # rebuilt lazily: the deadlines first
            if token is not None:
                await self.store.add_deadlines(activity_id, token, await self.repository.open_deadlines(activity_id))
        return await self.activities.sweep(ACTIVITY_TYPE, expire)

    # --- rules and helpers of the use cases ------------------------------------------------------

    def rules(self, activity: Activity) -> AssistRules:
        return self.activities.settings(activity, AssistRules)

    def share_token(self, activity_id: int, initiative_id: str) -> str:
        """URL-safe: "<activity>-<initiative>.<signature>"."""
        return self.tokens.seal(f"{activity_id}-{initiative_id}", SHARE)

    def _unseal(self, share_token: str) -> tuple[int, str]:
        value = self.tokens.unseal(share_token, SHARE)
        activity, _, initiative_id = (value or "").partition("-")
        if not activity.isdigit() or not initiative_id:
            raise PromoError(Kind.NOT_FOUND, "share_token_invalid", "this share link is not valid")
        return int(activity), initiative_id

    async def _assist(self, activity_id: int) -> tuple[Activity, AssistRules]:
        activity = await self.activities.published(activity_id, (ACTIVITY_TYPE,), "an assist")
        return activity, self.rules(activity)

    async def _run(self, activity: Activity, call: Callable[[], Awaitable[R]]) -> R:
        unknown = "it may or may not have happened; send it again to learn how it went"
        return await self.activities.run_loaded(activity.id, call, unknown=unknown)

    async def _help(
        self,
        activity: Activity,
        rules: AssistRules,
        initiative_id: str,
        helper: str,
        mode: str,
        device_id: str | None,
        ip: str | None,
        *,
        new_user: bool = False,
        origin: tuple[str, str, str] = ("", "", ""),  # channel, source, share parent ("": not sent)
    ) -> HelpReply:
        now_ms = self.clock.now_ms()
        day = local_day(now_ms, activity.tz)
        request = HelpRequest(
            activity_id=activity.id,
            initiative_id=initiative_id,
            helper=helper,
            help_id=new_id("h", now_ms),
            now_ms=now_ms,
            day=day,
            day_ttl_ms=day_end_ms(day, activity.tz) + DAY_KEY_GRACE_MS - now_ms,
            mode=mode,
            device_id=device_id or "",
            ip=ip or "",
            new_user=new_user,
            helper_reward=rules.helper_reward is not None,
            origin=origin,
        )
        for _ in range(4):
            reply = await self._run(activity, lambda: self.store.help(request))
            if reply.kind == "member_not_loaded":  # rebuilt lazily: the helper (device, address) from SQL
                await self.members.load(activity, helper, request.device_id, request.ip)
            elif reply.kind == "initiative_not_loaded":
                if await self.members.load_initiative(activity, initiative_id) == "unknown":
                    reply = HelpReply("refused", code="initiative_not_found")
                    break
            else:
                break
        else:
            raise loading_error()
        if reply.kind == "refused":
            raise await self._help_refusal(reply, initiative_id)
        return reply

    async def _help_refusal(self, reply: HelpReply, initiative_id: str) -> PromoError:
        code = reply.code or "refused"
        if code == "initiative_not_found":  # Redis lets a closed initiative go after a while: SQL knows
            stored = await self.repository.initiative(initiative_id)
            if stored is not None and stored[1] is not None:
                code = f"initiative_{stored[1]}"
        error = refusal(code, None if code == "already_helped" else reply.detail, _REFUSALS)
        if code == "already_helped" and reply.detail:
            number, cut, _ = reply.detail.split()
            error.details = {"number": number and int(number), "cut_cny": cny(None if cut == "-" else int(cut))}
        return error

    async def _help_result(
        self, activity: Activity, rules: AssistRules, initiative_id: str, helper: str, reply: HelpReply
    ) -> HelpResult:
        reward, reward_status = None, None
        if reply.helper_reward and rules.helper_reward is not None:
            reward = rules.helper_reward.reward
            reward_status = await self._deliver_helper_reward(activity, rules, helper, reply.help_id)
        return HelpResult(
            help_id=reply.help_id,
            initiative_id=initiative_id,
            number=reply.number,
            needed=reply.needed,
            completed=reply.completed,
            cut_cny=cny(reply.cut_cents),
            price_cny=cny(reply.price_cents),
            helper_reward=reward,
            helper_reward_status=reward_status,
        )

    async def _deliver_helper_reward(
        self, activity: Activity, rules: AssistRules, helper: str, help_id: str
    ) -> Literal["granted", "pending"]:
        return await deliver_helper_reward(self.points, activity.id, rules, helper, help_id)

    async def _initiative(self, activity: Activity, initiative_id: str) -> Initiative | None:
        """From Redis (live), or from SQL once Redis has let a closed initiative go."""
        fields = await self.store.initiative(activity.id, initiative_id)
        if fields is None:  # a fresh or flushed Redis? Rebuild, then look again
            await self.activities.load_if_missing(activity.id)
            fields = await self.store.initiative(activity.id, initiative_id)
        if fields is not None:
            return from_redis(initiative_id, fields)
        stored = await self.repository.initiative(initiative_id)
        if stored is None or stored[0].activity_id != activity.id:
            return None
        row, outcome, helps = stored
        return from_sql(row, outcome, helps)

    def _view(
        self, activity: Activity, rules: AssistRules, found: Initiative, *, with_helpers: bool, replayed: bool = False
    ) -> InitiativeView:
        token = self.share_token(activity.id, found.initiative_id)
        return initiative_view(activity, rules, found, token, with_helpers=with_helpers, replayed=replayed)

    # --- the kernel's questions: live state, audit rows, reconciliation ---------------------------

    async def load(self, activity: Activity) -> None:
        rules = self.rules(activity)

        async def read() -> AssistSnapshot:
            return await snapshot(activity, rules, self.repository, self.clock.now_ms())

        async def recover(snapshot: AssistSnapshot, epoch: str) -> AssistSnapshot:
            """After a loss of Redis state: hold back units the unwritten window may have taken."""
            left = {f"stock:{name}": units for name, units in snapshot.stock.items()}
            events = [(assist_counts.c.activity_id, assist_counts.c.last_ms)]  # not a scan of the helps
            held = await self.activities.recoveries.begin(activity.id, ACTIVITY_TYPE, epoch, left, events=events)
            for counter, units in held.items():
                snapshot.stock[counter.partition(":")[2]] -= units
            return snapshot

        await self.store.load(activity.id, read, recover)

    async def release_held(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        return await self.store.release(activity_id, epoch, counter, units)

    def audit_handlers(self) -> dict[str, EventHandler]:
        return dict.fromkeys(EVENT_TYPES, self.audit_rows)

    async def audit_rows(self, activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
        """The SQL rows of an assist event (assist/audit.py)."""
        return assist_rows(activity_id, entry_id, fields)

    async def reconcile(self) -> int:
        """Credit points helper rewards whose credit never reached the ledger."""
        now_ms = self.clock.now_ms()
        credited = 0
        for row in await self.repository.undelivered_helper_rewards(
            now_ms - REFERENCE_TTL_S * 1000, now_ms - RECONCILE_AFTER_MS
        ):
            activity, rules = await self._assist(row.activity_id)
            if rules.helper_reward and isinstance(rules.helper_reward.reward, PointsReward):
                credited += await self._deliver_helper_reward(activity, rules, row.helper, row.help_id) == "granted"
        return credited
