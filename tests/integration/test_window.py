"""Every gameplay's state-changing script refuses outside the activity's window, and while it is
not live, with the same codes: one check (activities/window.lua) prepended to each script."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from activities.scripts import WINDOW, LuaScript
from tests.conftest import SHANGHAI, Env, assist_spec, checkin_spec, reservation_spec, wheel

SPAN = {"starts_at": "2026-06-02T00:00:00+08:00", "ends_at": "2026-06-10T00:00:00+08:00"}
BEFORE = datetime(2026, 6, 1, 23, 59, tzinfo=SHANGHAI)
INSIDE = datetime(2026, 6, 9, 12, 0, tzinfo=SHANGHAI)
AFTER = datetime(2026, 6, 10, 0, 0, tzinfo=SHANGHAI)  # the end is exclusive

Action = Callable[[], Awaitable[Any]]


async def _actions(env: Env) -> tuple[dict[str, Action], list[int]]:
    """One call per state-changing script, on activities open from 2 to 9 June; the help's
    initiative is started inside the window, so that the help reaches the window check."""
    lottery = await env.create(wheel(**SPAN))
    checkin = await env.create(checkin_spec(**SPAN))
    assist = await env.create(assist_spec(**SPAN))
    reservation = await env.create(reservation_spec(**SPAN))
    env.clock.set(INSIDE)
    started = await env.start(assist["id"], user="host")
    assert started.status_code == 201, started.text
    token = started.json()["share_token"]
    actions: dict[str, Action] = {
        "draw.lua": lambda: env.draw(lottery["id"]),
        "mark.lua (sign-in)": lambda: env.sign_in(checkin["id"]),
        "mark.lua (make-up)": lambda: env.make_up(checkin["id"], "2026-06-08"),
        "start.lua": lambda: env.start(assist["id"]),
        "help.lua": lambda: env.help(token, "friend"),
        "reserve.lua": lambda: env.reserve(reservation["id"], "2026-06-03"),
    }
    return actions, [lottery["id"], checkin["id"], assist["id"], reservation["id"]]


async def _answers(actions: dict[str, Action]) -> dict[str, tuple[int, str, str]]:
    """Each call's status, code and details (as JSON, comparable)."""
    answers = {}
    for name, action in actions.items():
        response = await action()
        body = response.json()
        answers[name] = (response.status_code, body.get("code"), json.dumps(body.get("details")))
    return answers


async def test_every_script_refuses_outside_its_window_with_the_same_codes(env: Env) -> None:
    actions, _ = await _actions(env)
    env.clock.set(AFTER)
    after = await _answers(actions)
    assert set(after.values()) == {(409, "already_ended", "{}")}, after
    env.clock.set(BEFORE)
    # Before the start no initiative exists yet (a help is initiative_not_found first), and no day
    # is in the past yet (a make-up is makeup_not_in_past first).
    before = await _answers({name: a for name, a in actions.items() if name not in ("help.lua", "mark.lua (make-up)")})
    assert set(before.values()) == {(409, "not_started", "{}")}, before


async def test_every_script_refuses_while_paused_with_the_same_code(env: Env) -> None:
    actions, ids = await _actions(env)
    for activity_id in ids:
        response = await env.client.post(f"/operator/activities/{activity_id}/pause", headers=env.operator())
        assert response.status_code == 200, response.text
    paused = await _answers(actions)
    assert {(status, code) for status, code, _ in paused.values()} == {(409, "activity_not_live")}, paused
    assert all(json.loads(details) == {"status": "paused"} for _, _, details in paused.values()), paused


def test_the_prelude_keeps_each_script_s_lines_as_written() -> None:
    """Folded onto the first line: a Lua error's line number is the file's."""
    assert "\n" not in WINDOW and "outside_window" in WINDOW
    from assist.store import _help, _start
    from checkin.store import _mark
    from lottery.store import _draw
    from reservation.store import _reserve

    for script in (_draw, _mark, _start, _help, _reserve):
        assert isinstance(script, LuaScript)
        assert script.source.startswith(WINDOW + " ")
        assert script.source.count("\n") == script.path.read_text().count("\n")
        assert "outside_window(s[1], s[2], s[3], now)" in script.source
