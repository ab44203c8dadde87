"""impact replays of policy versions run in the background

``impact_runs``: one replay of a period's claims under a policy version, queued by an
admin and run by a background task, with its progress (processed of total) and, once
done, its figures as JSON. At most one unfinished run per version and period (a partial
unique index), so a second request joins the running one.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 04:45:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
UNFINISHED = sa.text("state IN ('queued', 'running')")


def upgrade():
    op.create_table(
        'impact_runs',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('version_id', ID, nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False,
                  comment='first Warsaw day of the claims'),
        sa.Column('period_end', sa.Date(), nullable=False, comment='last Warsaw day, included'),
        sa.Column('requested_by_id', ID, nullable=False),
        sa.Column('state', sa.Enum('queued', 'running', 'done', 'failed', name='impactrunstate',
                                   native_enum=False, create_constraint=True, length=32),
                  nullable=False),
        sa.Column('processed', ID, nullable=False, comment='claims replayed so far'),
        sa.Column('total', ID, nullable=True, comment='claims in the period, once counted'),
        sa.Column('result', sa.JSON(), nullable=True,
                  comment='the figures (grosze) and the largest changes, once done'),
        sa.Column('error', sa.String(length=200), nullable=True,
                  comment='why it failed (no data)'),
        sa.Column('requested_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('started_at', arbiter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', arbiter.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint('period_start <= period_end',
                           name=op.f('ck_impact_runs_period_in_order')),
        sa.CheckConstraint('processed >= 0 AND (total IS NULL OR processed <= total)',
                           name=op.f('ck_impact_runs_processed_within_total')),
        sa.CheckConstraint("(state = 'done') = (result IS NOT NULL)",
                           name=op.f('ck_impact_runs_result_iff_done')),
        sa.CheckConstraint("state NOT IN ('done', 'failed') OR finished_at IS NOT NULL",
                           name=op.f('ck_impact_runs_finished_has_time')),
        sa.ForeignKeyConstraint(['version_id'], ['policy_versions.id'],
                                name=op.f('fk_impact_runs_version_id_policy_versions'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_impact_runs_requested_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_impact_runs')),
    )
    with op.batch_alter_table('impact_runs', schema=None) as batch_op:
        batch_op.create_index('ix_impact_runs_version_period',
                              ['version_id', 'period_start', 'period_end'], unique=False)
        batch_op.create_index('uq_impact_runs_unfinished',
                              ['version_id', 'period_start', 'period_end'], unique=True,
                              sqlite_where=UNFINISHED, postgresql_where=UNFINISHED)


def downgrade():
    with op.batch_alter_table('impact_runs', schema=None) as batch_op:
        batch_op.drop_index('uq_impact_runs_unfinished')
        batch_op.drop_index('ix_impact_runs_version_period')
    op.drop_table('impact_runs')
