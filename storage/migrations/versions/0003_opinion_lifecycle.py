"""opinion lifecycle

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 07:45:50.253453
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('opinion_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('opinion_id', sa.Integer(), nullable=False),
    sa.Column('at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=96), nullable=False),
    sa.Column('from_state', sa.String(length=24), nullable=True),
    sa.Column('to_state', sa.String(length=24), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['opinion_id'], ['opinions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('opinion_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opinion_events_opinion_id'), ['opinion_id'], unique=False)

    with op.batch_alter_table('opinions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('satisfaction', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('feedback_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_opinions_merged_into', 'opinions', ['merged_into_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('opinions', schema=None) as batch_op:
        batch_op.drop_constraint('fk_opinions_merged_into', type_='foreignkey')
        batch_op.drop_column('feedback_at')
        batch_op.drop_column('satisfaction')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('assignee')

    with op.batch_alter_table('opinion_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opinion_events_opinion_id'))

    op.drop_table('opinion_events')
