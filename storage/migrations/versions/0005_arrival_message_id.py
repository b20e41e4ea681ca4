"""The mail a file arrived in, so that the same message's same file adds nothing when it comes in again by
another way (an mbox imported twice, a saved .eml of a message also seen over IMAP).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("arrivals") as batch:
        batch.add_column(sa.Column("message_id", AutoString(), nullable=True))
    op.create_index("ix_arrivals_message_id_sha256", "arrivals", ["message_id", "sha256"])


def downgrade() -> None:
    op.drop_index("ix_arrivals_message_id_sha256", table_name="arrivals")
    with op.batch_alter_table("arrivals") as batch:
        batch.drop_column("message_id")
