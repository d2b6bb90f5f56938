"""What operators see: GET /metrics, request ids in answers and error bodies, one structured log
line per error answer, forwarded headers believed only from trusted proxies."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from activities.logs import JsonFormatter
from api.app import create_app
from api.proxies import Proxies, trusted_networks
from api.telemetry import action_routes
from tests.conftest import Env, asgi_client, assist_spec, make_settings, wheel

DRAWS = "/activities/{activity_id}/draws"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def api_log() -> Iterator[io.StringIO]:
    """The promo.api logger's lines, as the JSON formatter writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("promo.api")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_metrics_count_requests_latency_actions_and_redis_round_trips(env: Env) -> None:
    activity = await env.create(wheel())
    ok = dict(gameplay="lottery", action="draw", outcome="ok")
    refused = dict(gameplay="lottery", action="draw", outcome="idempotency_key_required")
    created = dict(route=DRAWS, method="POST", status="201")
    before = {
        "ok": sample("promo_actions_total", **ok),
        "refused": sample("promo_actions_total", **refused),
        "created": sample("promo_http_requests_total", **created),
        "latency": sample("promo_http_request_duration_seconds_count", route=DRAWS, method="POST"),
        "redis": sample("promo_redis_roundtrip_seconds_count"),
    }
    assert (await env.draw(activity["id"])).status_code == 201
    assert (await env.draw(activity["id"], user="u2")).status_code == 201
    no_key = await env.client.post(f"/activities/{activity['id']}/draws", headers=env.player())
    assert no_key.status_code == 400

    response = await env.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'promo_http_requests_total{method="POST",route="/activities/{activity_id}/draws",status="201"}' in text
    assert "promo_audit_backlog_entries" in text  # every declared metric is exposed
    assert sample("promo_actions_total", **ok) == before["ok"] + 2
    assert sample("promo_actions_total", **refused) == before["refused"] + 1
    assert sample("promo_http_requests_total", **created) == before["created"] + 2
    assert sample("promo_http_request_duration_seconds_count", route=DRAWS, method="POST") == before["latency"] + 3
    assert sample("promo_redis_roundtrip_seconds_count") >= before["redis"] + 2


async def test_unrouted_paths_share_one_label(env: Env) -> None:
    labels = dict(route="<unmatched>", method="GET", status="404")
    before = sample("promo_http_requests_total", **labels)
    for path in ("/nope", "/nope/2", "/activities/1/nothing"):
        assert (await env.client.get(path)).status_code == 404
    assert sample("promo_http_requests_total", **labels) == before + 3


def test_every_action_is_counted(tmp_path: Path) -> None:
    """ACTIONS is labelled from the routes' `opt["action"]` and their gameplay's router: every
    member action of every gameplay is counted, under its route template."""
    app = create_app(settings=make_settings(tmp_path, "unix:///nowhere"))
    routes = {
        (method, re.sub(r":\w+}", "}", route.path))
        for route in app.routes
        for method in getattr(route, "route_handler_map", {})
    }
    actions = action_routes(app)
    assert set(actions) <= routes
    assert sorted(actions.values()) == [
        ("assist", "help"),
        ("assist", "invite"),
        ("assist", "start"),
        ("checkin", "makeup"),
        ("checkin", "signin"),
        ("lottery", "draw"),
        ("points", "grant"),
        ("quiz", "start"),
        ("quiz", "submit"),
        ("reservation", "cancel"),
        ("reservation", "redeem"),
        ("reservation", "reserve"),
        ("tasks", "claim"),
        ("tasks", "task_assist"),
    ]


async def test_metrics_behind_a_token(env: Env) -> None:
    env.platform.settings = replace(env.platform.settings, metrics_token="scrape-me")
    assert (await env.client.get("/metrics")).json()["code"] == "token_missing"
    wrong = await env.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "token_invalid")
    right = await env.client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert right.status_code == 200 and "promo_http_requests_total" in right.text


async def test_a_request_id_is_taken_or_made_and_returned(env: Env) -> None:
    given = await env.client.get("/health", headers={"X-Request-Id": "edge-7f3c:01.a_b"})
    assert given.headers["x-request-id"] == "edge-7f3c:01.a_b"
    made = await env.client.get("/health")
    assert len(made.headers["x-request-id"]) == 16
    for unsafe in ("x" * 129, "has space", "semi;colon", "<script>", ""):
        answer = await env.client.get("/health", headers={"X-Request-Id": unsafe})
        assert answer.headers["x-request-id"] != unsafe
        assert len(answer.headers["x-request-id"]) == 16


async def test_every_error_body_carries_the_request_id(env: Env) -> None:
    activity = await env.create(wheel())
    answers = [
        await env.client.get("/activities/424242", headers={"X-Request-Id": "r1"}),  # a PromoError
        await env.client.get("/no/such/route", headers={"X-Request-Id": "r2"}),  # unrouted
        await env.client.get("/me/draws?limit=0", headers={**env.player(), "X-Request-Id": "r3"}),  # validation
        await env.client.post(f"/activities/{activity['id']}/draws", headers={"X-Request-Id": "r4"}),  # 401
    ]
    for number, answer in enumerate(answers, 1):
        body = answer.json()
        assert answer.status_code >= 400
        assert {"code", "message", "details"} <= set(body)
        assert body["request_id"] == answer.headers["x-request-id"] == f"r{number}"


async def test_one_json_line_per_error_with_its_code_and_no_traceback_for_4xx(env: Env, api_log: io.StringIO) -> None:
    await env.client.get("/activities/424242", headers={"X-Request-Id": "trace-me"})
    assert (await env.client.get("/health")).status_code == 200  # no line for a success
    [line] = lines(api_log)
    assert line["request_id"] == "trace-me"
    assert (line["level"], line["code"], line["status"]) == ("INFO", "activity_not_found", 404)
    assert line["route"] == "/activities/{activity_id}"
    assert {"time", "logger", "message"} <= set(line) and "exception" not in line


async def test_a_500_logs_one_line_with_its_traceback(
    env: Env, api_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(env.platform.activities, "get_published", broken)
    answer = await env.client.get("/activities/1")
    assert (answer.status_code, answer.json()["code"]) == (500, "internal_error")
    [line] = lines(api_log)
    assert (line["level"], line["code"], line["status"]) == ("ERROR", "internal_error", 500)
    assert line["request_id"] == answer.json()["request_id"]
    assert "RuntimeError: boom" in line["exception"]


def test_forwarded_headers_only_from_trusted_proxies() -> None:
    def client_of(proxies: Proxies, peer: str, forwarded: str, proto: str = "https") -> tuple[str, str]:
        scope: dict[str, Any] = {
            "client": (peer, 5000),
            "scheme": "http",
            "headers": [(b"x-forwarded-for", forwarded.encode()), (b"x-forwarded-proto", proto.encode())],
        }
        proxies.apply(scope)
        return scope["client"][0], scope["scheme"]

    nobody = Proxies(trusted_networks([]))
    assert client_of(nobody, "127.0.0.1", "1.2.3.4") == ("127.0.0.1", "http")  # the default: ignored
    edge = Proxies(trusted_networks(["10.0.0.0/8", "127.0.0.1"]))
    assert client_of(edge, "10.1.2.3", "1.2.3.4") == ("1.2.3.4", "https")
    assert client_of(edge, "10.1.2.3", "6.6.6.6, 1.2.3.4, 10.9.9.9") == ("1.2.3.4", "https")  # right-most untrusted
    assert client_of(edge, "8.8.8.8", "1.2.3.4") == ("8.8.8.8", "http")  # not a trusted peer
    assert client_of(edge, "10.1.2.3", "not-an-ip", "gopher") == ("10.1.2.3", "http")
    with pytest.raises(ValueError, match="PROMO_TRUSTED_PROXIES"):
        trusted_networks(["10.0.0.0/33"])


async def test_the_per_ip_help_cap_reads_forwarded_for_only_from_a_trusted_proxy(env: Env) -> None:
    activity = await env.create(assist_spec("collect", assist={"anti_abuse": {"helps_per_ip_daily": 1}}))
    shares = []
    for user in ("i1", "i2", "i3"):
        started = await env.start(activity["id"], user)
        assert started.status_code == 201, started.text
        shares.append(started.json()["share_token"])

    async def help_from(client: Any, share: str, user: str, forwarded_for: str) -> Any:
        headers = {**env.player(user), "X-Forwarded-For": forwarded_for}
        return await client.post(f"/assists/{share}/helps", json={}, headers=headers)

    # By default the header is ignored: both helps come from 127.0.0.1, the second is capped.
    assert (await help_from(env.client, shares[0], "h1", "1.1.1.1")).status_code == 201
    capped = await help_from(env.client, shares[1], "h2", "2.2.2.2")
    assert (capped.status_code, capped.json()["code"]) == (429, "ip_daily_limit")

    # Behind a trusted proxy, the forwarded address is the client's, and the cap applies to it.
    env.platform.settings = replace(env.platform.settings, trusted_proxies=("127.0.0.1",))
    async with asgi_client(env.platform) as behind_proxy:
        assert (await help_from(behind_proxy, shares[1], "h2", "2.2.2.2")).status_code == 201
        again = await help_from(behind_proxy, shares[2], "h3", "2.2.2.2")
        assert (again.status_code, again.json()["code"]) == (429, "ip_daily_limit")
