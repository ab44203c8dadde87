"""staff roles: advisor, senior, finance, admin instead of one staff flag

``staff_roles`` holds one row per role a person holds (who granted it and when). Everyone
who was staff becomes an ``advisor`` (what staff did until now), granted at their account's
creation by nobody; ``users.is_staff`` goes.

The downgrade makes everyone holding any role staff again and drops the table: which roles
they held is lost (the audit log keeps every grant).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 22:10:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

ROLES = ('advisor', 'senior', 'finance', 'admin')


def upgrade():
    op.create_table(
        'staff_roles',
        sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('role', sa.Enum(*ROLES, name='staffrole', native_enum=False,
                                  create_constraint=True, length=32), nullable=False),
        sa.Column('granted_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('granted_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=True,
                  comment='who granted it; empty for the command line and the migration'),
        sa.ForeignKeyConstraint(['granted_by_id'], ['users.id'],
                                name=op.f('fk_staff_roles_granted_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_staff_roles_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'role', name=op.f('pk_staff_roles')),
    )
    op.execute("INSERT INTO staff_roles (user_id, role, granted_at) "
               "SELECT id, 'advisor', created_at FROM users WHERE is_staff")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('is_staff')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_staff', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute("UPDATE users SET is_staff = EXISTS "
               "(SELECT 1 FROM staff_roles WHERE staff_roles.user_id = users.id)")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('is_staff', server_default=None)
    op.drop_table('staff_roles')
