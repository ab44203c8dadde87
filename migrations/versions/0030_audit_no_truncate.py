"""the audit log refuses TRUNCATE too (PostgreSQL)

Row triggers do not fire for TRUNCATE, so ``TRUNCATE audit_entries`` emptied the log with
the append-only trigger in place, and ``flask audit verify`` then found a valid, empty
chain. A statement-level trigger refuses it. SQLite has no TRUNCATE: its DELETE without a
WHERE clause fires the row triggers that are there since 0001.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 01:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # The function of 0001 raises for any operation, naming it (TG_OP).
        op.execute("""
            CREATE TRIGGER audit_entries_no_truncate
            BEFORE TRUNCATE ON audit_entries
            FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()
        """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entries_no_truncate ON audit_entries")
