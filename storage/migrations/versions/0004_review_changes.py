"""The history of hand corrections in `fapiao review`, and the journal of files being renamed to match.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("arrival_id", sa.Integer(), nullable=True),
        sa.Column("action", AutoString(), nullable=False),
        sa.Column("field", AutoString(), nullable=True),
        sa.Column("old_value", AutoString(), nullable=True),
        sa.Column("new_value", AutoString(), nullable=True),
        sa.Column("note", AutoString(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_changes_invoice_id", "review_changes", ["invoice_id"])
    op.create_index("ix_review_changes_file_id", "review_changes", ["file_id"])
    op.create_index("ix_review_changes_arrival_id", "review_changes", ["arrival_id"])
    op.create_table(
        "file_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("from_path", AutoString(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["stored_files.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("file_id"),
    )


def downgrade() -> None:
    op.drop_table("file_moves")
    op.drop_index("ix_review_changes_arrival_id", table_name="review_changes")
    op.drop_index("ix_review_changes_file_id", table_name="review_changes")
    op.drop_index("ix_review_changes_invoice_id", table_name="review_changes")
    op.drop_table("review_changes")
