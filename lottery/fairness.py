"""Commit-reveal draws: the pure rules (no Redis, no SQL).

On publish the platform draws a secret seed and discloses its SHA-256 commitment. Each draw's
pick point is derived from the seed and the draw id, so once the seed is revealed (after the
activity ends) anyone can recompute every draw:

    block_i  = HMAC-SHA256(seed, f"{draw_id}:{i}")          i = 0, 1, 2...
    x_i      = the first 8 bytes of block_i, big-endian      (a 64-bit integer)
    point    = x_i mod total  for the first i with x_i < floor(2**64 / total) * total

Rejecting the top sliver of the 64-bit range makes every point in ``[0, total)`` exactly equally
likely (no modulo bias); with total < 2**21 a block is rejected with probability below 2**-43.

The draw script (`draw.lua`) picks with a 32-bit ``rand`` as ``rand * total // 2**32``
(lottery/odds.py); `rand_for_point` gives the ``rand`` that lands exactly on a derived point, so
the script's arithmetic is unchanged and the logged ``rand`` still re-derives the pick.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from lottery.odds import RAND_RANGE

SEED_BYTES = 32
_SPAN = 2**64


def new_seed() -> bytes:
    return secrets.token_bytes(SEED_BYTES)


def commitment(seed: bytes) -> str:
    """The public commitment to a seed: its SHA-256, in hex."""
    return hashlib.sha256(seed).hexdigest()


def matches(seed: bytes, committed: str) -> bool:
    return hmac.compare_digest(commitment(seed), committed.lower())


def derive_point(seed: bytes, draw_id: str, total: int) -> int:
    """The draw's point in ``[0, total)``, uniform, from the seed and the draw id."""
    if total <= 0:
        raise ValueError("total weight must be positive")
    limit = _SPAN - _SPAN % total  # the largest multiple of total not above 2**64
    counter = 0
    while True:
        block = hmac.digest(seed, f"{draw_id}:{counter}".encode(), "sha256")  # hmac.new's, in one C call
        x = int.from_bytes(block[:8], "big")
        if x < limit:
            return x % total
        counter += 1  # pragma: no cover  (probability below 2**-43 per draw)


def rand_for_point(point: int, total: int) -> int:
    """The smallest 32-bit ``rand`` with ``rand * total // 2**32 == point``."""
    if not 0 <= point < total < RAND_RANGE:
        raise ValueError("point out of range")
    return -(-point * RAND_RANGE // total)  # ceil(point * 2**32 / total)


def derive_rand(seed: bytes, draw_id: str, total: int) -> int:
    """The ``rand`` the draw script is given for this draw (see the module's doc)."""
    return rand_for_point(derive_point(seed, draw_id, total), total)
