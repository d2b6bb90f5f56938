"""Alembic migrations of the SQL schema; `migrate.upgrade()` applies them."""
