"""Daily quotas follow the activity's local day, around midnight and across DST, with an
injected clock (no sleeping)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.conftest import Env, wheel


async def test_daily_limit_resets_at_local_midnight(env: Env) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    activity = await env.create(wheel(limits={"per_user_daily": 2, "global_daily": 3}))
    env.clock.set(datetime(2026, 6, 1, 23, 59, 59, tzinfo=shanghai))
    assert [(await env.draw(activity["id"])).status_code for _ in range(3)] == [201, 201, 429]
    other = await env.draw(activity["id"], user="u2")
    assert other.status_code == 201  # third draw of the day overall
    assert (await env.draw(activity["id"], user="u3")).json()["code"] == "global_daily_limit"
    # 16:00 UTC is midnight in Shanghai: a new day for the activity.
    env.clock.set(datetime(2026, 6, 2, 0, 0, 0, tzinfo=shanghai))
    first_of_day = await env.draw(activity["id"])
    assert first_of_day.status_code == 201 and first_of_day.json()["left_today"] == 1


async def test_new_york_activity_day_is_its_own(env: Env) -> None:
    new_york = ZoneInfo("America/New_York")
    activity = await env.create(
        wheel(
            timezone="America/New_York",
            starts_at="2026-01-01T00:00:00-05:00",
            ends_at="2026-12-31T00:00:00-05:00",
            limits={"per_user_daily": 1},
        )
    )
    # 23:30 in New York on 7 March is already 8 March in Shanghai and in UTC.
    env.clock.set(datetime(2026, 3, 7, 23, 30, tzinfo=new_york))
    assert (await env.draw(activity["id"])).status_code == 201
    env.clock.set(datetime(2026, 3, 7, 23, 59, tzinfo=new_york))
    assert (await env.draw(activity["id"])).status_code == 429
    # DST starts on 8 March 2026 at 02:00: the day still ends at local midnight.
    env.clock.set(datetime(2026, 3, 8, 0, 0, 1, tzinfo=new_york))
    assert (await env.draw(activity["id"])).status_code == 201
