"""First tables: runs, scenario snapshots and the append-only audit chain (with its triggers).

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26 19:14:09.392908
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('scenario_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('parts_json', sa.Text(), nullable=False),
    sa.Column('content_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('prev_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('entry_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_sha256'),
    sa.UniqueConstraint('prev_sha256'),
    sa.UniqueConstraint('seq')
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_scenario_id'), ['scenario_id'], unique=False)

    op.create_table('scenario_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('canonical_json', sa.Text(), nullable=False),
    sa.Column('imported_at', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('imported_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sha256')
    )
    with op.batch_alter_table('scenario_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scenario_snapshot_name'), ['name'], unique=False)

    op.create_table('run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('scenario_id', sa.Integer(), nullable=False),
    sa.Column('scenario_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('input_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('params_json', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('engine', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('ortools_version', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('matcher_version', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('threads', sa.Integer(), nullable=False),
    sa.Column('time_limit', sa.Float(), nullable=True),
    sa.Column('node_limit', sa.Integer(), nullable=True),
    sa.Column('solve_seconds', sa.Float(), nullable=False),
    sa.Column('gap', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['scenario_id'], ['scenario_snapshot.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_scenario_id'), ['scenario_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_run_scenario_name'), ['scenario_name'], unique=False)

    op.create_table('run_allocation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('donor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('request', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=True),
    sa.Column('committed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'position')
    )
    with op.batch_alter_table('run_allocation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_allocation_run_id'), ['run_id'], unique=False)

    op.create_table('run_donor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('donor', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('budget', sa.Integer(), nullable=True),
    sa.Column('allocated', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('used', sa.Integer(), nullable=True),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'position')
    )
    with op.batch_alter_table('run_donor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_donor_run_id'), ['run_id'], unique=False)

    op.create_table('run_outcome',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('request', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('funded', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'position')
    )
    with op.batch_alter_table('run_outcome', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_outcome_run_id'), ['run_id'], unique=False)

    op.create_table('run_stage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('term', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('sense', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('bound', sa.Float(), nullable=True),
    sa.Column('gap', sa.Float(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'position')
    )
    with op.batch_alter_table('run_stage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_stage_run_id'), ['run_id'], unique=False)

    op.create_table('run_term',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('term', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('bound', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'term')
    )
    with op.batch_alter_table('run_term', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_term_run_id'), ['run_id'], unique=False)

    op.create_table('run_reason',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outcome_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['outcome_id'], ['run_outcome.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('outcome_id', 'position')
    )
    with op.batch_alter_table('run_reason', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_reason_outcome_id'), ['outcome_id'], unique=False)

    _create_append_only_triggers()



def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table('run_reason', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_reason_outcome_id'))

    op.drop_table('run_reason')
    with op.batch_alter_table('run_term', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_term_run_id'))

    op.drop_table('run_term')
    with op.batch_alter_table('run_stage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_stage_run_id'))

    op.drop_table('run_stage')
    with op.batch_alter_table('run_outcome', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_outcome_run_id'))

    op.drop_table('run_outcome')
    with op.batch_alter_table('run_donor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_donor_run_id'))

    op.drop_table('run_donor')
    with op.batch_alter_table('run_allocation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_allocation_run_id'))

    op.drop_table('run_allocation')
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_scenario_name'))
        batch_op.drop_index(batch_op.f('ix_run_scenario_id'))
        batch_op.drop_index(batch_op.f('ix_run_created_at'))

    op.drop_table('run')
    with op.batch_alter_table('scenario_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scenario_snapshot_name'))

    op.drop_table('scenario_snapshot')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_scenario_id'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_run_id'))

    op.drop_table('audit_entry')


# The audit chain is append-only in the database itself, not only in our code: UPDATE and DELETE
# (and TRUNCATE on PostgreSQL) of audit rows fail for every client.
_REFUSED = "audit entries are append-only"


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{_REFUSED}'; END $$""")
        op.execute("""CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry
                      FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()""")
        op.execute("""CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
                      FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()""")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER audit_entry_no_{action.lower()} BEFORE {action} ON audit_entry
                           BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END""")


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entry_no_change ON audit_entry")
        op.execute("DROP TRIGGER audit_entry_no_truncate ON audit_entry")
        op.execute("DROP FUNCTION audit_entry_append_only()")
    else:
        op.execute("DROP TRIGGER audit_entry_no_update")
        op.execute("DROP TRIGGER audit_entry_no_delete")
