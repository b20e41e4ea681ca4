"""Mailbox folders' sync positions and the messages that carried something: what the IMAP poller remembers.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_folders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", AutoString(), nullable=False),
        sa.Column("folder", AutoString(), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "folder", name="uq_mail_folder"),
    )
    op.create_table(
        "mail_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", AutoString(), nullable=False),
        sa.Column("folder", AutoString(), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("message_id", AutoString(), nullable=True),
        sa.Column("subject", AutoString(), nullable=False),
        sa.Column("sender", AutoString(), nullable=False),
        sa.Column("state", AutoString(), nullable=False),
        sa.Column("ack", AutoString(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", AutoString(), nullable=False),
        sa.Column("links", AutoString(), nullable=False),
        sa.Column("next_try", UTCDateTime(), nullable=True),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "folder", "uidvalidity", "uid", name="uq_mail_message_uid"),
    )
    op.create_index("ix_mail_messages_message_id", "mail_messages", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_mail_messages_message_id", table_name="mail_messages")
    op.drop_table("mail_messages")
    op.drop_table("mail_folders")
