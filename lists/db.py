"""SQL tables of audience lists (on the kernel's metadata; migration 0016)."""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

audience_lists = sa.Table(
    "audience_lists",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(5), nullable=False),  # allow | deny
    sa.Column("size", sa.Integer, nullable=False),  # distinct members
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("updated_at_ms", sa.BigInteger, nullable=False),
)

# One row per (list, member): the primary key is the index (no rowid table on SQLite).
audience_list_members = sa.Table(
    "audience_list_members",
    metadata,
    sa.Column("list_id", sa.Integer, sa.ForeignKey("audience_lists.id"), primary_key=True),
    sa.Column("member_id", sa.String(64), primary_key=True),
    sqlite_with_rowid=False,
)
