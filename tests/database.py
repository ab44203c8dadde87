"""Emptying tables between tests that really commit (PostgreSQL)."""

from sqlalchemy import text

# Tables whose triggers refuse TRUNCATE (the audit log and its Merkle tree).
APPEND_ONLY = ("audit_entries", "audit_leaves", "audit_tree_nodes", "audit_checkpoints")


def empty_tables(connection, tables: str) -> None:
    """TRUNCATE ``tables`` (comma-separated), the append-only audit log included: its
    triggers refuse TRUNCATE, so they are switched off inside this transaction only. The
    transparency log starts again from an empty tree."""
    for table in APPEND_ONLY:
        connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    # The tree goes with the entries (no foreign key would take its nodes along).
    listed = {name.strip() for name in tables.split(",")}
    tables = ", ".join(sorted(listed | set(APPEND_ONLY)))
    connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    for table in APPEND_ONLY:
        connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    connection.execute(text(
        "INSERT INTO audit_log_state (id, tree_size, scan_from_id) VALUES (1, 0, 0) "
        "ON CONFLICT (id) DO UPDATE SET tree_size = 0, scan_from_id = 0"))


def audit_log_problem():
    """Sequence what is committed, then verify the whole audit log: None when it holds."""
    from arbiter import transparency_log as log

    log.sequence()
    return log.verify(vkey=log.verifier_key()).problem
