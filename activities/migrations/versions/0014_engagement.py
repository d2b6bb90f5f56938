"""engagement: members' events and custom event types (issue 15)

The tables of `events/db.py`: `member_events` (one row per accepted event, written by the audit
writer from the event streams) and `event_types` (operators' custom types); of `event_gift/db.py`:
`gift_firings` (one row per gift an event fired); of `tasks/db.py`: `task_progress` and
`task_claims`; of `quiz/db.py`: the question bank, sessions and results.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("occurred_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("stream_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_member_events_member", "member_events", ["member_id", "occurred_at_ms"])
    op.create_table(
        "event_types",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=200), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "gift_firings",
        sa.Column("gift_id", sa.String(length=80), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("gift_id"),
    )
    op.create_index("ix_gift_firings_activity", "gift_firings", ["activity_id", "user_id"])
    op.create_table(
        "task_progress",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", "task_id", "event_id"),
    )
    op.create_index("ix_task_progress_period", "task_progress", ["activity_id", "period"])
    op.create_table(
        "task_claims",
        sa.Column("claim_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("claim_id"),
        sa.UniqueConstraint("activity_id", "task_id", "period", "user_id", name="uq_task_claims_member"),
    )
    op.create_table(
        "quiz_questions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("answer", sa.String(length=20), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quiz_questions_activity_id", "quiz_questions", ["activity_id"])
    op.create_table(
        "quiz_sessions",
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("questions", sa.String(length=400), nullable=False),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("deadline_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )
    op.create_index("ix_quiz_sessions_member", "quiz_sessions", ["activity_id", "user_id", "day"])
    op.create_table(
        "quiz_results",
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("session_id"),
    )


def downgrade() -> None:
    op.drop_table("quiz_results")
    op.drop_index("ix_quiz_sessions_member", table_name="quiz_sessions")
    op.drop_table("quiz_sessions")
    op.drop_index("ix_quiz_questions_activity_id", table_name="quiz_questions")
    op.drop_table("quiz_questions")
    op.drop_table("task_claims")
    op.drop_index("ix_task_progress_period", table_name="task_progress")
    op.drop_table("task_progress")
    op.drop_index("ix_gift_firings_activity", table_name="gift_firings")
    op.drop_table("gift_firings")
    op.drop_table("event_types")
    op.drop_index("ix_member_events_member", table_name="member_events")
    op.drop_table("member_events")
