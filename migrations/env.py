"""Alembic environment: the engine and metadata come from the Flask app (Flask-Migrate)."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url",
    target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%"),
)


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)

    with target_db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a SQLite table as a copy: it drops the old table and
            # renames the copy. With foreign keys enforced, dropping a table that other
            # rows refer to fails, so they are off while migrating, as Alembic's batch
            # documentation asks; every migration then checks them all before it commits
            # (_check_sqlite_foreign_keys). The pragma is ignored inside a transaction:
            # it is set on the raw connection before any begins.
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
            conf_args["on_version_apply"] = _check_sqlite_foreign_keys
        if connection.dialect.name == "postgresql":
            # A migration may rewrite a million rows and wait for the site's locks: the
            # request timeouts (arbiter.config, DB_*_TIMEOUT_SECONDS) are not for it. RESET
            # gives the pooled connection its configured values back afterwards.
            connection.exec_driver_sql("SET statement_timeout = 0")
            connection.exec_driver_sql("SET lock_timeout = 0")
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_db.metadata,
                              **conf_args)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if connection.dialect.name == "postgresql" and not connection.invalidated:
                connection.rollback()
                connection.exec_driver_sql("RESET statement_timeout")
                connection.exec_driver_sql("RESET lock_timeout")
                connection.commit()
            if sqlite:  # back to the pool as every connection is made (arbiter/db.py)
                connection.rollback()  # the pragma is ignored inside a transaction
                raw = connection.connection.dbapi_connection
                raw.execute("PRAGMA foreign_keys=ON")
                if raw.execute("PRAGMA foreign_keys").fetchone() != (1,):
                    connection.invalidate()


def _check_sqlite_foreign_keys(ctx, step, heads, run_args):
    """After each migration step, inside its transaction: every row's foreign keys still
    hold (they are not enforced while migrating, see above)."""
    broken = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        revision = "/".join(step.up_revision_ids)
        raise RuntimeError(f"migration {revision} ({'up' if step.is_upgrade else 'down'}) "
                           f"left rows whose foreign keys do not hold (table, rowid, parent, "
                           f"key): {broken[:20]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
