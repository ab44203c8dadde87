"""Emptying tables between tests that really commit (PostgreSQL)."""

from sqlalchemy import text


def empty_tables(connection, tables: str) -> None:
    """TRUNCATE ``tables`` (comma-separated), the append-only audit log included: its
    triggers refuse TRUNCATE, so they are switched off inside this transaction only."""
    connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
    connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    connection.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
