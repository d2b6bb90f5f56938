"""Alembic environment: runs migrations on the async engine of DATABASE_URL."""

from __future__ import annotations

import asyncio
import importlib
import os

from alembic import context
from sqlalchemy.engine import Connection

import activities.accounts_db  # noqa: F401  (registers the operator accounts tables on the metadata)
from activities.db import make_engine, metadata

config = context.config
# The gameplays' tables reach the metadata through the registry, which the kernel does not
# import: its module is named by the `promo.registry` option (activities/migrate.py) or
# PROMO_REGISTRY, and each gameplay's `tables` live on the kernel's metadata.
_registry = config.get_main_option("promo.registry") or os.environ.get("PROMO_REGISTRY", "api.gameplays")
for _gameplay in importlib.import_module(_registry).GAMEPLAYS:
    assert all(table.metadata is metadata for table in _gameplay.tables), _gameplay.name
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
