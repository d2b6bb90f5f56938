"""Operator accounts (activities/accounts.py): argon2 hashes, lockout after repeated failures,
session expiry on the injectable clock, the admin bootstrap, `promo operator create` and
`promo token --operator --role`."""

from __future__ import annotations

import sqlalchemy as sa

from activities.accounts import LOCKOUT_MS, MAX_FAILURES, SESSION_MS
from activities.accounts_db import operator_accounts
from activities.auth import Tokens
from activities.errors import PromoError
from api import cli
from tests.conftest import Env

PASSWORD = "correct horse battery"


async def refused(coro: object) -> str:
    try:
        await coro  # type: ignore[misc]
    except PromoError as exc:
        return exc.code
    raise AssertionError("not refused")


async def test_password_is_hashed_with_argon2(env: Env) -> None:
    await env.platform.accounts.create("m1", PASSWORD, "marketer")
    async with env.platform.engine.connect() as conn:
        stored = (await conn.execute(sa.select(operator_accounts.c.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert (await env.platform.accounts.authenticate("m1", PASSWORD)).role == "marketer"
    assert await refused(env.platform.accounts.authenticate("m1", "wrong password")) == "login_failed"
    assert await refused(env.platform.accounts.authenticate("nobody", PASSWORD)) == "login_failed"
    assert await refused(env.platform.accounts.create("m1", PASSWORD, "admin")) == "account_exists"
    assert await refused(env.platform.accounts.create("c1", PASSWORD, "clerk")) == "stores_required"
    assert await refused(env.platform.accounts.create("x1", "short", "admin")) == "password_too_short"


async def test_lockout_after_repeated_failures(env: Env) -> None:
    accounts = env.platform.accounts
    await accounts.create("m1", PASSWORD, "marketer")
    for _ in range(MAX_FAILURES):
        assert await refused(accounts.authenticate("m1", "wrong password")) == "login_failed"
    assert await refused(accounts.authenticate("m1", PASSWORD)) == "account_locked"  # even the right one
    env.clock.advance(milliseconds=LOCKOUT_MS - 1000)
    assert await refused(accounts.authenticate("m1", PASSWORD)) == "account_locked"
    env.clock.advance(seconds=2)
    assert (await accounts.authenticate("m1", PASSWORD)).username == "m1"


async def test_session_expires_with_the_clock(env: Env) -> None:
    accounts = env.platform.accounts
    account = await accounts.create("a1", PASSWORD, "admin")
    token, session = await accounts.open_session(account)
    assert (await accounts.session(token)) == session
    env.clock.advance(milliseconds=SESSION_MS - 1)
    assert (await accounts.session(token)) is not None
    env.clock.advance(milliseconds=1)
    assert (await accounts.session(token)) is None
    token, _ = await accounts.open_session(account)
    await accounts.close_session(token)
    assert (await accounts.session(token)) is None


async def test_admin_bootstrap_only_once(env: Env) -> None:
    password = await env.platform.accounts.bootstrap_admin()
    assert password and len(password) >= 10
    assert (await env.platform.accounts.authenticate("admin", password)).role == "admin"
    assert await env.platform.accounts.bootstrap_admin() is None


def test_cli_operator_create_and_role_token(tmp_path, monkeypatch, capsys, restore_process_state) -> None:
    monkeypatch.setenv("PROMO_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PROMO_JWT_SECRET", raising=False)
    assert cli.main(["operator", "create", "--role", "clerk", "--user", "c1", "--stores", "SH01,SH02"]) == 0
    out = capsys.readouterr().out
    assert "'c1' (clerk, stores SH01,SH02), password " in out
    assert cli.main(["operator", "create", "--role", "clerk", "--user", "c1", "--stores", "SH01"]) == 2
    assert "account_exists" in capsys.readouterr().err
    assert cli.main(["token", "--operator", "--role", "clerk", "--stores", "SH01", "--user", "c1"]) == 0
    token = capsys.readouterr().out.strip()
    identity = Tokens((tmp_path / "jwt-secret").read_text().strip()).verify(token)
    assert (identity.role, identity.operator_role, identity.stores) == ("operator", "clerk", ("SH01",))
    assert cli.main(["token", "--operator", "--user", "ops1"]) == 0
    plain = Tokens((tmp_path / "jwt-secret").read_text().strip()).verify(capsys.readouterr().out.strip())
    assert plain.operator_role == "admin"
    assert cli.main(["token", "--role", "clerk", "--user", "c1"]) == 2


async def test_concurrent_failures_all_count(env: Env) -> None:
    """Wrong passwords sent at once (a guessing script) lock the account all the same."""
    import asyncio

    accounts = env.platform.accounts
    await accounts.create("m1", PASSWORD, "marketer")
    codes = await asyncio.gather(*(refused(accounts.authenticate("m1", f"guess-{n}")) for n in range(MAX_FAILURES * 2)))
    assert set(codes) == {"login_failed"}
    assert await refused(accounts.authenticate("m1", PASSWORD)) == "account_locked"
