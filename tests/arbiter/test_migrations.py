"""The migrations and the models describe the same schema, on both engines."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from arbiter.extensions import db


def test_autogenerate_finds_no_difference(app, db_session):
    connection = db.session.connection()
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "render_as_batch": True}
    )
    assert compare_metadata(context, db.metadata) == []


def test_every_table_is_migrated(app, db_session):
    tables = set(inspect(db.session.connection()).get_table_names())
    assert set(db.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_downgrade_to_base_and_back(fresh_app):
    from flask_migrate import downgrade, upgrade

    app = fresh_app()
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert "audit_entries" in inspect(db.engine).get_table_names()
        db.engine.dispose()
