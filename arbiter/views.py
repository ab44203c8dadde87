"""Pages that belong to no feature: home, health check, language switch."""

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from accounts import services as account_services
from arbiter import notifications as notifications_module
from arbiter.extensions import db
from arbiter.i18n import LANGUAGES
from arbiter.urls import safe_next_url

bp = Blueprint("core", __name__)


@bp.route("/")
def index():
    """Home: what Arbiter does, and where a logged-in user goes next."""
    return render_template("core/index.html")


@bp.route("/healthz")
def healthz():
    """Liveness and database status for load balancers: 200 or 503, JSON either way."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})


@bp.route("/notifications", methods=["GET", "POST"])
@login_required
def notifications():
    """My notifications, newest first; POST marks them all read."""
    user = current_user._get_current_object()
    if request.method == "POST":
        notifications_module.mark_all_read(user)
        db.session.commit()
        return redirect(url_for("core.notifications"))
    return render_template("core/notifications.html", items=notifications_module.recent(user))


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch the interface language; remembered for the session and on the account."""
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
        if current_user.is_authenticated:
            account_services.set_locale(current_user._get_current_object(), lang)
            db.session.commit()
    return redirect(safe_next_url(request.form.get("next")) or url_for("core.index"))
