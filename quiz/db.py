"""SQL of quiz draws (on the kernel's metadata; migration 0014)."""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

# The question bank of each activity (operators manage it through the API).
quiz_questions = sa.Table(
    "quiz_questions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("activity_id", sa.Integer, nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("answer", sa.String(20), nullable=False),  # canonical: "0,2"
    sa.Column("explanation", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
)

# Sessions started (the attempts per day) and their results, from the activity's stream.
quiz_sessions = sa.Table(
    "quiz_sessions",
    metadata,
    sa.Column("session_id", sa.String(40), primary_key=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("questions", sa.String(400), nullable=False),  # question ids, "3,9,1"
    sa.Column("started_at_ms", sa.BigInteger, nullable=False),
    sa.Column("deadline_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(40), nullable=False),
    sa.Index("ix_quiz_sessions_member", "activity_id", "user_id", "day"),
)

quiz_results = sa.Table(
    "quiz_results",
    metadata,
    sa.Column("session_id", sa.String(40), primary_key=True),
    sa.Column("activity_id", sa.Integer, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("correct", sa.Integer, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("stream_id", sa.String(40), nullable=False),
)
