"""Ids of what members do (draws, sign-ins, initiatives, helps): time-ordered and unguessable."""

from __future__ import annotations

import os

# The randomness of ids, from os.urandom as secrets.token_hex takes it, but read 4 KiB at a time:
# one system call per 512 ids instead of one per id (each action makes one).
_CHUNK = 4096
_pool = b""
_at = _CHUNK


def _random8() -> bytes:
    global _pool, _at
    if _at >= len(_pool):
        _pool, _at = os.urandom(_CHUNK), 0
    _at += 8
    return _pool[_at - 8 : _at]


def _forget() -> None:
    """A forked child reads its own: a copy of the parent's pool would repeat the parent's ids."""
    global _pool, _at
    _pool, _at = b"", _CHUNK


os.register_at_fork(after_in_child=_forget)


def new_id(prefix: str, now_ms: int) -> str:
    """`prefix`, 12 hex digits of milliseconds, 16 hex digits of randomness (64 bits)."""
    return f"{prefix}{now_ms:012x}{_random8().hex()}"
