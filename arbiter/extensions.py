"""Extension instances, created unbound and attached to the app in :func:`create_app`."""

from flask import g, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager, current_user
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman
from flask_wtf import CSRFProtect

from arbiter.db import Base
from arbiter.i18n import DateFormats

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel(date_formats=DateFormats(Babel.default_date_formats))
talisman = Talisman()


def rate_limit_key() -> str:
    """Whose budget a request spends: the signed-in user's (browser session or bearer
    token), else the client's address. Behind a proxy the address is the one
    ``ARBITER_PROXY_COUNT`` trusted proxies reported (werkzeug's ProxyFix, installed in
    :func:`arbiter.create_app`), so one user's 429 never stops everybody behind the proxy,
    and a forged ``X-Forwarded-For`` moves nobody into another budget when no proxy is
    trusted."""
    caller = g.get("api_caller")
    user = caller.user if caller is not None else current_user
    if user is not None and user.is_authenticated:
        return f"user:{user.id}"
    if caller is not None:
        return f"integration:{caller.token.id}"
    return f"address:{request.remote_addr or '-'}"


limiter = Limiter(key_func=rate_limit_key)
