"""SQL tables of the back office's people (migration 0011): operator accounts with their role and
stores, their console sessions, and the action log of every operator request that changes
something (or tries to)."""

from __future__ import annotations

import sqlalchemy as sa

from activities.db import metadata

operator_accounts = sa.Table(
    "operator_accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),  # argon2id, PHC string
    sa.Column("role", sa.String(10), nullable=False),  # admin | marketer | analyst | clerk
    sa.Column("stores", sa.JSON, nullable=False),  # a clerk's stores (store ids)
    sa.Column("failed_logins", sa.Integer, nullable=False),  # since the last success
    sa.Column("locked_until_ms", sa.BigInteger, nullable=False),  # 0: not locked
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("last_login_ms", sa.BigInteger),
)

# A console session: the cookie holds a random token, SQL its SHA-256 (a leaked table opens nothing).
operator_sessions = sa.Table(
    "operator_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("expires_at_ms", sa.BigInteger, nullable=False),
)

# Saved activity specs to start new drafts from (a gameplay's create body, without dates).
activity_templates = sa.Table(
    "activity_templates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("source_activity_id", sa.Integer),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
)

operator_log = sa.Table(
    "operator_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("action", sa.String(30), nullable=False),  # create, edit, publish, redeem, login...
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("endpoint", sa.String(200), nullable=False),  # the route, e.g. /operator/activities/{activity_id}
    sa.Column("path", sa.String(300), nullable=False),
    sa.Column("activity_id", sa.Integer),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("via", sa.String(10), nullable=False),  # token | session | cli
    sa.Index("ix_operator_log_account", "account", "id"),
    sa.Index("ix_operator_log_activity", "activity_id", "id"),
)
