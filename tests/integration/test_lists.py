"""Audience lists (issue 15): upload (CSV streamed, or JSON), read, replace, append, delete; an
activity's audience requiring or excluding lists, checked for every gameplay by the kernel; bad
uploads refused with codes before anything is written; a list's Redis set rebuilt from SQL."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import sqlalchemy as sa

from activities.keys import ListKeys
from activities.model import AudienceLists
from lists.db import audience_list_members
from tests.conftest import Env, checkin_spec, wheel

CSV = {"Content-Type": "text/csv"}


def expect(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def upload(env: Env, name: str, kind: str, members: list[str]) -> dict[str, Any]:
    response = await env.client.post(
        "/operator/lists", json={"name": name, "kind": kind, "members": members}, headers=env.operator()
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def is_member(env: Env, list_id: int, member: str) -> bool:
    response = await env.client.get(f"/operator/lists/{list_id}/members/{member}", headers=env.operator())
    assert response.status_code == 200, response.text
    return bool(response.json()["member"])


async def test_a_csv_upload_with_a_header_crlf_and_repeats(env: Env) -> None:
    body = b'\xef\xbb\xbfmember_id\r\nu1\r\nu2\r\n\r\n"u3"\r\nu1\r\n'
    response = await env.client.post(
        "/operator/lists?name=VIPs&kind=allow", content=body, headers={**env.operator(), **CSV}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["name"], created["kind"], created["size"], created["created_by"]) == ("VIPs", "allow", 3, "ops1")
    list_id = created["id"]
    assert [await is_member(env, list_id, m) for m in ("u1", "u2", "u3", "u4", "member_id")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    got = await env.client.get(f"/operator/lists/{list_id}", headers=env.operator())
    assert got.json() == created
    listed = await env.client.get("/operator/lists", headers=env.operator())
    assert [item["id"] for item in listed.json()["items"]] == [list_id]
    expect(await env.client.get("/operator/lists/999", headers=env.operator()), 404, "list_not_found")


async def test_bad_uploads_are_refused_with_codes_and_write_nothing(env: Env) -> None:
    ops = env.operator()

    async def csv(body: bytes, query: str = "?name=x&kind=deny") -> Any:
        return await env.client.post(f"/operator/lists{query}", content=body, headers={**ops, **CSV})

    expect(await csv(b""), 422, "list_empty")
    expect(await csv(b"member_id\n\n"), 422, "list_empty")
    bad = expect(await csv(b"u1\nu2\n" + b"x" * 65 + b"\n"), 422, "member_id_invalid")
    assert bad["details"]["line"] == 3
    assert expect(await csv(b"u1\nu|2\n"), 422, "member_id_invalid")["details"]["line"] == 2
    expect(await csv(b"u1\n" + b"y" * 5000), 422, "member_id_invalid")  # a line far too long
    expect(await csv("u1\n会员\n".encode()), 422, "member_id_invalid")
    expect(await csv(b"u1\n", query="?kind=deny"), 422, "list_params_required")
    expect(await csv(b"u1\n", query="?name=x&kind=grey"), 400, "invalid_parameter")
    too_many = b"".join(b"%d\n" % i for i in range(1_000_001))
    expect(await csv(too_many), 422, "list_too_large")
    response = await env.client.post("/operator/lists", content=b"u1", headers={**ops, "Content-Type": "image/png"})
    expect(response, 400, "malformed_json")  # not CSV (text/csv, text/plain): read as JSON
    json_bad = {"name": "x", "kind": "deny", "members": ["ok", "not ok"]}
    bad = expect(await env.client.post("/operator/lists", json=json_bad, headers=ops), 422, "member_id_invalid")
    assert bad["details"]["field"] == "members[1]"
    empty = {"name": "x", "kind": "deny", "members": []}
    expect(await env.client.post("/operator/lists", json=empty, headers=ops), 422, "list_empty")
    expect(await env.client.post("/operator/lists", json={"name": "x"}, headers=ops), 422, "invalid_body")
    listed = await env.client.get("/operator/lists", headers=ops)
    assert listed.json()["items"] == []
    async with env.platform.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(audience_list_members))).scalar_one() == 0
    analyst = env.platform.tokens.issue("a1", "operator", operator_role="analyst")
    refused = await env.client.post(
        "/operator/lists", json={**empty, "members": ["u1"]}, headers={"Authorization": f"Bearer {analyst}"}
    )
    expect(refused, 403, "role_forbidden")


async def test_require_and_exclude_admit_the_right_members_on_every_gameplay(env: Env) -> None:
    allow = await upload(env, "Beta testers", "allow", ["a1", "a2", "f1"])
    deny = await upload(env, "Fraud accounts", "deny", ["f1", "f2"])
    audience = {"lists": {"require": [allow["id"]], "exclude": [deny["id"]]}}
    lottery = await env.create(wheel(audience=audience))
    assert lottery["audience"]["lists"] == audience["lists"]
    assert (await env.draw(lottery["id"], user="a1")).status_code == 201
    expect(await env.draw(lottery["id"], user="u9"), 403, "audience_not_in_list")
    expect(await env.draw(lottery["id"], user="f1"), 403, "audience_excluded")
    deny_only = await env.create(checkin_spec(audience={"lists": {"exclude": [deny["id"]]}}))
    assert (await env.sign_in(deny_only["id"], user="u9")).status_code == 201
    expect(await env.sign_in(deny_only["id"], user="f2"), 403, "audience_excluded")
    # Levels and tags are checked first, with their own code.
    gold_only = await env.create(wheel(audience={"levels": ["platinum"], **audience}))
    expect(await env.draw(gold_only["id"], user="a1"), 403, "audience_not_allowed")
    # The lists' changes apply at once: the same list id, new members.
    response = await env.client.put(
        f"/operator/lists/{allow['id']}/members", content=b"u9\n", headers={**env.operator(), **CSV}
    )
    assert response.status_code == 200 and response.json()["size"] == 1, response.text
    assert (await env.draw(lottery["id"], user="u9")).status_code == 201
    expect(await env.draw(lottery["id"], user="a1"), 403, "audience_not_in_list")
    appended = await env.client.post(
        f"/operator/lists/{deny['id']}/members", json={"members": ["u9", "f1"]}, headers=env.operator()
    )
    assert appended.status_code == 200 and appended.json()["size"] == 3, appended.text
    expect(await env.draw(lottery["id"], user="u9"), 403, "audience_excluded")


async def test_an_audience_names_existing_lists_of_the_right_kind(env: Env) -> None:
    allow = await upload(env, "VIPs", "allow", ["a1"])
    ops = env.operator()
    unknown = wheel(audience={"lists": {"require": [allow["id"], 999]}})
    body = expect(
        await env.client.post("/operator/activities", json=unknown, headers=ops), 422, "audience_list_not_found"
    )
    assert body["details"]["field"] == "audience.lists.require[1]"
    wrong = wheel(audience={"lists": {"exclude": [allow["id"]]}})
    response = await env.client.post("/operator/activities", json=wrong, headers=ops)
    expect(response, 422, "audience_list_wrong_kind")
    response = await env.client.post(
        "/operator/activities", json=wheel(audience={"lists": {"require": [0]}}), headers=ops
    )
    expect(response, 422, "invalid_body")


async def test_a_list_in_use_cannot_be_deleted_until_its_activities_are_over(env: Env) -> None:
    deny = await upload(env, "Fraud", "deny", ["f1"])
    activity = await env.create(wheel(audience={"lists": {"exclude": [deny["id"]]}}))
    body = expect(await env.client.delete(f"/operator/lists/{deny['id']}", headers=env.operator()), 409, "list_in_use")
    assert body["details"]["activity_ids"] == [activity["id"]]
    ended = await env.client.post(f"/operator/activities/{activity['id']}/end", headers=env.operator())
    assert ended.status_code == 200, ended.text
    assert (await env.client.delete(f"/operator/lists/{deny['id']}", headers=env.operator())).status_code == 204
    expect(await env.client.get(f"/operator/lists/{deny['id']}", headers=env.operator()), 404, "list_not_found")
    assert not await env.platform.redis.exists(ListKeys(deny["id"]).members)


async def test_a_flushed_list_set_is_rebuilt_from_sql(env: Env) -> None:
    allow = await upload(env, "VIPs", "allow", [f"m{i}" for i in range(5000)])
    activity = await env.create(wheel(audience={"lists": {"require": [allow["id"]]}}))
    await env.platform.redis.flushall()
    assert not await env.platform.redis.exists(ListKeys(allow["id"]).members)
    # Many members at once: one rebuild, every answer right.
    users = [user for i in range(10) for user in (f"m{i}", f"m{4999 - i}", f"x{i}")]
    results = await asyncio.gather(*(env.draw(activity["id"], user=user) for user in users))
    codes = [r.status_code for r in results]
    assert codes == [201, 201, 403] * 10, [r.text for r in results if r.status_code not in (201, 403)]
    assert await env.platform.redis.scard(ListKeys(allow["id"]).members) == 5001  # and the marker
    assert await is_member(env, allow["id"], "m2500")


@pytest.mark.slow
async def test_a_million_member_upload_then_membership(env: Env) -> None:
    body = b"member_id\n" + b"".join(b"member-%07d\n" % i for i in range(1_000_000))
    started = time.perf_counter()
    response = await env.client.post(
        "/operator/lists?name=All&kind=allow", content=body, headers={**env.operator(), **CSV}
    )
    took = time.perf_counter() - started
    assert response.status_code == 201, response.text
    list_id = response.json()["id"]
    assert response.json()["size"] == 1_000_000
    print(f"\n1,000,000-member upload: {took:.1f} s")
    assert await env.platform.redis.scard(ListKeys(list_id).members) == 1_000_001
    assert await is_member(env, list_id, "member-0999999")
    assert not await is_member(env, list_id, "member-1000000")
    # The check members' requests pay: one SMISMEMBER, whatever the list's size (printed, not asserted).
    lists = AudienceLists(require=[list_id])
    started = time.perf_counter()
    for i in range(2000):
        await env.platform.lists.check(lists, f"member-{i * 499:07d}")
    print(f"membership check of a 1,000,000-member list: {(time.perf_counter() - started) / 2000 * 1e6:.0f} us")
    activity = await env.create(wheel(audience={"lists": {"require": [list_id]}}))
    assert (await env.draw(activity["id"], user="member-0123456")).status_code == 201
    expect(await env.draw(activity["id"], user="stranger"), 403, "audience_not_in_list")


@pytest.mark.cluster
async def test_lists_on_a_redis_cluster(cluster_env: Env) -> None:
    env = cluster_env
    allow = await upload(env, "VIPs", "allow", ["a1", "a2"])
    deny = await upload(env, "Fraud", "deny", ["a2"])
    activity = await env.create(wheel(audience={"lists": {"require": [allow["id"]], "exclude": [deny["id"]]}}))
    assert (await env.draw(activity["id"], user="a1")).status_code == 201
    expect(await env.draw(activity["id"], user="a2"), 403, "audience_excluded")
    expect(await env.draw(activity["id"], user="a3"), 403, "audience_not_in_list")


async def test_event_gifts_follow_the_lists_by_member_id(env: Env) -> None:
    from tests.integration.test_event_gift import balance, gift_spec
    from tests.integration.test_events import event, push

    allow = await upload(env, "Members", "allow", ["m1", "bot1"])
    deny = await upload(env, "Fraud", "deny", ["bot1"])
    await env.create(gift_spec() | {"audience": {"lists": {"require": [allow["id"]], "exclude": [deny["id"]]}}})
    batch = [event(f"o-{m}", m, "order_paid", amount=250) for m in ("m1", "bot1", "m2")]
    assert (await push(env, batch)).json()["new"] == 3
    assert [await balance(env, m) for m in ("m1", "bot1", "m2")] == [50, 0, 0]


async def test_assist_helpers_on_a_deny_list_are_refused(env: Env) -> None:
    from tests.conftest import assist_spec

    deny = await upload(env, "Fraud", "deny", ["bot1"])
    activity = await env.create(assist_spec(audience={"lists": {"exclude": [deny["id"]]}}))
    started = await env.start(activity["id"], "u1")
    assert started.status_code == 201, started.text
    token = started.json()["share_token"]
    expect(await env.help(token, "bot1"), 403, "audience_excluded")
    assert (await env.help(token, "f1")).status_code == 201


async def test_a_replacement_swaps_the_set_whole_and_one_change_runs_at_a_time(env: Env) -> None:
    members = [f"m{i}" for i in range(20_000)]
    allow = await upload(env, "Members", "allow", members[:10_000])
    activity = await env.create(wheel(audience={"lists": {"require": [allow["id"]]}}, limits={"per_user_daily": 100}))
    body = "\n".join(members).encode()
    path = f"/operator/lists/{allow['id']}/members"

    async def replace() -> Any:
        return await env.client.put(path, content=body, headers={**env.operator(), **CSV})

    async def draws() -> list[int]:
        # Members of both the old and the new list, during the replacement: never refused.
        return [(await env.draw(activity["id"], user=f"m{i * 97}")).status_code for i in range(40)]

    first, second, seen = await asyncio.gather(replace(), replace(), draws())
    assert sorted([first.status_code, second.status_code]) == [200, 409], (first.text, second.text)
    assert expect(first if first.status_code == 409 else second, 409, "list_busy")["details"]["list_id"] == allow["id"]
    assert set(seen) == {201}, seen
    got = await env.client.get(f"/operator/lists/{allow['id']}", headers=env.operator())
    assert got.json()["size"] == 20_000
    assert await is_member(env, allow["id"], "m19999")


async def test_a_list_whose_rebuild_waits_on_a_lock_answers_503_then_recovers(env: Env) -> None:
    allow = await upload(env, "VIPs", "allow", ["a1"])
    activity = await env.create(wheel(audience={"lists": {"require": [allow["id"]]}}))
    keys = ListKeys(allow["id"])
    await env.platform.redis.delete(keys.members)
    await env.platform.redis.set(keys.lock, "another-process", px=60_000)  # a change elsewhere, stuck
    body = expect(await env.draw(activity["id"], user="a1"), 503, "audience_list_loading")
    assert body["details"]["retry_after_s"] == 1
    await env.platform.redis.delete(keys.lock)  # its holder is gone (the lock expires by itself)
    assert (await env.draw(activity["id"], user="a1")).status_code == 201
