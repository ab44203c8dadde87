"""The floor for page benchmarks: a bare Flask app returning one row by primary key.

Served by the same gunicorn command as the app (``bench.floor:app`` instead of
``wsgi:app``), on the same database, with SQLAlchemy's pool as the app uses it.
"""

import os

from flask import Flask, abort, jsonify
from sqlalchemy import create_engine, text

engine = create_engine(os.environ["BENCH_FLOOR_DATABASE_URL"], pool_pre_ping=True)
app = Flask(__name__)


@app.get("/users/<int:user_id>")
def user(user_id: int):
    """One row of ``users`` by its primary key, as JSON."""
    with engine.connect() as connection:
        row = connection.execute(text("SELECT id, email, name FROM users WHERE id = :id"),
                                 {"id": user_id}).first()
    if row is None:
        abort(404)
    return jsonify(id=row.id, email=row.email, name=row.name)
