"""durable background tasks: every task a change asks for is recorded with the change

``task_runs``: the task's name and arguments, when it was asked for and last sent, when a
worker claimed it and finished it, how many times it was claimed and its last error. The
sweeper sends again what did not start (arbiter/tasks.py). Nothing to move: runs asked
for before this migration were sent the old way.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 22:20:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'task_runs',
        sa.Column('task', sa.String(length=80), nullable=False, comment="the Celery task's name"),
        sa.Column('args', sa.JSON(), nullable=False),
        sa.Column('requested_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('sent_at', arbiter.db.UTCDateTime(timezone=True), nullable=False,
                  comment='last handed to the broker (or tried)'),
        sa.Column('started_at', arbiter.db.UTCDateTime(timezone=True), nullable=True,
                  comment='claimed by a worker'),
        sa.Column('finished_at', arbiter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False,
                  comment='times a worker claimed it'),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_runs')),
    )
    # The sweeper's question: which runs have not finished?
    op.create_index('ix_task_runs_unfinished', 'task_runs', ['sent_at'],
                    postgresql_where=sa.text('finished_at IS NULL'),
                    sqlite_where=sa.text('finished_at IS NULL'))


def downgrade():
    op.drop_index('ix_task_runs_unfinished', table_name='task_runs')
    op.drop_table('task_runs')
