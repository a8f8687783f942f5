"""staff logins: failed attempts, lockout, session version

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 09:15:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('last_login_at', storage.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        for column in ('last_login_at', 'session_version', 'locked_until', 'failed_logins'):
            batch_op.drop_column(column)
