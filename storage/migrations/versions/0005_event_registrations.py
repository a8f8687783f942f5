"""event registrations: capacity, waitlist, check-in codes, reminders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 08:50:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('head_count', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=6), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('created_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('waiting_since', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checked_in_at', storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checked_in_by', sa.String(length=96), nullable=True),
    sa.Column('reminder_delivery_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'code'),
    sa.UniqueConstraint('event_id', 'resident_id')
    )
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.create_index('ix_registrations_waitlist', ['event_id', 'status', 'waiting_since'], unique=False)
        batch_op.create_index(batch_op.f('ix_registrations_resident_id'), ['resident_id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waitlist', sa.Boolean(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('reminder_hours', sa.Integer(), server_default='24', nullable=False))
        batch_op.add_column(sa.Column('audience', sa.String(length=16), server_default='everyone', nullable=False))
        batch_op.add_column(sa.Column('alerted_percent', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('created_by', sa.String(length=96), server_default='system', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        for column in ('created_by', 'updated_at', 'alerted_percent', 'audience', 'reminder_hours', 'waitlist'):
            batch_op.drop_column(column)
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registrations_resident_id'))
        batch_op.drop_index('ix_registrations_waitlist')
    op.drop_table('registrations')
