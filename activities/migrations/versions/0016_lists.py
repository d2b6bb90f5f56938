"""lists: audience lists (issue 15)

The tables of `lists/db.py`: `audience_lists` (one row per list: name, kind allow/deny, size) and
`audience_list_members` (one row per member of a list; the Redis sets are rebuilt from it).
And of `tasks/db.py`: `task_assists` (friends' assists of friend_assist tasks, issue 15 too).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audience_lists",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audience_list_members",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["audience_lists.id"]),
        sa.PrimaryKeyConstraint("list_id", "member_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "task_assists",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("sharer", sa.String(length=64), nullable=False),
        sa.Column("friend", sa.String(length=64), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", "task_id", "period", "sharer", "friend"),
    )


def downgrade() -> None:
    op.drop_table("task_assists")
    op.drop_table("audience_list_members")
    op.drop_table("audience_lists")
