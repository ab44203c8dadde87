"""the audit log becomes a transparency log: per-case chains, a Merkle tree, checkpoints

Entries written from now on chain per case (``orders:<id>``) or per object
(``<table>:<id>``) instead of onto the single newest row, so writers on different cases
never wait for each other. Existing rows keep ``chain_key`` NULL: they stay the old global
chain, which ``flask audit verify`` still checks, and the sequencer takes them first, in
their order, as the tree's first leaves.

New tables: ``audit_log_state`` (one row: the tree's size and where the sequencer scans
from), ``audit_leaves`` (leaf index -> entry), ``audit_tree_nodes`` (the hash of every
complete subtree, so proofs never read the whole log) and ``audit_checkpoints`` (signed
tree heads). Leaves, nodes and checkpoints are append-only like the entries.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 04:50:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
APPEND_ONLY = ('audit_leaves', 'audit_tree_nodes', 'audit_checkpoints')


def upgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'chain_key', sa.String(length=80), nullable=True,
            comment="the chain this entry extends: 'orders:<id>' for a case, "
                    "'<table>:<id>' otherwise; NULL: the global chain written before 0033"))
        batch_op.add_column(sa.Column('chain_seq', sa.Integer(), nullable=True,
                                      comment='1, 2, ... within its chain'))
        batch_op.create_unique_constraint(batch_op.f('uq_audit_entries_chain_key'),
                                          ['chain_key', 'chain_seq'])
        batch_op.create_check_constraint(
            'chained', '(chain_key IS NULL) = (chain_seq IS NULL)')
    _sqlite_append_only_again()

    op.create_table(
        'audit_log_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tree_size', sa.BigInteger(), nullable=False),
        sa.Column('scan_from_id', sa.BigInteger(), nullable=False,
                  comment='every entry with an id up to this one is in the tree'),
        sa.CheckConstraint('id = 1', name=op.f('ck_audit_log_state_one_row')),
        sa.CheckConstraint('tree_size >= 0', name=op.f('ck_audit_log_state_size')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log_state')))
    op.execute("INSERT INTO audit_log_state (id, tree_size, scan_from_id) VALUES (1, 0, 0)")
    op.create_table(
        'audit_leaves',
        sa.Column('leaf_index', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('entry_id', ID, nullable=False),
        sa.Column('sequenced_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['audit_entries.id'],
                                name=op.f('fk_audit_leaves_entry_id_audit_entries')),
        sa.PrimaryKeyConstraint('leaf_index', name=op.f('pk_audit_leaves')),
        sa.UniqueConstraint('entry_id', name=op.f('uq_audit_leaves_entry_id')))
    op.create_table(
        'audit_tree_nodes',
        sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False,
                  comment='covers leaves idx * 2^level up to (idx + 1) * 2^level'),
        sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_audit_tree_nodes')))
    op.create_table(
        'audit_checkpoints',
        sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('note', sa.Text(), nullable=False,
                  comment='the C2SP signed note, exactly as published'),
        sa.Column('signed_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_audit_checkpoints')))

    # Webhook endpoints follow the event feed by its position in the tree now (the entry
    # ids of concurrent writers become visible out of order). The entries of before this
    # migration become the first leaves, in id order: the position after entry N is the
    # number of entries up to N.
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.alter_column('last_event_id', new_column_name='feed_position',
                              existing_type=ID, existing_nullable=False,
                              comment='the events up to this position of the feed have '
                                      'deliveries')
    op.execute("UPDATE webhook_endpoints SET feed_position = (SELECT count(*) FROM "
               "audit_entries WHERE audit_entries.id <= webhook_endpoints.feed_position)")

    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_log_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
            END;
            $$
        """)
        for table in APPEND_ONLY:
            op.execute(f"""
                CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
            """)
            op.execute(f"""
                CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
            """)
    else:
        for table in APPEND_ONLY:
            _sqlite_append_only(table)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION audit_log_append_only()")
    # Back to the id of the newest entry each endpoint has deliveries for.
    op.execute("UPDATE webhook_endpoints SET feed_position = COALESCE((SELECT "
               "audit_leaves.entry_id FROM audit_leaves WHERE audit_leaves.leaf_index = "
               "webhook_endpoints.feed_position - 1), 0)")
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.alter_column('feed_position', new_column_name='last_event_id',
                              existing_type=ID, existing_nullable=False,
                              comment='events up to this audit id have deliveries')
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_tree_nodes')
    op.drop_table('audit_leaves')
    op.drop_table('audit_log_state')
    # Entries written in per-case chains cannot join the old global chain: the downgrade
    # keeps them (the log is append-only), and the old verification reports the first.
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_constraint('chained', type_='check')
        batch_op.drop_constraint(batch_op.f('uq_audit_entries_chain_key'), type_='unique')
        batch_op.drop_column('chain_seq')
        batch_op.drop_column('chain_key')
    _sqlite_append_only_again()


def _sqlite_append_only_again():
    """SQLite's batch mode rebuilt audit_entries, and its triggers went with the old table."""
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_append_only('audit_entries')


def _sqlite_append_only(table):
    for operation in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()}
            BEFORE {operation} ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
        """)
