"""Hot-item reservation (热门商品预约) use cases: an operator defines the item, its dates and
quantities; members reserve (with an Idempotency-Key), list and cancel their reservations; store
staff redeem (核销) them by code; a sweep expires what was not redeemed by the end of its day;
and what the kernel asks of a gameplay (rebuild the live state, the audit rows of its events).

Every reservation and every change of one is one atomic script in the activity's Redis slot:
the daily quantity is a Redis counter that only these scripts change.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from functools import partial

from activities.audit import Row
from activities.audit_rows import EventHandler
from activities.auth import Identity, Tokens
from activities.channels import Origin, origin_args
from activities.clock import Clock, day_end_ms, from_ms, local_day, to_ms
from activities.errors import Kind, PromoError, invalid, refusal
from activities.model import Activity, validate_common
from activities.pages import Page, cut, decode_cursor
from activities.service import IDEMPOTENCY_TTL_S, ActivityService, loading_error
from reservation.audit import EVENT_TYPES, reservation_rows
from reservation.counters import counters_of
from reservation.db import reservation_counts
from reservation.members import ReservationMembers
from reservation.model import (
    SHARED,
    ReservationRules,
    ReservationSpec,
    cancel_until_ms,
    config_of,
    opens_at_ms,
    request_fingerprint,
    validate_rules,
)
from reservation.rebuild import DATE_ITEM, KEEP_DAYS, snapshot
from reservation.repository import ReservationRepository
from reservation.schemas import (
    ItemView,
    RedeemBody,
    ReservationCounters,
    ReservationView,
    ReserveBody,
    StoreView,
)
from reservation.store import ReservationSnapshot, ReservationStore, ReserveRequest, ScriptReply

ACTIVITY_TYPE = "reservation"
QR = "reservation-qr"  # what QR payloads are sealed for
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed at a till
CODE_LENGTH = 12  # 60 random bits
SWEEP_BATCH = 500  # codes of a date of a lazy rebuild the sweep expires per pass
STATES = ("reserved", "cancelled", "redeemed", "expired")  # "reserved": made, whatever became of it
_REFUSALS: dict[str, tuple[Kind, str]] = {
    "not_open_yet": (Kind.CONFLICT, "reservations for this date are not open yet"),
    "date_closed": (Kind.CONFLICT, "this date can no longer be reserved"),
    "user_date_limit": (Kind.LIMIT, "you hold as many reservations for this date as allowed"),
    "user_total_limit": (Kind.LIMIT, "you hold as many reservations as allowed"),
    "sold_out": (Kind.CONFLICT, "nothing is left to reserve for this date"),
    "reservation_not_found": (Kind.NOT_FOUND, "no such reservation"),
    "reservation_cancelled": (Kind.CONFLICT, "this reservation was cancelled"),
    "reservation_redeemed": (Kind.CONFLICT, "this reservation was already redeemed"),
    "reservation_expired": (Kind.CONFLICT, "this reservation expired"),
    "cancel_cutoff_passed": (Kind.CONFLICT, "it is too late to cancel this reservation"),
    "wrong_date": (Kind.CONFLICT, "this reservation is for another date"),
    "wrong_store": (Kind.CONFLICT, "this reservation is for another store"),
}


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(typed: str) -> str:
    """What staff type: any case, with dashes or spaces."""
    return "".join(c for c in typed.upper() if c not in "- ")


class ReservationService:
    def __init__(
        self,
        activities: ActivityService,
        store: ReservationStore,
        repository: ReservationRepository,
        tokens: Tokens,
        clock: Clock,
    ) -> None:
        self.activities = activities
        self.store = store
        self.repository = repository
        self.tokens = tokens
        self.clock = clock
        self.members = ReservationMembers(repository, store, clock)

    # --- operators ---------------------------------------------------------------------------

    async def create(self, spec: ReservationSpec, operator_id: str) -> Activity:
        validate_common(spec)
        validate_rules(spec.reservation)
        return await self.activities.create_draft(spec, ACTIVITY_TYPE, operator_id, config_of(spec.reservation))

    async def check_publishable(self, activity: Activity) -> None:
        """Nothing outside the activity to wait for."""

    async def redeem(self, operator: Identity, activity_id: int, body: RedeemBody) -> ReservationView:
        """Store staff redeem (核销) a reservation: once, on its date, at its store."""
        activity, rules = await self._reservation_activity(activity_id)
        code = self._code_of(activity.id, body)
        if rules.method == "pickup" and body.store_id is None:
            raise invalid("store_required", "say which store redeems it (store_id)", field="store_id")
        now_ms = self.clock.now_ms()
        today = local_day(now_ms, activity.tz).isoformat()
        await self._change(activity, "redeem", code, now_ms, operator.subject, today, body.store_id or "", body)
        return await self._view_of(activity, rules, code)

    async def counters(self, activity: Activity) -> ReservationCounters:
        live = await self.store.counters(activity.id)
        in_sql = await self.repository.stats(activity.id)
        quarantined = await self.activities.repository.count_dead_letters(activity.id)
        return counters_of(activity, self.rules(activity), live, in_sql, quarantined)

    # --- players -----------------------------------------------------------------------------

    async def reserve(
        self, player: Identity, activity_id: int, idempotency_key: str, body: ReserveBody
    ) -> ReservationView:
        """Reserve one unit for a date (and a store). The same Idempotency-Key again returns the
        same reservation."""
        activity, rules = await self._reservation_activity(activity_id)
        await self.activities.admit(activity, player)
        quantity = rules.quantity(body.date)
        if quantity is None:
            raise invalid("date_not_offered", f"{body.date} cannot be reserved", field="date")
        store = self._store_of(rules, body.store_id)
        now_ms, tz = self.clock.now_ms(), activity.tz
        closes_at = day_end_ms(body.date, tz)
        fingerprint = request_fingerprint(activity.id, body.date.isoformat(), store)
        request = ReserveRequest(
            activity_id=activity.id,
            user_id=player.subject,
            code=new_code(),
            now_ms=now_ms,
            date=body.date.isoformat(),
            store=store,
            pool=rules.pool_of(body.date, body.store_id),
            opens_at_ms=opens_at_ms(body.date, rules, tz, to_ms(activity.starts_at)),
            closes_at_ms=closes_at,
            cancel_until_ms=cancel_until_ms(body.date, rules, tz),
            purchase=rules.purchase,
            fingerprint=fingerprint,
            idempotency_key=idempotency_key,
            idempotency_ttl_s=IDEMPOTENCY_TTL_S,
            keep_s=max((closes_at - now_ms) // 1000, 0) + KEEP_DAYS * 86400,
            origin=origin_args(body),
        )
        for _ in range(6):
            reply = await self._run(activity, partial(self.store.reserve, request))
            if reply.kind == "member_not_loaded":  # rebuilt lazily: the member's state from SQL first
                await self.members.load(activity, player.subject)
            elif reply.kind == "code_taken":
                request = replace(request, code=new_code())  # taken already (one chance in 10^18): another
            else:
                break
        else:
            raise loading_error()
        if reply.kind == "mismatch":
            raise invalid("idempotency_key_reused", "this Idempotency-Key was used for a different request")
        if reply.kind == "refused":
            error = refusal(reply.code or "refused", None, _REFUSALS)
            if reply.code == "not_open_yet" and reply.detail:
                error.details = {"opens_at": from_ms(int(reply.detail), tz).isoformat()}
            elif reply.detail:
                error.details = {"status": reply.detail}
            raise error
        if reply.kind == "replay":  # the first request's reservation, as it is now
            view = await self._view_of(activity, rules, reply.value)
            view.replayed = True
            return view
        fields = {
            "date": request.date,
            "store": request.store,
            "status": "reserved",
            "purchase": request.purchase,
            "cancel_until_ms": str(request.cancel_until_ms),
            "created_ms": str(request.now_ms),
        }
        return self._view(activity, rules, request.code, fields)

    async def mine(
        self, player: Identity, activity_id: int, limit: int = 50, cursor: str | None = None
    ) -> Page[ReservationView]:
        """The member's reservations (those for dates up to 30 days ago), by date, a page at a
        time: keyset (date, reserved at, code) over the member's few reservations."""
        after = decode_cursor(cursor, (str, int, str))
        activity, rules = await self._reservation_activity(activity_id)
        for _ in range(3):
            found = await self.store.member_reservations(activity.id, player.subject)
            if not isinstance(found, str):
                break
            if found == "member_not_loaded":
                await self.members.load(activity, player.subject)
            else:
                await self.activities.ensure_loaded(activity.id)
        else:
            raise loading_error()
        keyed = sorted(((f["date"], int(f["created_ms"]), code), code, f) for code, f in found.items())
        kept, next_cursor = cut([k for k in keyed if after is None or k[0] > after][: limit + 1], limit, lambda k: k[0])
        return Page(items=[self._view(activity, rules, code, f) for _, code, f in kept], next_cursor=next_cursor)

    async def known(self, activity_id: int, code: str) -> None:
        """404 (`activity_not_found`, `reservation_not_found`) unless both exist."""
        activity, rules = await self._reservation_activity(activity_id)
        await self.activities.load_if_missing(activity.id)
        await self._view_of(activity, rules, normalize_code(code))

    async def cancel(
        self, player: Identity, activity_id: int, code: str, origin: Origin | None = None
    ) -> ReservationView:
        """Cancel one's own reservation before the cutoff; its unit returns to the pool at once."""
        activity, rules = await self._reservation_activity(activity_id)
        code = normalize_code(code)
        await self._change(activity, "cancel", code, self.clock.now_ms(), player.subject, origin=origin)
        return await self._view_of(activity, rules, code)

    # --- the expiry sweep --------------------------------------------------------------------

    async def sweep(self) -> int:
        """Expire reservations not redeemed by the end of their day."""

        async def expire(activity_id: int, item: str, now_ms: int) -> int:
            activity = await self.activities.published(activity_id, (ACTIVITY_TYPE,), "a reservation activity")
            if not item.startswith(DATE_ITEM):
                return await self._expire(activity, item, now_ms)
            # A date of a lazy rebuild: its codes SQL has as reserved, a batch per pass.
            codes = await self.repository.open_codes(activity_id, item.removeprefix(DATE_ITEM), "", SWEEP_BATCH)
            expired = [await self._expire(activity, code, now_ms) for code in codes]
            if len(codes) < SWEEP_BATCH:
                await self.store.drop_deadline(activity_id, item)
            return sum(expired)

        return await self.activities.sweep(ACTIVITY_TYPE, expire)

    async def _expire(self, activity: Activity, code: str, now_ms: int) -> bool:
        return (await self._change_reply(activity, "expire", code, now_ms, "sweep")).kind == "ok"

    # --- helpers -------------------------------------------------------------------------------

    def rules(self, activity: Activity) -> ReservationRules:
        return self.activities.settings(activity, ReservationRules)

    def qr_payload(self, activity_id: int, code: str) -> str:
        return "RSV:" + self.tokens.seal(f"{activity_id}.{code}", QR)

    def _code_of(self, activity_id: int, body: RedeemBody) -> str:
        if body.qr is not None and body.code is not None:
            raise invalid("code_and_qr", "send the reservation's code or its QR payload, not both", field="code")
        if body.qr:
            value = self.tokens.unseal(body.qr.removeprefix("RSV:"), QR)
            shared_activity, _, code = (value or "").partition(".")
            if not code or shared_activity != str(activity_id):
                raise PromoError(
                    Kind.NOT_FOUND, "reservation_not_found", "this QR code is not a reservation of this activity"
                )
            return code
        if body.code:
            return normalize_code(body.code)
        raise invalid("code_required", "send the reservation's code or its QR payload", field="code")

    @staticmethod
    def _store_of(rules: ReservationRules, store_id: str | None) -> str:
        if rules.method == "delivery":
            if store_id is not None:
                raise invalid("store_not_applicable", "this item is delivered: no store", field="store_id")
            return SHARED
        if store_id is None:
            raise invalid("store_required", "choose a store for pickup (store_id)", field="store_id")
        if rules.store(store_id) is None:
            raise invalid("store_unknown", f"no store {store_id!r} in this activity", field="store_id")
        return store_id

    async def _reservation_activity(self, activity_id: int) -> tuple[Activity, ReservationRules]:
        activity = await self.activities.published(activity_id, (ACTIVITY_TYPE,), "a reservation activity")
        return activity, self.rules(activity)

    async def _run(self, activity: Activity, call: Callable[[], Awaitable[ScriptReply]]) -> ScriptReply:
        unknown = "it may or may not have happened; send it again (same Idempotency-Key) to learn how it went"
        return await self.activities.run_loaded(activity.id, call, unknown=unknown)

    async def _change(
        self,
        activity: Activity,
        mode: str,
        code: str,
        now_ms: int,
        actor: str,
        today: str = "",
        store: str = "",
        origin: Origin | None = None,
    ) -> None:
        reply = await self._change_reply(activity, mode, code, now_ms, actor, today, store, origin)
        if reply.kind == "refused":
            error = refusal(reply.code or "refused", None, _REFUSALS)
            if reply.code in ("wrong_date", "wrong_store") and reply.detail:
                error.details = {reply.code.removeprefix("wrong_"): reply.detail}
            raise error

    async def _change_reply(
        self,
        activity: Activity,
        mode: str,
        code: str,
        now_ms: int,
        actor: str,
        today: str = "",
        store: str = "",
        origin: Origin | None = None,
    ) -> ScriptReply:
        """change.lua's answer, the code's member loaded from SQL first if a lazy rebuild left it."""
        args = origin_args(origin)
        seen_loaded = False
        for _ in range(4):
            reply = await self._run(
                activity, lambda: self.store.change(activity.id, mode, code, now_ms, actor, today, store, args)
            )
            if reply.kind != "code_not_loaded":
                return reply
            loaded = await self.members.load_code(activity, code)
            if loaded == "unknown" or (loaded == "loaded" and seen_loaded):  # SQL has none, or too old to keep
                return ScriptReply("refused", code="reservation_not_found")
            seen_loaded = seen_loaded or loaded == "loaded"
        raise loading_error()

    async def _view_of(self, activity: Activity, rules: ReservationRules, code: str) -> ReservationView:
        fields = await self.store.reservation(activity.id, code)
        if fields is None and await self.store.lazy_token(activity.id) not in (None, "0"):
            await self.members.load_code(activity, code)  # rebuilt lazily: its member from SQL first
            fields = await self.store.reservation(activity.id, code)
        if fields is None:
            raise refusal("reservation_not_found", None, _REFUSALS)
        return self._view(activity, rules, code, fields)

    def _view(self, activity: Activity, rules: ReservationRules, code: str, fields: dict[str, str]) -> ReservationView:
        tz, item = activity.tz, rules.item
        store = rules.store(fields["store"])
        changed = fields.get("changed_ms")
        return ReservationView(
            code=code,
            qr_payload=self.qr_payload(activity.id, code),
            activity_id=activity.id,
            item=ItemView(
                sku=item.sku,
                name=item.name,
                price_cny=f"{item.price_cny:.2f}",
                deposit_cny=None if item.deposit_cny is None else f"{item.deposit_cny:.2f}",
            ),
            date=date.fromisoformat(fields["date"]),
            method=rules.method,
            store=StoreView(store.id, store.name) if store else None,
            purchase=fields["purchase"],
            status=fields["status"],
            reserved_at=from_ms(int(fields["created_ms"]), tz),
            cancel_until=from_ms(int(fields["cancel_until_ms"]), tz),
            changed_at=from_ms(int(changed), tz) if changed else None,
        )

    # --- the kernel's questions: live state, audit rows ------------------------------------------

    async def load(self, activity: Activity) -> None:
        rules = self.rules(activity)

        async def read() -> ReservationSnapshot:
            return await snapshot(activity, rules, self.repository, self.clock.now_ms())

        async def recover(snapshot: ReservationSnapshot, epoch: str) -> ReservationSnapshot:
            """After a loss of Redis state: hold back pool units the unwritten window may have taken."""
            left = {f"pool:{pool}": units for pool, units in snapshot.pools.items()}
            events = [(reservation_counts.c.activity_id, reservation_counts.c.last_ms)]  # not a scan
            held = await self.activities.recoveries.begin(activity.id, ACTIVITY_TYPE, epoch, left, events=events)
            for counter, units in held.items():
                snapshot.pools[counter.partition(":")[2]] -= units
            return snapshot

        await self.store.load(activity.id, read, recover)

    async def release_held(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        return await self.store.release(activity_id, epoch, counter, units)

    def audit_handlers(self) -> dict[str, EventHandler]:
        return dict.fromkeys(EVENT_TYPES, self.audit_rows)

    async def reconcile(self) -> int:
        """A reservation's scripts leave nothing half done to complete later."""
        return 0

    async def audit_rows(self, activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
        """The SQL rows of a reservation event (reservation/audit.py)."""
        return reservation_rows(activity_id, entry_id, fields)
