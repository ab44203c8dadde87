"""Configuration: defaults here, overridden by ``ARBITER_*`` environment variables.

Every variable is listed in docs/operations.md ("Configuration"). ``ARBITER_DATABASE_URL`` becomes
``SQLALCHEMY_DATABASE_URI``; everything else keeps its name without the prefix.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = ROOT / "instance"


class ConfigurationError(RuntimeError):
    """The app cannot start safely with this configuration."""


DEFAULTS = {
    "ENV": "development",
    "DATABASE_URL": None,  # default: sqlite:///<instance>/arbiter.sqlite3
    "REDIS_URL": None,
    "RATELIMIT_STORAGE_URI": None,  # default: REDIS_URL when set, else memory://
    "STORAGE_DIR": None,  # default: <instance>/storage
    "DEFAULT_LOCALE": "pl",
    "SESSION_LIFETIME_DAYS": 14,
    # Sign-in attempts (accounts.throttle): growing waits per account at one address, and a
    # budget per address across accounts against spraying. Every attempt counts until a
    # sign-in completes, which clears its account's windows at that address.
    "LOGIN_LIMITS_PER_ACCOUNT_AND_ADDRESS": "5 per minute; 10 per 15 minutes; 20 per day",
    "LOGIN_LIMITS_PER_ADDRESS": "20 per minute; 200 per hour",
    "PAGE_SIZE": 20,
    # The public address links in e-mails and decision documents point to. Required in
    # production; in development `flask serve` (make run) sets it from its --host and
    # --port, `flask run` from FLASK_RUN_HOST/FLASK_RUN_PORT, else DEVELOPMENT_BASE_URL.
    "BASE_URL": None,
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (one
    # nginx: 1). 0: none, the connection's own address is the client's.
    "PROXY_COUNT": 0,
    "MAIL_BACKEND": None,  # default: smtp when SMTP_HOST is set, else file (instance/mail)
    "MAIL_DIR": None,
    # The transparency log (arbiter.transparency_log). The signing key is never in the
    # database: the key text itself, or a file holding it (`flask audit keygen`).
    "AUDIT_SIGNING_KEY": None,
    "AUDIT_SIGNING_KEY_FILE": None,  # default: <instance>/audit-signing.key
    "AUDIT_VERIFIER_KEY": None,  # default: derived from the signing key
    # The checkpoints' first line, the log's name; default: the signing key's name, which
    # `flask audit keygen` takes from BASE_URL (<host>/audit-log).
    "AUDIT_LOG_ORIGIN": None,
    "AUDIT_VERIFIED_FILE": None,  # default: <instance>/audit-verified.json
    # The sequencer adds committed entries to the tree (and so to the event feed) this
    # often, and signs a checkpoint when the tree grew and the last is this old.
    "AUDIT_SEQUENCE_INTERVAL_SECONDS": 5,
    "AUDIT_CHECKPOINT_INTERVAL_SECONDS": 60,
    "MAIL_FROM": "Arbiter <no-reply@arbiter.test>",
    "SUPPORT_EMAIL": "support@arbiter.test",  # privacy page: corrections, objections
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_SECURITY": "none",  # none | starttls | ssl
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_TIMEOUT": 10,
    "OUTBOX_MAX_ATTEMPTS": 8,
    "SWEEP_INTERVAL_SECONDS": 60,
    "OUTBOX_INTERVAL_SECONDS": 15,
    "EMBEDDED_SCHEDULER": True,  # `flask serve` runs the sweeper in process without Redis
    "API_TOKEN_LIFETIME_DAYS": 30,  # user tokens from POST /api/v1/auth/tokens
    "WEBHOOK_MAX_ATTEMPTS": 10,  # failed tries before a webhook delivery has failed
    "WEBHOOK_TIMEOUT_SECONDS": 5,  # per connect, send and read of a delivery attempt
    # Webhooks go only to public addresses; these networks (CIDR, a JSON list or a
    # comma-separated string) are allowed anyway, e.g. a receiver on the same private
    # network. Empty by default: never loopback, private, link-local or metadata.
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": [],
    # An Idempotency-Key "in progress" longer than this lost its request (a worker killed
    # at its timeout, a dropped connection): a retry with the same key may run. Longer
    # than gunicorn's worker timeout (30 s), so a slow request is never run twice.
    "IDEMPOTENCY_LEASE_SECONDS": 60,
    # PostgreSQL: a database that does not answer, a statement that does not finish and a
    # row (or the audit chain) locked by someone else end the request with a 503 and
    # Retry-After after these many seconds instead of hanging until gunicorn kills the
    # worker (30 s) with a bare 500. 0 turns one off. Migrations run without them.
    "DB_CONNECT_TIMEOUT_SECONDS": 5,
    "DB_STATEMENT_TIMEOUT_SECONDS": 10,
    "DB_LOCK_TIMEOUT_SECONDS": 5,
    # /healthz answers within this many seconds whatever the database does.
    "HEALTH_CHECK_TIMEOUT_SECONDS": 1,
    # Four eyes on money: a claim approval (full or partial) paying more than this, in
    # grosze, waits for a second, different senior before it is final (2,000.00 zł).
    "CLAIM_SECOND_APPROVAL_ABOVE": 200_000,
    # The follow-through of agreed outcomes (settlements.policy.Terms): days of 24 h.
    "SETTLEMENT_REFUND_DAYS": 7,
    "SETTLEMENT_SHIP_DAYS": 7,
    "SETTLEMENT_RECEIVE_DAYS": 21,
    "SETTLEMENT_VERDICT_DAYS": 14,
    "SETTLEMENT_CONTEST_DAYS": 7,
    "SETTLEMENT_SILENCE_DAYS": 7,
    # Appeals (appeals.policy.Terms): the window to appeal a verdict on a discussion, the
    # other party's time to answer, and the service level for the appeal decision. A claim
    # decision is appealed within its policy version's window (claims.policy), not this.
    "APPEAL_WINDOW_DAYS": 30,
    "APPEAL_ANSWER_HOURS": 72,
    "APPEAL_REVIEW_DAYS": 14,
    # The out-of-court route an appeal decision names (the consumer ADR body).
    "ADR_BODY_NAME": "Inspekcja Handlowa (Trade Inspection): the regional inspectorate "
                     "for the consumer's place of residence",
    "ADR_BODY_ADDRESS": "https://uokik.gov.pl/wojewodzkie-inspektoraty-inspekcji-handlowej",
    # The operator named in the letterhead of every decision document (docs/operations.md).
    # The defaults are a fictitious demo company: set the real ones before issuing
    # decisions that matter.
    "OPERATOR_LEGAL_NAME": "Arbiter Demo sp. z o.o. (fictitious operator)",
    "OPERATOR_ADDRESS": "ul. Przykładowa 1, 00-000 Warszawa, Polska",
    "OPERATOR_KRS": "0000000000",
    "OPERATOR_NIP": "000-000-00-00",
    "OPERATOR_REGON": "000000000",
    # The whole request body; larger ones get 413 before the form is read (the page or
    # JSON). Well above 5 evidence files of 10 MB, so that a form with a file too large is
    # read to the end (only the first 10 MB of each file are kept: files.UploadRequest)
    # and shown again with what was typed and the error on the file field.
    "MAX_CONTENT_LENGTH": 100 * 1024 * 1024,
}


def load(app, overrides: dict | None) -> None:
    """Fill ``app.config`` from defaults, the environment, then explicit overrides."""
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env(prefix="ARBITER")
    if overrides:
        app.config.update(overrides)
    config = app.config
    production = config["ENV"] == "production"
    instance = Path(app.instance_path)

    if not config.get("SECRET_KEY"):
        if production:
            raise ConfigurationError(
                "ARBITER_SECRET_KEY must be set in production (ARBITER_ENV=production)"
            )
        config["SECRET_KEY"] = _development_secret(instance)

    config["BASE_URL_CONFIGURED"] = bool(config.get("BASE_URL"))
    config["BASE_URL"] = _base_url(config, production)

    if not config.get("SQLALCHEMY_DATABASE_URI"):
        url = config.get("DATABASE_URL") or f"sqlite:///{instance / 'arbiter.sqlite3'}"
        config["SQLALCHEMY_DATABASE_URI"] = _normalise_database_url(url)
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault("connect_args", _postgres_timeouts(config))
    config.setdefault("STORAGE_DIR", None)
    config["STORAGE_DIR"] = config["STORAGE_DIR"] or str(instance / "storage")

    config["MAIL_BACKEND"] = config["MAIL_BACKEND"] or ("smtp" if config["SMTP_HOST"] else "file")
    config["MAIL_DIR"] = config["MAIL_DIR"] or str(instance / "mail")
    # Where `flask audit verify` keeps the tree it verified last: outside the database, so
    # that a rewritten or shortened log is found, and the next run starts from there.
    config["AUDIT_VERIFIED_FILE"] = config.get("AUDIT_VERIFIED_FILE") or str(
        instance / "audit-verified.json")
    config["AUDIT_SIGNING_KEY_FILE"] = config.get("AUDIT_SIGNING_KEY_FILE") or str(
        instance / "audit-signing.key")

    config["RATELIMIT_STORAGE_URI"] = (
        config.get("RATELIMIT_STORAGE_URI") or config.get("REDIS_URL") or "memory://"
    )
    config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    # Redis unreachable: limits go on in a counter per process (Flask-Limiter logs a
    # warning and returns to Redis when it answers again) instead of failing every
    # throttled request, logins included, with a 500.
    config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)

    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_SECURE"] = production
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    config["REMEMBER_COOKIE_SECURE"] = production
    config["PERMANENT_SESSION_LIFETIME"] = 86_400 * int(config["SESSION_LIFETIME_DAYS"])
    config["PREFERRED_URL_SCHEME"] = "https" if production else "http"

    config["BABEL_DEFAULT_LOCALE"] = config["DEFAULT_LOCALE"]
    config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Warsaw"
    config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).parent / "translations")


DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"  # where `flask run` and `make run` listen


def development_base_url(host: str, port: int | str) -> str:
    """The address a development server on ``host``:``port`` is reached at. A server on
    every interface (0.0.0.0, ::) is reached at this machine's name."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - recognising it, not binding to it
        import socket

        host = socket.getfqdn()
    elif ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _base_url(config, production: bool) -> str:
    """Links in e-mails and decision documents are built from this alone, never from a
    request: documents and e-mails are rendered by background work that has none, and a
    decision document is never rendered again, so a wrong address would be permanent."""
    url = config.get("BASE_URL")
    if not url:
        if production:
            raise ConfigurationError(
                "ARBITER_BASE_URL must be set in production (ARBITER_ENV=production): the "
                "public address, e.g. https://arbiter.example.com, that links in e-mails "
                "and decision documents point to")
        if os.environ.get("FLASK_RUN_HOST") or os.environ.get("FLASK_RUN_PORT"):
            return development_base_url(os.environ.get("FLASK_RUN_HOST") or "127.0.0.1",
                                        os.environ.get("FLASK_RUN_PORT") or 5000)
        return DEVELOPMENT_BASE_URL
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ConfigurationError(
            f"ARBITER_BASE_URL must be an http(s) address such as "
            f"https://arbiter.example.com, not {url!r}")
    return str(url).rstrip("/")


def _postgres_timeouts(config) -> dict:
    """libpq connection parameters: give up connecting, and have the server cancel a
    statement or a lock wait, after the configured seconds (``0``: never)."""
    statement = int(float(config["DB_STATEMENT_TIMEOUT_SECONDS"]) * 1000)
    lock = int(float(config["DB_LOCK_TIMEOUT_SECONDS"]) * 1000)
    args = {"options": f"-c statement_timeout={statement} -c lock_timeout={lock}"}
    connect = int(config["DB_CONNECT_TIMEOUT_SECONDS"])
    if connect:
        args["connect_timeout"] = connect
    return args


def _normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs (what hosting providers hand out)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _development_secret(instance: Path) -> str:
    """A per-checkout secret kept in ``instance/`` so sessions survive restarts."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this checkout created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
