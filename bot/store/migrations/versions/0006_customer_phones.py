"""customer phones: a number a customer registered, and the bcrypt hash of its call PIN

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 14:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_phones",
        sa.Column("phone", sa.String(length=16), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False,
                  unique=True),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("customer_phones")
