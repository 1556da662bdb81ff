"""the audit chain's head, so that removing the newest events is seen

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 03:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # a chain written before this revision: its head is its newest event
    op.execute("INSERT INTO audit_head (id, last_id, last_hash) "
               "SELECT 1, id, hash FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")


def downgrade() -> None:
    op.drop_table('audit_head')
