"""Operator accounts (issue 13): argon2 password hashes, roles, a clerk's stores, console sessions
with a CSRF token and an expiry on the injectable clock, and a lockout after repeated failures.

Roles: `admin` (accounts, everything), `marketer` (create, edit, publish activities, grant
points), `analyst` (read-only), `clerk` (redeem reservations at its stores, nothing else). The
rule of each operator route is in api/roles.py."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import secrets
from typing import Literal, get_args

import msgspec
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.accounts_db import operator_accounts, operator_sessions
from activities.auth import SUBJECT
from activities.clock import Clock
from activities.errors import Kind, PromoError, conflict, invalid

OperatorRole = Literal["admin", "marketer", "analyst", "clerk"]
ROLES: tuple[str, ...] = get_args(OperatorRole)
STORE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

MAX_FAILURES = 5  # wrong passwords in a row before the account locks
LOCKOUT_MS = 15 * 60 * 1000
SESSION_MS = 8 * 3600 * 1000  # a working day; then log in again
MIN_PASSWORD = 10

# argon2id with the library's parameters (RFC 9106's low-memory profile: 3 passes over 64 MiB):
# tens to hundreds of milliseconds of CPU, always in a worker thread (the C code releases the GIL),
# never on the event loop, which keeps serving draws meanwhile.
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify unknown usernames against: they cost as much as known ones."""
    return _hasher.hash(secrets.token_urlsafe(16))


class Account(msgspec.Struct, frozen=True):
    username: str
    role: str
    stores: tuple[str, ...]
    created_at_ms: int
    last_login_ms: int | None = None
    locked: bool = False


class Session(msgspec.Struct, frozen=True):
    account: Account
    csrf: str
    expires_at_ms: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_fields(username: str, role: str, stores: tuple[str, ...]) -> None:
    if not SUBJECT.match(username):
        raise invalid("invalid_username", "usernames are 1-64 of letters, digits, _ . @ -")
    if role not in ROLES:
        raise invalid("invalid_role", f"role must be one of {', '.join(ROLES)}")
    if not all(STORE.match(s) for s in stores):
        raise invalid("stores_invalid", "store ids are 1-32 of letters, digits, _ -")
    if role == "clerk" and not stores:
        raise invalid("stores_required", "a clerk redeems at its stores: give at least one")


def login_failed() -> PromoError:
    return PromoError(Kind.UNAUTHORIZED, "login_failed", "wrong username or password")


class Accounts:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def create(self, username: str, password: str, role: str, stores: tuple[str, ...] = ()) -> Account:
        check_fields(username, role, stores)
        if len(password) < MIN_PASSWORD:
            raise invalid("password_too_short", f"a password has at least {MIN_PASSWORD} characters")
        now = self.clock.now_ms()
        values = {
            "username": username,
            "password_hash": await asyncio.to_thread(_hasher.hash, password),
            "role": role,
            "stores": list(stores),
            "failed_logins": 0,
            "locked_until_ms": 0,
            "created_at_ms": now,
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(sa.insert(operator_accounts).values(**values))
        except IntegrityError as exc:
            raise conflict("account_exists", f"an account {username!r} already exists") from exc
        return Account(username=username, role=role, stores=stores, created_at_ms=now)

    async def bootstrap_admin(self) -> str | None:
        """On a fresh database (no account at all): an `admin` account with a random password,
        returned once (None when there were accounts already)."""
        async with self.engine.connect() as conn:
            count = (await conn.execute(sa.select(sa.func.count()).select_from(operator_accounts))).scalar_one()
        if count:
            return None
        password = secrets.token_urlsafe(12)
        try:
            await self.create("admin", password, "admin")
        except PromoError:  # another process was first
            return None
        return password

    async def get(self, username: str) -> Account | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(operator_accounts).where(operator_accounts.c.username == username))
            ).first()
        return None if row is None else self._account(row._mapping)

    async def list(self) -> list[Account]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(operator_accounts).order_by(operator_accounts.c.username))).all()
        return [self._account(r._mapping) for r in rows]

    def _account(self, row: sa.RowMapping) -> Account:
        return Account(
            username=row["username"],
            role=row["role"],
            stores=tuple(row["stores"] or ()),
            created_at_ms=row["created_at_ms"],
            last_login_ms=row["last_login_ms"],
            locked=row["locked_until_ms"] > self.clock.now_ms(),
        )

    async def authenticate(self, username: str, password: str) -> Account:
        """The account, or 401 `login_failed` (which of the two was wrong is not said); after
        MAX_FAILURES wrong passwords in a row, 403 `account_locked` for LOCKOUT_MS, even with
        the right password."""
        now = self.clock.now_ms()
        table = operator_accounts
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.username == username))).first()
        if row is None:
            await asyncio.to_thread(_verify, _dummy_hash(), password)
            raise login_failed()
        found = row._mapping
        if found["locked_until_ms"] > now:
            raise PromoError(
                Kind.FORBIDDEN,
                "account_locked",
                "too many failed logins: the account is locked for a while",
                until_ms=found["locked_until_ms"],
            )
        ok = await asyncio.to_thread(_verify, found["password_hash"], password)
        account = table.c.username == username
        async with self.engine.begin() as conn:
            if ok:
                values = {"failed_logins": 0, "locked_until_ms": 0, "last_login_ms": now}
                await conn.execute(sa.update(table).where(account).values(**values))
            else:  # counted in SQL: concurrent failures all count
                await conn.execute(sa.update(table).where(account).values(failed_logins=table.c.failed_logins + 1))
                failures = (await conn.execute(sa.select(table.c.failed_logins).where(account))).scalar_one()
                if failures >= MAX_FAILURES:
                    locked = {"failed_logins": 0, "locked_until_ms": now + LOCKOUT_MS}
                    await conn.execute(sa.update(table).where(account).values(**locked))
        if not ok:  # after the commit: the failure counts
            raise login_failed()
        return self._account(found)

    # --- console sessions ----------------------------------------------------------------------

    async def open_session(self, account: Account) -> tuple[str, Session]:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self.clock.now_ms()
        async with self.engine.begin() as conn:
            await conn.execute(operator_sessions.delete().where(operator_sessions.c.expires_at_ms <= now))
            await conn.execute(
                sa.insert(operator_sessions).values(
                    token_hash=_digest(token),
                    username=account.username,
                    csrf=csrf,
                    created_at_ms=now,
                    expires_at_ms=now + SESSION_MS,
                )
            )
        return token, Session(account=account, csrf=csrf, expires_at_ms=now + SESSION_MS)

    async def session(self, token: str) -> Session | None:
        """The live session of a cookie's token (None: unknown, expired, or its account gone)."""
        if not token or len(token) > 200:
            return None
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(operator_sessions).where(operator_sessions.c.token_hash == _digest(token)))
            ).first()
        if row is None or row._mapping["expires_at_ms"] <= self.clock.now_ms():
            return None
        account = await self.get(row._mapping["username"])
        if account is None:
            return None
        return Session(account=account, csrf=row._mapping["csrf"], expires_at_ms=row._mapping["expires_at_ms"])

    async def close_session(self, token: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(operator_sessions.delete().where(operator_sessions.c.token_hash == _digest(token)))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
