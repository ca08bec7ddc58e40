"""conversation events: what the event consumer stores from RabbitMQ, unique per event

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 17:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("event_key", sa.String(length=64), nullable=False, unique=True),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("type_name", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_conversation_events_sender_id", "conversation_events", ["sender_id"])


def downgrade() -> None:
    op.drop_index("ix_conversation_events_sender_id", "conversation_events")
    op.drop_table("conversation_events")
