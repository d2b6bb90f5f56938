"""Ids of what members do (draws, sign-ins, initiatives, helps): time-ordered and unguessable."""

from __future__ import annotations

import secrets


def new_id(prefix: str, now_ms: int) -> str:
    """`prefix`, 12 hex digits of milliseconds, 16 hex digits of randomness (64 bits)."""
    return f"{prefix}{now_ms:012x}{secrets.token_hex(8)}"
