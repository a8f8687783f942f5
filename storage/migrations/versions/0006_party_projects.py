"""party members' cards and shows, project claims, progress, ratings, milestones, points

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 08:55:00
"""
from alembic import op
import sqlalchemy as sa
import storage.models


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, storage.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('milestones',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('project_id', sa.Integer(), sa.ForeignKey('projects.id'), nullable=False),
                    sa.Column('title', sa.String(length=128), nullable=False),
                    sa.Column('due_on', sa.String(length=10), nullable=False),
                    _at('done_at', True),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_milestones_project_id', 'milestones', ['project_id'])
    op.create_table('project_claims',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('project_id', sa.Integer(), sa.ForeignKey('projects.id'), nullable=False),
                    sa.Column('member_id', sa.Integer(), sa.ForeignKey('party_members.id'), nullable=False),
                    _at('claimed_at'),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('project_id', 'member_id'))
    op.create_index('ix_project_claims_member_id', 'project_claims', ['member_id'])
    op.create_table('progress_reports',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('project_id', sa.Integer(), sa.ForeignKey('projects.id'), nullable=False),
                    sa.Column('member_id', sa.Integer(), sa.ForeignKey('party_members.id'), nullable=False),
                    _at('at'),
                    sa.Column('text', sa.Text(), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_progress_reports_project_id', 'progress_reports', ['project_id'])
    op.create_table('project_ratings',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('project_id', sa.Integer(), sa.ForeignKey('projects.id'), nullable=False),
                    sa.Column('resident_id', sa.Integer(), sa.ForeignKey('residents.id'), nullable=False),
                    sa.Column('stars', sa.Integer(), nullable=False),
                    sa.Column('comment', sa.Text(), nullable=False),
                    _at('at'),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('project_id', 'resident_id'))
    op.create_table('points_ledger',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('member_id', sa.Integer(), sa.ForeignKey('party_members.id'), nullable=False),
                    sa.Column('points', sa.Integer(), nullable=False),
                    sa.Column('reason', sa.String(length=32), nullable=False),
                    sa.Column('project_id', sa.Integer(), sa.ForeignKey('projects.id'), nullable=True),
                    _at('at'),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_points_ledger_member_id', 'points_ledger', ['member_id'])
    op.create_table('identity_shows',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('member_id', sa.Integer(), sa.ForeignKey('party_members.id'), nullable=False),
                    _at('at'),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_identity_shows_member_id', 'identity_shows', ['member_id'])
    op.create_index('ix_identity_shows_at', 'identity_shows', ['at'])

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('beneficiaries_actual', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('spent_yuan', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('closing_note', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('starts_on', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('ends_on', sa.String(length=10), nullable=True))
        batch_op.add_column(_at('closed_at', True))
        batch_op.add_column(sa.Column('created_by', sa.String(length=96), server_default='system', nullable=False))
    with op.batch_alter_table('party_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('commitment', sa.String(length=128), server_default='', nullable=False))
        batch_op.add_column(sa.Column('card_serial', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(_at('card_revoked_at', True))
        batch_op.create_unique_constraint('uq_party_members_mobile', ['mobile'])


def downgrade() -> None:
    with op.batch_alter_table('party_members', schema=None) as batch_op:
        batch_op.drop_constraint('uq_party_members_mobile', type_='unique')
        for column in ('card_revoked_at', 'card_serial', 'commitment'):
            batch_op.drop_column(column)
    with op.batch_alter_table('projects', schema=None) as batch_op:
        for column in ('created_by', 'closed_at', 'ends_on', 'starts_on', 'closing_note', 'spent_yuan',
                       'beneficiaries_actual'):
            batch_op.drop_column(column)
    for table in ('identity_shows', 'points_ledger', 'project_ratings', 'progress_reports', 'project_claims',
                  'milestones'):
        op.drop_table(table)
