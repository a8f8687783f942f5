"""opinions: drop ix_opinions_resident_id, which ix_opinions_resident_created (resident_id, created_at) covers

Every opinion written updated both; lookups by resident use the wider index alone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 20:00:00
"""
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_opinions_resident_id', table_name='opinions')


def downgrade() -> None:
    op.create_index('ix_opinions_resident_id', 'opinions', ['resident_id'], unique=False)
