"""telegram pending updates: an update's JSON kept until it is answered

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 23:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("telegram_seen_updates") as batch_op:
        batch_op.add_column(sa.Column("body", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(), nullable=True))
    op.create_index("ix_telegram_seen_updates_pending", "telegram_seen_updates", ["claimed_at"],
                    sqlite_where=sa.text("body IS NOT NULL"),
                    postgresql_where=sa.text("body IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_telegram_seen_updates_pending", "telegram_seen_updates")
    with op.batch_alter_table("telegram_seen_updates") as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("body")
