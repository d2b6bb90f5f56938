"""Apply the Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str) -> None:
    """Bring the schema to the newest revision. Safe to call at every start."""
    config = alembic_config(database_url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, "head")
        return
    # env.py runs its own event loop; from inside a running loop, give it a thread.
    worker = threading.Thread(target=command.upgrade, args=(config, "head"))
    worker.start()
    worker.join()
