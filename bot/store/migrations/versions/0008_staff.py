"""staff: scheduled jobs (proactive reminders), reminder opt-outs, staff settings

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 17:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduled_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("run_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("kind", "key", name="uq_scheduled_jobs_kind_key"),
    )
    op.create_index("ix_scheduled_jobs_status_run_at", "scheduled_jobs", ["status", "run_at"])
    op.create_table(
        "reminder_opt_outs",
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customers.id"),
                  primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "staff_settings",
        sa.Column("name", sa.String(length=60), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staff_settings")
    op.drop_table("reminder_opt_outs")
    op.drop_index("ix_scheduled_jobs_status_run_at", table_name="scheduled_jobs")
    op.drop_table("scheduled_jobs")
