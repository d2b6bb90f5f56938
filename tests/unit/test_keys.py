"""Each gameplay's own Redis keys (checkin/keys.py, assist/keys.py, reservation/keys.py) keep the
names they had in activities/keys.py, under the activity's hash tag: one Redis Cluster slot per
activity, and a live Redis keeps working across the move."""

from __future__ import annotations

from datetime import date

from activities.keys import ActivityKeys, tag
from assist.keys import AssistKeys
from checkin.keys import CheckinKeys
from reservation.keys import ReservationKeys

DAY = date(2026, 3, 2)


def test_key_joins_parts_under_the_hash_tag() -> None:
    assert ActivityKeys(7).key("cycle", "2026-03-02") == "{act:7}:cycle:2026-03-02"
    assert ActivityKeys(7).key("pool") == "{act:7}:pool"


def test_gameplay_keys_keep_their_names() -> None:
    assert CheckinKeys(7).cycle(DAY) == "{act:7}:cycle:2026-03-02"
    assist = AssistKeys(7)
    assert [
        assist.initiative("i1"),
        assist.open_initiatives,
        assist.initiators,
        assist.helped,
        assist.invitees,
        assist.device_day(DAY),
        assist.ip_day(DAY),
    ] == [
        "{act:7}:init:i1",
        "{act:7}:open",
        "{act:7}:initiators",
        "{act:7}:helped",
        "{act:7}:invitees",
        "{act:7}:device_day:2026-03-02",
        "{act:7}:ip_day:2026-03-02",
    ]
    reservation = ReservationKeys(7)
    assert [
        reservation.pools,
        reservation.reservation("C1"),
        reservation.member("u1"),
        reservation.reservation_stats,
    ] == ["{act:7}:pool", "{act:7}:rsv:C1", "{act:7}:member:u1", "{act:7}:rstats"]


def test_a_gameplay_s_keys_include_the_shared_ones_in_the_same_slot() -> None:
    for keys in (CheckinKeys(9), AssistKeys(9), ReservationKeys(9)):
        assert keys.state == ActivityKeys(9).state and keys.events == ActivityKeys(9).events
        assert keys.state.startswith(tag(9))
