"""The application factory and its configuration rules."""

import pytest

from arbiter import create_app
from arbiter.config import ConfigurationError


def test_testing_flag_comes_from_the_argument(fresh_app):
    assert not create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "k"}).testing
    assert fresh_app().testing


def test_environment_variables_with_arbiter_prefix_configure_the_app(monkeypatch, tmp_path):
    monkeypatch.setenv("ARBITER_DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    monkeypatch.setenv("ARBITER_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("ARBITER_PAGE_SIZE", "7")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/env.sqlite3"
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["PAGE_SIZE"] == 7


def test_plain_postgresql_urls_use_psycopg3(monkeypatch):
    monkeypatch.setenv("ARBITER_DATABASE_URL", "postgres://u@db.internal/arbiter")
    monkeypatch.setenv("ARBITER_SECRET_KEY", "s")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.internal/arbiter"


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("ARBITER_SECRET_KEY", raising=False)
    monkeypatch.setenv("ARBITER_ENV", "production")
    with pytest.raises(ConfigurationError, match="ARBITER_SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_development_creates_and_reuses_a_secret_in_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("ARBITER_SECRET_KEY", raising=False)
    monkeypatch.setattr("arbiter.config.INSTANCE_DIR", tmp_path)
    first = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    second = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_production_cookies_are_secure(monkeypatch):
    monkeypatch.setenv("ARBITER_ENV", "production")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "s"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
