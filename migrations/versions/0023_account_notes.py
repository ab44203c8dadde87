"""account notes: what staff write about an account while looking at its abuse signals

``account_notes`` (the account, the member of staff, the text, when). Append-only in the
database itself, like the audit log: a trigger refuses UPDATE and DELETE on both engines
(a correction is a new note). Staff never write about their own account (a CHECK).
No data moves; the downgrade drops the table and its notes.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 22:30:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

NOTE_MAX = 5000  # signals.policy.NOTE_MAX when this migration was written


def upgrade():
    op.create_table(
        'account_notes',
        sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False,
                  comment='The account the note is about'),
        sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False, comment='The member of staff who wrote it'),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.CheckConstraint(f'length(body) BETWEEN 1 AND {NOTE_MAX}',
                           name=op.f('ck_account_notes_body_length')),
        sa.CheckConstraint('author_id <> user_id',
                           name=op.f('ck_account_notes_not_about_the_author')),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'],
                                name=op.f('fk_account_notes_author_id_users')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_account_notes_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_notes')),
    )
    with op.batch_alter_table('account_notes', schema=None) as batch_op:
        batch_op.create_index('ix_account_notes_user', ['user_id', 'created_at'], unique=False)
    _append_only_triggers()


def _append_only_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION account_notes_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'account_notes is append-only (% refused)', TG_OP;
            END;
            $$
        """)
        op.execute("""
            CREATE TRIGGER account_notes_append_only
            BEFORE UPDATE OR DELETE ON account_notes
            FOR EACH ROW EXECUTE FUNCTION account_notes_append_only()
        """)
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER account_notes_no_{operation.lower()}
                BEFORE {operation} ON account_notes
                BEGIN SELECT RAISE(ABORT, 'account_notes is append-only'); END
            """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER account_notes_append_only ON account_notes")
        op.execute("DROP FUNCTION account_notes_append_only()")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER account_notes_no_{operation}")
    with op.batch_alter_table('account_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_account_notes_user')
    op.drop_table('account_notes')
