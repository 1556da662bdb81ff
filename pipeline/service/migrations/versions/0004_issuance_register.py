"""the issuance register and the recorded decisions, append-only, in the store's migrations

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 05:00:00

Before this revision ``pipeline.issuance.register`` made these two tables itself (``create_all``
on SQLite and PostgreSQL alike, with triggers refusing UPDATE and DELETE on SQLite only). A database
it made already holds them: they are kept as they are, rows and all, and only what is missing is
added — on PostgreSQL that is the append-only guard, which the old code never made.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TABLES = ('issuance_events', 'case_decisions')

_SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb} ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
"""
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION precheck_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$
"""


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    existing = set(inspector.get_table_names())
    if 'issuance_events' not in existing:
        op.create_table('issuance_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('order_no', sa.String(length=32), nullable=False),
        sa.Column('event', sa.String(length=16), nullable=False),
        sa.Column('case_ref', sa.String(length=1024), nullable=True),
        sa.Column('key_type', sa.String(length=8), nullable=True),
        sa.Column('token_serial', sa.String(length=64), nullable=True),
        sa.Column('key_id', sa.String(length=128), nullable=True),
        sa.Column('serial', sa.String(length=64), nullable=True),
        sa.Column('fingerprint', sa.String(length=64), nullable=True),
        sa.Column('certificate_der', sa.LargeBinary(), nullable=True),
        sa.Column('sealed_so_pin', sa.LargeBinary(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
    if 'case_decisions' not in existing:
        op.create_table('case_decisions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('order_no', sa.String(length=32), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('case_digest', sa.String(length=64), nullable=False),
        sa.Column('rule_set_sha256', sa.String(length=64), nullable=True),
        sa.Column('report_json', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
    for table in TABLES:
        index = f'ix_{table}_order_no'
        if table not in existing or index not in {i['name'] for i in inspector.get_indexes(table)}:
            with op.batch_alter_table(table, schema=None) as batch_op:
                batch_op.create_index(index, ['order_no'], unique=False)

    if bind.dialect.name == 'sqlite':
        for table in TABLES:
            for verb in ('UPDATE', 'DELETE'):
                op.execute(_SQLITE_TRIGGER.format(table=table, verb=verb))
    elif bind.dialect.name == 'postgresql':
        op.execute(_PG_FUNCTION)
        for table in TABLES:
            op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON {table}')
            op.execute(f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} '
                       'FOR EACH ROW EXECUTE FUNCTION precheck_append_only()')
            op.execute(f'DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}')
            op.execute(f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} '
                       'FOR EACH STATEMENT EXECUTE FUNCTION precheck_append_only()')
    else:  # pragma: no cover - precheck runs on SQLite and PostgreSQL only
        raise RuntimeError(f'no append-only guard for the {bind.dialect.name} dialect')


def downgrade() -> None:
    # The register's rows are kept: before this revision the register made and kept these tables
    # itself (with SQLite's triggers). Only PostgreSQL's guard, which it never had, is removed.
    if op.get_bind().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON {table}')
            op.execute(f'DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}')
        op.execute('DROP FUNCTION IF EXISTS precheck_append_only()')
