"""From events to deliveries: each new event goes to every enabled endpoint subscribed to its
type. Notifications first pass the member's rules: quiet hours in the activity's time zone (the
event waits for their end) and the daily cap across activities (over it, the event is `capped`).
A fulfilment event nobody subscribes to yet waits (re-checked every minute); a notification
nobody subscribes to is `dropped`."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from activities.clock import from_ms, to_ms
from outbound.model import NOTIFICATION_EVENTS, OutboundConfig
from outbound.repository import Endpoint, Event, OutboundRepository

DEFAULT_ZONE = "Asia/Shanghai"  # events outside an activity
RECHECK_MS = 60_000  # a fulfilment event without a subscriber


def quiet_until(now_ms: int, zone: ZoneInfo, quiet: tuple[int, int] | None) -> int | None:
    """The end of the quiet hours (epoch ms) if `now_ms` falls in them, else None."""
    if quiet is None:
        return None
    start, end = quiet
    local = from_ms(now_ms, zone)
    hour = local.hour
    inside = start <= hour < end if start <= end else (hour >= start or hour < end)
    if not inside:
        return None
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    return to_ms(datetime(day.year, day.month, day.day, end, tzinfo=zone))


async def fan_out(
    repository: OutboundRepository,
    endpoints: list[Endpoint],
    events: list[Event],
    config: OutboundConfig,
    now_ms: int,
) -> int:
    """Deliveries for `events` (claimed by this dispatcher); returns how many were made."""
    subscribed: dict[str, list[int]] = defaultdict(list)
    for endpoint in endpoints:
        for type_ in endpoint.event_types:
            subscribed[type_].append(endpoint.id)
    deliveries: list[tuple[int, int]] = []
    states: list[tuple[int, str]] = []
    deferred: list[tuple[int, int]] = []
    notify: list[tuple[Event, str]] = []  # (event, member's day)
    for event in events:
        targets = subscribed.get(event.type, [])
        if event.type not in NOTIFICATION_EVENTS:
            if targets:
                deliveries += [(event.id, endpoint) for endpoint in targets]
                states.append((event.id, "fanned"))
            else:
                deferred.append((event.id, now_ms + RECHECK_MS))
            continue
        if not targets:
            states.append((event.id, "dropped"))
            continue
        zone = ZoneInfo(event.timezone or DEFAULT_ZONE)
        until = quiet_until(now_ms, zone, config.quiet_hours)
        if until is not None:
            deferred.append((event.id, until))
            continue
        notify.append((event, from_ms(now_ms, zone).date().isoformat()))
    sent: dict[tuple[str, str], int] = defaultdict(int)
    counts = await repository.counts({(e.user_id or "", day) for e, day in notify if e.user_id})
    for event, day in notify:
        key = (event.user_id or "", day)
        if event.user_id and counts.get(key, 0) + sent[key] >= config.daily_cap:
            states.append((event.id, "capped"))
            continue
        if event.user_id:
            sent[key] += 1
        deliveries += [(event.id, endpoint) for endpoint in subscribed[event.type]]
        states.append((event.id, "fanned"))
    await repository.apply_fan_out(now_ms, deliveries, states, deferred, dict(sent))
    return len(deliveries)
