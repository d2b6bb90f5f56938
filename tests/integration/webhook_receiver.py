"""A local webhook receiver for the tests: a real HTTP server (uvicorn, in its own thread) that
checks Standard Webhooks signatures and answers by path: `/ok`, `/fail` (500), `/hang` (never
answers until the test ends), `/flaky` (fails a share of requests, or the first n attempts of
each webhook-id), and records every request."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    verified: dict[str, bool]  # secret -> whether its signature is there
    answered: int | None = None


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)  # checked on every request
    fail_rate: float = 0.0  # /flaky: share of requests answered 500
    fail_first: int = 0  # /flaky: the first n attempts of each webhook-id answered 500
    seed: int = 1
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self._seen: Counter[str] = Counter()
        self._release = threading.Event()
        self.gate = threading.Event()  # /gate: requests hang while it is closed (then 503), 200 once open
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ids(self, path: str | None = None, answered: int | None = None) -> list[str]:
        with self._lock:
            return [
                r.webhook_id
                for r in self.requests
                if (path is None or r.path == path) and (answered is None or r.answered == answered)
            ]

    def delivered_ids(self) -> set[str]:
        return {i for i in self.ids(answered=200)}

    def payloads(self, path: str | None = None) -> list[Any]:
        with self._lock:
            return [msgspec.json.decode(r.body) for r in self.requests if path is None or r.path == path]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        verified = {}
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                verified[secret] = True
            except WebhookVerificationError:
                verified[secret] = False
        record = Received(
            scope["path"],
            headers.get("webhook-id", ""),
            headers.get("webhook-timestamp", ""),
            headers.get("webhook-signature", ""),
            body,
            verified,
        )
        with self._lock:
            self.requests.append(record)
            self._seen[record.webhook_id] += 1
            attempt = self._seen[record.webhook_id]
            roll = self._random.random()
        status = 200
        if scope["path"] == "/fail":
            status = 500
        elif scope["path"] == "/hang":
            await asyncio.to_thread(self._release.wait)  # set by stop(), from the test's thread
            status = 503
        elif scope["path"] == "/gate" and not self.gate.is_set():
            await asyncio.to_thread(self._wait_gate)
            status = 503
        elif scope["path"] == "/flaky" and (attempt <= self.fail_first or roll < self.fail_rate):
            status = 500
        record.answered = status
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    def _wait_gate(self) -> None:
        while not self.gate.wait(0.05) and not self._release.is_set():
            pass

    def start(self) -> Receiver:
        config = uvicorn.Config(self, host="127.0.0.1", port=0, log_level="error", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="webhook-receiver", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._release.set()
        self.gate.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
