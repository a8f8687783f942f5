"""opinion categories, routing, deadlines, location, photos, public name

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 08:30:00
"""
from datetime import timedelta

from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# opinions raised before categories existed get the default deadline of 其他 in config.example.toml
EARLIER_HOURS = 120


def upgrade() -> None:
    with op.batch_alter_table('opinions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('category', sa.String(length=16), server_default='其他', nullable=False))
        batch_op.add_column(sa.Column('department', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('due_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('location', sa.String(length=256), server_default='', nullable=False))
        batch_op.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('longitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('photos', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('public_name', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('feedback_asked_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_opinions_resident_created', ['resident_id', 'created_at'], unique=False)

    opinions = sa.table('opinions', sa.column('id', sa.Integer), sa.column('created_at', storage.models.UTCDateTime()),
                        sa.column('due_at', storage.models.UTCDateTime()),
                        sa.column('first_response_at', storage.models.UTCDateTime()),
                        sa.column('photos', sa.JSON))
    events = sa.table('opinion_events', sa.column('opinion_id', sa.Integer), sa.column('at', storage.models.UTCDateTime()),
                      sa.column('actor', sa.String))
    bind = op.get_bind()
    first: dict = {}
    for opinion_id, at in bind.execute(sa.select(events.c.opinion_id, events.c.at).where(events.c.actor.like('staff:%'))):
        first[opinion_id] = min(at, first.get(opinion_id, at))
    for opinion_id, created_at in bind.execute(sa.select(opinions.c.id, opinions.c.created_at)).all():
        responded = first.get(opinion_id)
        bind.execute(opinions.update().where(opinions.c.id == opinion_id).values(
            due_at=created_at + timedelta(hours=EARLIER_HOURS), first_response_at=responded, photos=[]))


def downgrade() -> None:
    with op.batch_alter_table('opinions', schema=None) as batch_op:
        batch_op.drop_index('ix_opinions_resident_created')
        for column in ('feedback_asked_at', 'public_name', 'photos', 'longitude', 'latitude', 'location', 'first_response_at', 'due_at',
                       'department', 'category'):
            batch_op.drop_column(column)
