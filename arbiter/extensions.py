"""Extension instances, created unbound and attached to the app in :func:`create_app`."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
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
limiter = Limiter(key_func=get_remote_address)
