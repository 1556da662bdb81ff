"""uploads looked up by sha256: the same file sent to other orders' cases (upload.reused)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 10:55:00
"""

from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.create_index('ix_uploads_sha256', ['sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_index('ix_uploads_sha256')
