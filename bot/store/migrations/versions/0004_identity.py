"""identity: demo shop passwords, used identity-token ids, failed order look-ups,
Telegram account links

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("password_hash", sa.String(length=200), nullable=True))
    op.create_table(
        "used_tokens",
        sa.Column("token_id", sa.String(length=64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_used_tokens_expires_at", "used_tokens", ["expires_at"])
    op.create_table(
        "lookup_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_lookup_failures_key_at", "lookup_failures", ["key", "at"])
    op.create_table(
        "telegram_links",
        sa.Column("token", sa.String(length=64), primary_key=True),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "telegram_accounts",
        sa.Column("chat_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("telegram_accounts")
    op.drop_table("telegram_links")
    op.drop_index("ix_lookup_failures_key_at", table_name="lookup_failures")
    op.drop_table("lookup_failures")
    op.drop_index("ix_used_tokens_expires_at", table_name="used_tokens")
    op.drop_table("used_tokens")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_column("password_hash")
