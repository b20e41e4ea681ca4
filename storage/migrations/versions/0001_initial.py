"""The first schema: invoices, stored files, arrivals.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_text = AutoString
_time = UTCDateTime


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _text(), nullable=False),
        sa.Column("variant", _text(), nullable=True),
        sa.Column("invoice_code", _text(), nullable=True),
        sa.Column("invoice_number", _text(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("total_fen", sa.Integer(), nullable=True),
        sa.Column("pretax_fen", sa.Integer(), nullable=True),
        sa.Column("tax_fen", sa.Integer(), nullable=True),
        sa.Column("seller_name", _text(), nullable=True),
        sa.Column("seller_tax_id", _text(), nullable=True),
        sa.Column("buyer_name", _text(), nullable=True),
        sa.Column("buyer_tax_id", _text(), nullable=True),
        sa.Column("check_code", _text(), nullable=True),
        sa.Column("status", _text(), nullable=False),
        sa.Column("problems", _text(), nullable=False),
        sa.Column("sources", _text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_invoices_invoice_number", "invoices", ["invoice_number"], unique=False)
    op.create_index("ix_invoices_issue_date", "invoices", ["issue_date"], unique=False)
    op.create_index("ix_invoices_key", "invoices", ["key"], unique=True)
    op.create_index("ix_invoices_seller_name", "invoices", ["seller_name"], unique=False)
    op.create_table(
        "stored_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", _text(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("role", _text(), nullable=False),
        sa.Column("path", _text(), nullable=False),
        sa.Column("state", _text(), nullable=False),
        sa.Column("temp_name", _text(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("kind", _text(), nullable=False),
        sa.Column("original_name", _text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
    )
    op.create_index("ix_stored_files_invoice_id", "stored_files", ["invoice_id"], unique=False)
    op.create_index("ix_stored_files_sha256", "stored_files", ["sha256"], unique=True)
    op.create_table(
        "arrivals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", _text(), nullable=False),
        sa.Column("source_key", _text(), nullable=False),
        sa.Column("sha256", _text(), nullable=False),
        sa.Column("outcome", _text(), nullable=False),
        sa.Column("reason", _text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("first_seen", _time(), nullable=False),
        sa.Column("last_seen", _time(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["stored_files.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_key", "sha256", name="uq_arrival_source_key_sha"),
    )
    op.create_index("ix_arrivals_invoice_id", "arrivals", ["invoice_id"], unique=False)
    op.create_index("ix_arrivals_sha256", "arrivals", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_table("arrivals")
    op.drop_table("stored_files")
    op.drop_table("invoices")
