"""policy versions are drafted and published by two admins

``policy_versions`` gains a status (draft, published, withdrawn) and who drafted,
published or withdrew each version, when. Existing versions (seeded by migrations) are
published, drafted by nobody. The four-eyes rule is a CHECK: a drafted version is
published by someone other than its drafter. ``effective_from`` stays unique among
published versions only (a partial unique index), so drafts may propose any date and two
admins publishing for the same instant at once cannot both succeed.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 01:45:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
COMMENTS = {'drafted': 'users.id of the drafter', 'published': 'users.id of the publisher',
            'withdrawn': 'users.id'}
CHECKS = {
    'published_by_a_second_admin': "status <> 'published' OR drafted_by_id IS NULL OR "
                                   "(published_by_id IS NOT NULL AND "
                                   "published_by_id <> drafted_by_id)",
    'withdrawn_has_time': "(status = 'withdrawn') = (withdrawn_at IS NOT NULL)",
}


def upgrade():
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'status', sa.Enum('draft', 'published', 'withdrawn', name='versionstatus',
                              native_enum=False, create_constraint=True, length=32),
            server_default='published', nullable=False))
        for who in ('drafted', 'published', 'withdrawn'):
            # No foreign key into users: see claims.models.PolicyVersion.
            batch_op.add_column(sa.Column(f'{who}_by_id', ID, nullable=True,
                                          comment=COMMENTS[who]))
            batch_op.add_column(sa.Column(f'{who}_at', arbiter.db.UTCDateTime(timezone=True),
                                          nullable=True))
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(op.f(f'ck_policy_versions_{name}'), condition)
        batch_op.drop_constraint('uq_policy_versions_effective_from', type_='unique')
    op.create_index('uq_policy_versions_published_from', 'policy_versions',
                    ['effective_from'], unique=True,
                    sqlite_where=sa.text("status = 'published'"),
                    postgresql_where=sa.text("status = 'published'"))


def downgrade():
    # Drafts and withdrawn versions never judged anything: they go with the columns.
    op.execute("DELETE FROM policy_versions WHERE status <> 'published'")
    op.drop_index('uq_policy_versions_published_from', table_name='policy_versions')
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_policy_versions_effective_from',
                                          ['effective_from'])
        for name in CHECKS:
            batch_op.drop_constraint(op.f(f'ck_policy_versions_{name}'), type_='check')
        for who in ('drafted', 'published', 'withdrawn'):
            batch_op.drop_column(f'{who}_at')
            batch_op.drop_column(f'{who}_by_id')
        batch_op.drop_constraint(op.f('ck_policy_versions_versionstatus'), type_='check')
        batch_op.drop_column('status')
