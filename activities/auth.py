"""Player and operator tokens: HS256 JWTs, algorithm pinned, `exp` required and checked.

A player token's `sub` is the brand's member id; `level` and `tags` drive the audience check;
`new` (true for a member who just joined the brand) lets activities open only to new users.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from typing import Literal

import jwt
import msgspec

from activities.errors import Kind, PromoError

log = logging.getLogger("promo.auth")

ALGORITHM = "HS256"
ISSUER = "promo-platform"
SUBJECT = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")  # no '|' or ':' (they separate parts of Redis keys)
Role = Literal["player", "operator", "system"]  # system: a brand's system pushing events


class Identity(msgspec.Struct, frozen=True, gc=False):  # no cycles: keep the token cache out of GC passes
    subject: str
    role: Role
    level: str | None = None
    tags: tuple[str, ...] = ()
    new_user: bool = False
    # Operators (issue 13): the account's role (admin | marketer | analyst | clerk; a token
    # without one is an admin's, as before roles existed) and a clerk's stores.
    operator_role: str | None = None
    stores: tuple[str, ...] = ()
    via: str = "token"  # token | session (the console's cookie)


OPERATOR_ROLES = ("admin", "marketer", "analyst", "clerk")


def _unauthorized(code: str, message: str) -> PromoError:
    return PromoError(Kind.UNAUTHORIZED, code, message)


class Tokens:
    def __init__(self, secret: str, max_cache: int = 50_000) -> None:
        if len(secret) < 32:
            raise ValueError("the JWT secret must be at least 32 characters")
        self._secret = secret
        self._cache: dict[str, tuple[float, Identity]] = {}  # token -> (exp, identity)
        self._max_cache = max_cache

    def issue(
        self,
        subject: str,
        role: Role = "player",
        *,
        level: str | None = None,
        tags: tuple[str, ...] = (),
        new_user: bool = False,
        operator_role: str | None = None,
        stores: tuple[str, ...] = (),
        ttl_s: int = 24 * 3600,
        now: float | None = None,
    ) -> str:
        if not SUBJECT.match(subject):
            raise ValueError("subject must be 1-64 of letters, digits, _ . @ -")
        issued = int(now if now is not None else time.time())
        claims: dict[str, object] = {"sub": subject, "role": role, "iat": issued, "exp": issued + ttl_s, "iss": ISSUER}
        if level is not None:
            claims["level"] = level
        if tags:
            claims["tags"] = list(tags)
        if new_user:
            claims["new"] = True
        if operator_role is not None:
            if role != "operator" or operator_role not in OPERATOR_ROLES:
                raise ValueError(f"an operator's role is one of {', '.join(OPERATOR_ROLES)}")
            claims["orole"] = operator_role
        if stores:
            claims["stores"] = list(stores)
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def seal(self, value: str, purpose: str) -> str:
        """`value` with a signature, for links handed to others (a share token): only this
        platform can make one, and a changed value no longer verifies."""
        return f"{value}.{self._signature(value, purpose)}"

    def unseal(self, token: str, purpose: str) -> str | None:
        """The value of a sealed token, or None if it was not made by `seal` for `purpose`."""
        value, _, signature = token.rpartition(".")
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
        if not value or not hmac.compare_digest(signature.encode(), self._signature(value, purpose).encode()):
            return None
        return value

    def _signature(self, value: str, purpose: str) -> str:
        digest = hmac.new(self._secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def verify(self, token: str) -> Identity:
        cached = self._cache.get(token)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _unauthorized("token_expired", "the token has expired") from exc
        except jwt.InvalidTokenError as exc:
            # Say less than the library does (which check failed helps whoever forges tokens).
            log.debug("token refused: %s", exc)
            raise _unauthorized("token_invalid", "the token is not valid") from exc
        identity = _identity(claims)
        if len(self._cache) >= self._max_cache:
            self._cache.clear()
        self._cache[token] = (float(claims["exp"]), identity)
        return identity


def _identity(claims: dict[str, object]) -> Identity:
    subject, role = claims.get("sub"), claims.get("role", "player")
    level, tags, new_user = claims.get("level"), claims.get("tags", []), claims.get("new", False)
    if not isinstance(subject, str) or not SUBJECT.match(subject):
        raise _unauthorized("token_invalid", "the token subject is not a valid member id")
    if role not in ("player", "operator", "system"):
        raise _unauthorized("token_invalid", "unknown role in token")
    if level is not None and not isinstance(level, str):
        raise _unauthorized("token_invalid", "level must be a string")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _unauthorized("token_invalid", "tags must be a list of strings")
    if not isinstance(new_user, bool):
        raise _unauthorized("token_invalid", "new must be true or false")
    operator_role, stores = claims.get("orole"), claims.get("stores", [])
    if role == "operator" and operator_role is None:
        operator_role = "admin"  # tokens minted before roles: the operator could do everything
    if operator_role is not None and (role != "operator" or operator_role not in OPERATOR_ROLES):
        raise _unauthorized("token_invalid", "unknown operator role in token")
    if not isinstance(stores, list) or not all(isinstance(s, str) for s in stores):
        raise _unauthorized("token_invalid", "stores must be a list of strings")
    return Identity(
        subject=subject,
        role=role,
        level=level,
        tags=tuple(tags),
        new_user=new_user,
        operator_role=operator_role if isinstance(operator_role, str) else None,
        stores=tuple(stores),
    )
