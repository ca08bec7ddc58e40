"""revoked sign-ins: conversations whose identity tokens the shop has revoked (logout)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 14:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_sign_ins",
        sa.Column("conversation_id", sa.String(length=64), primary_key=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_revoked_sign_ins_revoked_at", "revoked_sign_ins", ["revoked_at"])


def downgrade() -> None:
    op.drop_index("ix_revoked_sign_ins_revoked_at", table_name="revoked_sign_ins")
    op.drop_table("revoked_sign_ins")
