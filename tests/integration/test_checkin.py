"""Sign-in activities through the API: streaks and rewards, cycles, the day boundary (midnight,
DST), make-ups, the calendar, rebuilds, reconciliation, and every refusal changing nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import SHANGHAI, Env, checkin_spec

MONDAY = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)


def at(days: int = 0, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    return (MONDAY + timedelta(days=days)).replace(hour=hour, minute=minute, second=second)


async def balance(env: Env, user: str = "u1") -> int:
    response = await env.client.get("/me/points", headers=env.player(user))
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


async def grant(env: Env, amount: int, user: str = "u1", key: str = "g1") -> None:
    headers = {**env.operator(), "Idempotency-Key": key}
    response = await env.client.post(f"/operator/members/{user}/points", json={"amount": amount}, headers=headers)
    assert response.status_code == 201, response.text


async def sign_in_on(env: Env, activity_id: int, when: datetime, user: str = "u1") -> dict[str, Any]:
    env.clock.set(when)
    response = await env.sign_in(activity_id, user)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def rewards(result: dict[str, Any]) -> list[tuple[str, int]]:
    return [(r["rule"], r["at"]) for r in result["rewards"]]


def expect(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.json()


async def test_a_sign_in_a_day_builds_the_streak_and_grants_rewards_once(env: Env) -> None:
    activity = await env.create(checkin_spec())
    first = await sign_in_on(env, activity["id"], at(0))
    assert (first["streak"], first["cumulative"], first["day"]) == (1, 1, "2026-06-01")
    assert rewards(first) == [("daily", 1)] and first["rewards"][0]["status"] == "granted"
    again = await env.sign_in(activity["id"])
    assert again.status_code == 201 and again.json() == {**first, "replayed": True}
    second = await sign_in_on(env, activity["id"], at(1, hour=23, minute=59))
    third = await sign_in_on(env, activity["id"], at(2, hour=0, minute=0, second=1))
    assert (second["streak"], third["streak"]) == (2, 3)
    assert rewards(third) == [("daily", 1), ("streak", 3)]
    assert await balance(env) == 5 + 5 + 5 + 20
    # A day missed breaks the streak; the 3-day reward is not granted again this week.
    fifth = await sign_in_on(env, activity["id"], at(4))
    sixth = await sign_in_on(env, activity["id"], at(5))
    seventh = await sign_in_on(env, activity["id"], at(6))
    assert [r["streak"] for r in (fifth, sixth, seventh)] == [1, 2, 3]
    assert [r["cumulative"] for r in (fifth, sixth, seventh)] == [4, 5, 6]
    assert rewards(sixth) == [("daily", 1), ("cumulative", 5)]
    assert rewards(seventh) == [("daily", 1)]
    assert await balance(env) == 6 * 5 + 20 + 50
    await env.platform.audit_writer.drain()
    counters = await env.counters(activity["id"])
    assert counters["signins_total"] == counters["signins_in_sql"] == 6
    assert counters["rewards_total"] == counters["rewards_in_sql"] == 8


async def test_weekly_monthly_and_rolling_cycles_restart_the_streak(env: Env) -> None:
    weekly = await env.create(checkin_spec())
    sunday = await sign_in_on(env, weekly["id"], at(-1))  # Sunday 31 May: the previous week
    monday = await sign_in_on(env, weekly["id"], at(0))
    assert (sunday["streak"], monday["streak"], monday["cumulative"]) == (1, 1, 1)

    monthly = await env.create(checkin_spec(checkin={"cycle": {"kind": "monthly"}, "makeup": None}))
    assert (await sign_in_on(env, monthly["id"], at(-2)))["streak"] == 1  # 30 May
    assert (await sign_in_on(env, monthly["id"], at(-1)))["streak"] == 2  # 31 May
    june = await sign_in_on(env, monthly["id"], at(0))
    assert (june["streak"], june["cumulative"]) == (1, 1)

    # Rolling 3-day cycles from the first day, 30 May: 30 May-1 June, 2-4 June...
    rolling = await env.create(
        checkin_spec(
            starts_at="2026-05-30T00:00:00+08:00",
            checkin={
                "cycle": {"kind": "rolling", "days": 3},
                "streak_rewards": [],
                "cumulative_rewards": [],
                "makeup": None,
            },
        )
    )
    streaks = [(await sign_in_on(env, rolling["id"], at(d)))["streak"] for d in (-2, -1, 0, 1, 2)]
    assert streaks == [1, 2, 3, 1, 2]
    calendar = await env.calendar(rolling["id"])
    assert (calendar["cycle_start"], calendar["cycle_end"]) == ("2026-06-02", "2026-06-04")


async def test_the_day_is_the_activity_s_local_day_around_midnight_and_dst(env: Env) -> None:
    new_york = ZoneInfo("America/New_York")
    activity = await env.create(
        checkin_spec(
            timezone="America/New_York",
            starts_at="2026-03-01T00:00:00-05:00",
            ends_at="2026-12-01T00:00:00-05:00",
            checkin={"cycle": {"kind": "monthly"}},
        )
    )
    # 23:59:59 on 7 March in New York is 8 March in Shanghai and UTC: still the 7th here.
    first = await sign_in_on(env, activity["id"], datetime(2026, 3, 7, 23, 59, 59, tzinfo=new_york))
    assert first["day"] == "2026-03-07"
    env.clock.set(datetime(2026, 3, 8, 0, 0, 0, tzinfo=new_york) - timedelta(milliseconds=1))
    assert (await env.sign_in(activity["id"])).json()["replayed"] is True
    # 8 March has 23 hours (DST starts at 02:00); its first second is a new day.
    dst = await sign_in_on(env, activity["id"], datetime(2026, 3, 8, 0, 0, 0, tzinfo=new_york))
    assert (dst["day"], dst["streak"]) == ("2026-03-08", 2)
    env.clock.set(datetime(2026, 3, 8, 23, 59, 59, tzinfo=new_york))
    assert (await env.sign_in(activity["id"])).json()["replayed"] is True
    assert (await sign_in_on(env, activity["id"], datetime(2026, 3, 9, 0, 0, 1, tzinfo=new_york)))["streak"] == 3
    # 1 November has 25 hours: 23:30 is still the 1st, 00:00:01 the 2nd.
    nov = await sign_in_on(env, activity["id"], datetime(2026, 11, 1, 23, 30, tzinfo=new_york))
    assert nov["day"] == "2026-11-01"
    after = await sign_in_on(env, activity["id"], datetime(2026, 11, 2, 0, 0, 1, tzinfo=new_york))
    assert (after["day"], after["streak"]) == ("2026-11-02", 2)


async def test_a_make_up_joins_the_runs_and_grants_what_they_newly_reach(env: Env) -> None:
    activity = await env.create(
        checkin_spec(checkin={"makeup": {"per_cycle": 2, "max_days_back": 6, "points_cost": 10}})
    )
    for day in (0, 1, 3, 4, 5, 6):  # Wednesday missed
        await sign_in_on(env, activity["id"], at(day))
    await grant(env, 100)
    before = await balance(env)
    made_up = await env.make_up(activity["id"], "2026-06-03")
    assert made_up.status_code == 201, made_up.text
    body = made_up.json()
    assert (body["kind"], body["day"], body["streak"], body["cumulative"]) == ("makeup", "2026-06-03", 7, 7)
    assert rewards(body) == [("streak", 7)]  # the coupon; the 3-day reward was reached before
    assert body["rewards"][0]["reward"] == {"type": "coupon", "coupon": "WEEK7", "name": "7-day coupon"}
    assert body["makeups_left"] == 1
    assert await balance(env) == before - 10
    replay = await env.make_up(activity["id"], "2026-06-03")  # a retry: the same make-up, not charged again
    assert replay.status_code == 201 and replay.json()["replayed"] is True
    assert replay.json()["mark_id"] == body["mark_id"]
    assert await balance(env) == before - 10
    await env.platform.audit_writer.drain()
    history = (await env.client.get("/me/points/history?limit=200", headers=env.player())).json()["items"]
    assert [r["delta"] for r in history if r["reason"] == "makeup_cost"] == [-10]
    assert not [r for r in history if r["reason"] == "refund"]


async def test_bad_make_ups_are_refused_and_change_nothing(env: Env) -> None:
    activity = await env.create(
        checkin_spec(checkin={"makeup": {"per_cycle": 2, "max_days_back": 3, "points_cost": 30}})
    )
    activity_id = activity["id"]
    for day in (0, 4):
        await sign_in_on(env, activity_id, at(day))  # Monday and Friday
    env.clock.set(at(5))  # Saturday 6 June
    before_points = await balance(env)
    before = await env.counters(activity_id)
    expect(await env.make_up(activity_id, "2026-06-06"), 422, "makeup_not_in_past")
    expect(await env.make_up(activity_id, "2026-06-08"), 422, "makeup_not_in_past")
    expect(await env.make_up(activity_id, "2026-06-02"), 422, "makeup_too_far_back")
    expect(await env.make_up(activity_id, "2026-05-31"), 422, "makeup_outside_cycle")
    expect(await env.make_up(activity_id, "2026-06-05"), 409, "day_already_signed")
    expect(await env.make_up(activity_id, "2026-06-04"), 409, "points_insufficient")  # 10 points, not 30
    expect(
        await env.client.post(f"/activities/{activity_id}/makeups", json={"day": "6 June"}, headers=env.player()),
        422,
        "invalid_body",
    )
    expect(
        await env.client.post(f"/activities/{activity_id}/makeups", json={}, headers=env.player()), 422, "invalid_body"
    )
    assert await balance(env) == before_points
    assert await env.counters(activity_id) == before
    await env.platform.audit_writer.drain()
    history = (await env.client.get("/me/points/history", headers=env.player())).json()["items"]
    assert {r["reason"] for r in history} == {"checkin_reward"}  # no charge, no refund

    await grant(env, 100)
    assert (await env.make_up(activity_id, "2026-06-04")).status_code == 201
    assert (await env.make_up(activity_id, "2026-06-03")).status_code == 201
    expect(await env.make_up(activity_id, "2026-06-02"), 422, "makeup_too_far_back")
    env.clock.set(at(6))
    expect(await env.make_up(activity_id, "2026-06-06"), 429, "makeup_limit")  # two a week
    assert await balance(env) == before_points + 100 - 60 + 20  # two costs; the 3-day streak reward

    no_makeup = await env.create(checkin_spec(checkin={"makeup": None}))
    expect(await env.make_up(no_makeup["id"], "2026-06-06"), 409, "makeup_disabled")
    late = await env.create(checkin_spec(starts_at="2026-06-06T00:00:00+08:00"))
    expect(await env.make_up(late["id"], "2026-06-05"), 422, "makeup_before_start")


async def test_the_calendar_shows_the_month(env: Env) -> None:
    activity = await env.create(checkin_spec(starts_at="2026-05-29T00:00:00+08:00"))
    for day in (-3, -2, 0, 1):  # Fri 29 May, Sat 30 May, Mon 1 June, Tue 2 June
        await sign_in_on(env, activity["id"], at(day))
    env.clock.set(at(3))  # Thursday 4 June, not signed yet; Wednesday missed
    await grant(env, 100)
    await env.platform.audit_writer.drain()  # May is read from SQL
    june = await env.calendar(activity["id"])
    days = {d["date"]: d for d in june["days"]}
    assert len(days) == 30 and june["month"] == "2026-06"
    assert [days[f"2026-06-0{i}"]["status"] for i in range(1, 6)] == ["signed", "signed", "missed", "today", "upcoming"]
    assert days["2026-06-04"]["is_today"] and days["2026-06-03"]["can_make_up"]
    assert days["2026-06-02"]["rewards"] == [{"rule": "daily", "at": 1, "reward": {"type": "points", "points": 5}}]
    assert (june["streak"], june["cumulative"], june["signed_today"]) == (0, 2, False)
    assert (june["cycle_start"], june["cycle_end"], june["makeups_left"], june["makeup_cost"]) == (
        "2026-06-01",
        "2026-06-07",
        2,
        10,
    )
    assert [(n["rule"], n["at"], n["sign_ins_needed"], n["reachable"]) for n in june["next_rewards"]] == [
        ("streak", 3, 3, True),
        ("cumulative", 5, 3, True),
    ]
    # A make-up of Wednesday joins the run: the calendar shows it at once.
    assert (await env.make_up(activity["id"], "2026-06-03")).status_code == 201
    june = await env.calendar(activity["id"])
    assert {d["date"]: d["status"] for d in june["days"]}["2026-06-03"] == "made_up"
    assert (june["streak"], june["makeups_left"]) == (3, 1)
    may = await env.calendar(activity["id"], month="2026-05")
    statuses = {d["date"]: d["status"] for d in may["days"]}
    assert statuses["2026-05-28"] == "closed"  # before the activity
    assert (statuses["2026-05-29"], statuses["2026-05-30"], statuses["2026-05-31"]) == ("signed", "signed", "missed")
    assert not any(d["can_make_up"] for d in may["days"])  # another cycle
    september = await env.calendar(activity["id"], month="2026-09")
    assert {d["status"] for d in september["days"]} == {"closed"}
    bad = await env.client.get(f"/activities/{activity['id']}/calendar?month=June", headers=env.player())
    expect(bad, 400, "invalid_parameter")
    for month in ("2026-13", "0000-01"):
        bad = await env.client.get(f"/activities/{activity['id']}/calendar?month={month}", headers=env.player())
        expect(bad, 400, "invalid_parameter")
    assert {d["status"] for d in (await env.calendar(activity["id"], month="9999-12"))["days"]} == {"closed"}


async def test_outside_the_window_or_paused_nothing_is_signed(env: Env) -> None:
    activity = await env.create(
        checkin_spec(starts_at="2026-06-02T00:00:00+08:00", ends_at="2026-06-10T00:00:00+08:00")
    )
    env.clock.set(at(0))
    expect(await env.sign_in(activity["id"]), 409, "not_started")
    env.clock.set(at(9, hour=0))  # 10 June 00:00: the end is exclusive
    expect(await env.sign_in(activity["id"]), 409, "already_ended")
    expect(await env.make_up(activity["id"], "2026-06-09"), 409, "already_ended")
    env.clock.set(at(3))
    await env.client.post(f"/operator/activities/{activity['id']}/pause", headers=env.operator())
    paused = await env.sign_in(activity["id"])
    expect(paused, 409, "activity_not_live")
    assert paused.json()["details"] == {"status": "paused"}
    counters = await env.counters(activity["id"])
    assert (counters["signins_total"], counters["makeups_total"], counters["rewards_total"]) == (0, 0, 0)
    await env.client.post(f"/operator/activities/{activity['id']}/resume", headers=env.operator())
    assert (await env.sign_in(activity["id"])).status_code == 201


async def test_wrong_activity_type_audience_and_bodies(env: Env) -> None:
    from tests.conftest import wheel

    lottery = await env.create(wheel())
    checkin = await env.create(checkin_spec(audience={"levels": ["platinum"]}))
    expect(await env.sign_in(lottery["id"]), 409, "wrong_activity_type")
    expect(await env.draw(checkin["id"]), 409, "wrong_activity_type")
    expect(await env.sign_in(checkin["id"]), 403, "audience_not_allowed")
    expect(await env.sign_in(999), 404, "activity_not_found")
    signin = f"/activities/{checkin['id']}/signins"
    expect(await env.client.post(signin, json={"x": 1}, headers=env.player(level="platinum")), 422, "invalid_body")
    expect(await env.client.post(signin), 401, "token_missing")
    expect(await env.client.post(signin, headers=env.operator()), 403, "player_token_required")
    assert (await env.client.post(signin, json={}, headers=env.player(level="platinum"))).status_code == 201
    draft = await env.create(checkin_spec(), publish=False)
    expect(await env.sign_in(draft["id"]), 404, "activity_not_found")
    view = (await env.client.get(f"/activities/{checkin['id']}")).json()
    assert view["type"] == "checkin" and view["checkin"]["cycle"] == {"kind": "weekly", "days": None}
    assert view["prizes"] == [] and view["odds_rule"] is None


async def test_operators_get_clear_errors_for_bad_rules(env: Env) -> None:
    from tests.conftest import wheel

    cases: list[tuple[dict[str, Any], str]] = [
        ({"cycle": {"kind": "rolling"}}, "cycle_days_invalid"),
        ({"cycle": {"kind": "weekly", "days": 5}}, "cycle_days_invalid"),
        ({"daily_reward": None, "streak_rewards": [], "cumulative_rewards": []}, "no_rewards"),
        ({"streak_rewards": [{"days": 8, "reward": {"type": "points", "points": 1}}]}, "reward_unreachable"),
        (
            {"streak_rewards": [{"days": 2, "reward": {"type": "points", "points": 1}}] * 2},
            "reward_threshold_repeated",
        ),
        ({"makeup": {"per_cycle": 1, "max_days_back": 7}}, "makeup_days_back_invalid"),
        ({"daily_reward": {"type": "chances", "chances": 1}}, "linked_lottery_required"),
        ({"daily_reward": {"type": "chances", "chances": 1}, "linked_lottery_id": 999}, "linked_lottery_invalid"),
        ({"daily_reward": {"type": "points", "points": 0}}, "invalid_body"),
        ({"daily_reward": {"type": "cash", "amount": 5}}, "invalid_body"),
        ({"cycle": {"kind": "yearly"}}, "invalid_body"),
    ]
    for change, code in cases:
        response = await env.client.post(
            "/operator/activities", json=checkin_spec(checkin=change), headers=env.operator()
        )
        expect(response, 422, code)
    lottery = await env.create(wheel(), publish=False)
    thanks = lottery["prizes"][-1]["id"]
    for prize_id in (thanks, 999):
        spec = checkin_spec(
            checkin={"daily_reward": {"type": "prize", "prize_id": prize_id}, "linked_lottery_id": lottery["id"]}
        )
        expect(
            await env.client.post("/operator/activities", json=spec, headers=env.operator()),
            422,
            "prize_not_in_linked_lottery",
        )
    expect(
        await env.client.post(
            "/operator/activities", json={**checkin_spec(), "timezone": "Mars/Olympus"}, headers=env.operator()
        ),
        422,
        "unknown_timezone",
    )
    # A sign-in rewarding from a draft lottery cannot go live before it.
    linked = await env.create(
        checkin_spec(checkin={"daily_reward": {"type": "chances", "chances": 1}, "linked_lottery_id": lottery["id"]}),
        publish=False,
    )
    publish = f"/operator/activities/{linked['id']}/publish"
    expect(await env.client.post(publish, headers=env.operator()), 409, "linked_lottery_not_published")
    assert (await env.client.get(f"/operator/activities/{linked['id']}", headers=env.operator())).json()[
        "status"
    ] == "draft"
    await env.client.post(f"/operator/activities/{lottery['id']}/publish", headers=env.operator())
    assert (await env.client.post(publish, headers=env.operator())).status_code == 200
    assert len((await env.client.get("/operator/activities", headers=env.operator())).json()["items"]) == 2
