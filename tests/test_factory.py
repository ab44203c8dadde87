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
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "s",
                      "BASE_URL": "https://arbiter.example"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


# --- the public address (issue 22 item 3) ------------------------------------------------


def test_production_refuses_to_start_without_a_base_url(monkeypatch):
    monkeypatch.setenv("ARBITER_ENV", "production")
    monkeypatch.delenv("ARBITER_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="ARBITER_BASE_URL"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "s"})
    monkeypatch.setenv("ARBITER_BASE_URL", "https://arbiter.example.com/")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "s"})
    assert app.config["BASE_URL"] == "https://arbiter.example.com"


@pytest.mark.parametrize("url", ["arbiter.example.com", "ftp://arbiter.example", "https://",
                                 "https://arbiter.example/?next=x"])
def test_a_base_url_that_is_no_web_address_is_refused(url):
    with pytest.raises(ConfigurationError, match="ARBITER_BASE_URL"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "s", "BASE_URL": url})


def test_development_links_point_to_where_flask_run_listens(monkeypatch):
    monkeypatch.delenv("ARBITER_BASE_URL", raising=False)
    config = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "s"}
    assert create_app(config).config["BASE_URL"] == "http://127.0.0.1:5000"
    monkeypatch.setenv("FLASK_RUN_HOST", "192.0.2.10")
    monkeypatch.setenv("FLASK_RUN_PORT", "8080")
    assert create_app(config).config["BASE_URL"] == "http://192.0.2.10:8080"


def test_flask_serve_makes_links_point_to_its_host_and_port(monkeypatch, fresh_app):
    """``make run`` is ``flask serve --host … --port …``: e-mails and decision documents
    rendered by its background jobs link to that address."""
    import werkzeug.serving

    from arbiter import documents

    monkeypatch.delenv("ARBITER_BASE_URL", raising=False)
    app = fresh_app(EMBEDDED_SCHEDULER=False)
    served = {}

    def run_simple(host, port, application, **kwargs):  # the socket is the boundary
        served["address"] = (host, port)
        with application.app_context():
            served["verify"] = documents.verify_url("ARB/2026/000001")

    monkeypatch.setattr(werkzeug.serving, "run_simple", run_simple)
    with app.app_context():  # as `flask` gives every command
        result = app.test_cli_runner().invoke(args=["serve", "--host", "192.0.2.10",
                                                    "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert served == {"address": ("192.0.2.10", 8123),
                      "verify": "http://192.0.2.10:8123/decisions/ARB/2026/000001/verify"}
    assert "http://192.0.2.10:8123/" in result.output


def test_a_configured_base_url_is_kept_by_flask_serve(monkeypatch, fresh_app):
    import werkzeug.serving

    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda *args, **kwargs: None)
    app = fresh_app(EMBEDDED_SCHEDULER=False, BASE_URL="https://arbiter.example")
    with app.app_context():
        app.test_cli_runner().invoke(args=["serve", "--port", "8123"])
    assert app.config["BASE_URL"] == "https://arbiter.example"


def test_a_request_at_another_address_is_warned_about_once(fresh_app, caplog):
    app = fresh_app(BASE_URL="https://arbiter.example")
    client = app.test_client()
    client.get("/healthz", base_url="http://10.1.2.3:8000")
    client.get("/healthz", base_url="http://10.1.2.4:8000")
    warnings = [record.getMessage() for record in caplog.records
                if "ARBITER_BASE_URL" in record.getMessage()]
    assert warnings == ["ARBITER_BASE_URL is https://arbiter.example but this request "
                        "reached http://10.1.2.3:8000: links in e-mails and decision "
                        "documents point to ARBITER_BASE_URL"]


def test_no_warning_when_the_request_comes_to_the_base_url(fresh_app, caplog):
    app = fresh_app(BASE_URL="https://arbiter.example")
    app.test_client().get("/healthz", base_url="https://arbiter.example")
    assert "ARBITER_BASE_URL" not in caplog.text
