"""boundary: integer stock columns that refuse floats

Every stock, cap, weight and points amount of a prize is an integer in 0..MAX_COUNT (10^9),
as the specs bound them (activities/model.py): a CHECK refuses anything else, a float that
SQLite would otherwise store in an INTEGER column included (9.223372036854776e18 once reached
prizes.stock). A value already out of range (written before the bounds) is repaired first:
a fractional one is rounded down; one above MAX_COUNT or below 0 becomes 0 (no more units to
hand out; an operator adds stock again), never "near unlimited".

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MAX_COUNT = 1_000_000_000  # activities.model.MAX_COUNT, frozen here as migrations must be

# prizes only: SQLite's batch mode recreates the table, and recreating `activities` (which
# prizes reference, with foreign keys on) would fail on a database with prizes in it.
COLUMNS = {"prizes": ("stock", "daily_stock", "per_user_cap", "weight", "points")}


def bounded_integer(column: str) -> str:
    """The CHECK of one column (the same in activities/db.py): NULL passes, as it must."""
    return f"{column} BETWEEN 0 AND {MAX_COUNT} AND {column} = CAST({column} AS INTEGER)"


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(f"UPDATE {table} SET {column} = 0 WHERE {column} < 0 OR {column} > {MAX_COUNT}")
            op.execute(
                f"UPDATE {table} SET {column} = CAST({column} AS INTEGER) WHERE {column} <> CAST({column} AS INTEGER)"
            )
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.create_check_constraint(f"ck_{table}_{column}_bounded_integer", bounded_integer(column))


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_constraint(f"ck_{table}_{column}_bounded_integer", type_="check")
