"""The commit-reveal seeds of lotteries (issue 18, lottery/fairness.py): one per lottery, made on
publication, kept in SQL encrypted with the seed key (Fernet, from `cryptography`), its SHA-256
commitment public from then on, the seed itself revealed once the activity has ended.

The key: PROMO_SEED_KEY (a Fernet key: 32 bytes, url-safe base64), else var/seed-key (generated,
0600) for the embedded default. Losing it makes the draws unverifiable (not undrawable: a lottery
whose seed cannot be read draws with fresh random numbers and says so in the log). A seed is never
logged and never leaves this module but through `revealed` (after the end) and the draw path.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.config import private_dir, write_private
from lottery import db
from lottery.fairness import commitment, new_seed

log = logging.getLogger("promo.lottery")


def seed_key(var_dir: Path) -> str:
    """PROMO_SEED_KEY, or the key kept in var/seed-key (created 0600 when missing)."""
    configured = os.environ.get("PROMO_SEED_KEY")
    if configured:
        return configured
    path = var_dir / "seed-key"
    if not path.exists():
        private_dir(var_dir)
        write_private(path, base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    return path.read_text().strip()


class Seeds:
    def __init__(self, engine: AsyncEngine, key: str) -> None:
        self.engine = engine
        self._fernet = Fernet(key.encode())
        self._cache: dict[int, bytes | None] = {}  # this worker's decrypted seeds

    async def create(self, activity_id: int, now_ms: int) -> str:
        """The lottery's seed, made once (publication); returns its commitment."""
        async with self.engine.begin() as conn:
            found = (
                await conn.execute(
                    sa.select(db.lottery_seeds.c.commitment).where(db.lottery_seeds.c.activity_id == activity_id)
                )
            ).scalar()
            if found is not None:
                return str(found)
            seed = new_seed()
            committed = commitment(seed)
            await conn.execute(
                sa.insert(db.lottery_seeds).values(
                    activity_id=activity_id,
                    sealed=self._fernet.encrypt(seed).decode(),
                    commitment=committed,
                    created_at_ms=now_ms,
                )
            )
        self._cache.pop(activity_id, None)
        return committed

    async def seed(self, activity_id: int) -> bytes | None:
        """The lottery's seed (None: it has none), decrypted once per worker."""
        if activity_id in self._cache:
            return self._cache[activity_id]
        async with self.engine.connect() as conn:
            sealed = (
                await conn.execute(
                    sa.select(db.lottery_seeds.c.sealed).where(db.lottery_seeds.c.activity_id == activity_id)
                )
            ).scalar()
        if sealed is None:
            return None  # not published yet, or published before seeds: asked again next time
        try:
            seed: bytes | None = self._open(str(sealed))
        except ValueError as exc:  # the draws go on, unverifiable (and found so by `promo verify`)
            log.error("activity %d: its seed cannot be read (%s); drawing with fresh random numbers", activity_id, exc)
            seed = None
        self._cache[activity_id] = seed
        return seed

    def _open(self, sealed: str) -> bytes:
        try:
            return self._fernet.decrypt(sealed.encode())
        except InvalidToken:
            raise ValueError("the seed was sealed with another key (PROMO_SEED_KEY changed?)") from None


async def commitment_of(engine: AsyncEngine, activity_id: int) -> str | None:
    async with engine.connect() as conn:
        found = (
            await conn.execute(
                sa.select(db.lottery_seeds.c.commitment).where(db.lottery_seeds.c.activity_id == activity_id)
            )
        ).scalar()
    return None if found is None else str(found)
