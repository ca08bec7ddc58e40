"""ticket dedup key: at most one open ticket per subject

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 07:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.add_column("tickets", sa.Column("dedup_key", sa.String(length=255), nullable=True))
    # An open takeover ticket from before keeps its conversation's key (the oldest one, if
    # a race had already opened several), so a new handoff finds it.
    op.execute(
        "UPDATE tickets SET dedup_key = 'takeover:' || sender_id "
        "WHERE status = 'open' AND takeover AND id = (SELECT MIN(t.id) FROM tickets t "
        "WHERE t.sender_id = tickets.sender_id AND t.status = 'open' AND t.takeover)"
    )
    op.create_index("uq_tickets_open_dedup_key", "tickets", ["dedup_key"], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("uq_tickets_open_dedup_key", table_name="tickets")
    with op.batch_alter_table("tickets") as batch_op:
        batch_op.drop_column("dedup_key")
