"""Pages that belong to no feature: home, health check, language switch."""

import hashlib
import threading

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from accounts import services as account_services
from accounts.auth import role_required
from accounts.roles import Role
from arbiter import documents, log_views, mail
from arbiter import notifications as notifications_module
from arbiter.extensions import db, limiter
from arbiter.i18n import LANGUAGES
from arbiter.notifications import OutboxEmail, OutboxState
from arbiter.storage import send_stored
from arbiter.transactions import outside_the_request_transaction
from arbiter.urls import safe_next_url

bp = Blueprint("core", __name__)


def confirmed() -> bool:
    """Whether an irreversible action's form came from its confirmation (the page or the
    dialog that stated the consequence); the first post only shows it (issue 22 item 9)."""
    return request.form.get("confirmed") == "1"


def done(where: str, message: str):
    """After a change: say what was done, and go to ``where`` (post, redirect, get)."""
    flash(message, "success")
    return redirect(where)


@bp.route("/")
def index():
    """Home: what Arbiter does, and where a logged-in user goes next."""
    return render_template("core/index.html")


@bp.route("/healthz")
@outside_the_request_transaction
def healthz():
    """Liveness and database status for load balancers: 200 or 503, JSON either way, within
    HEALTH_CHECK_TIMEOUT_SECONDS whatever the database does."""
    if not database_answers(current_app._get_current_object(),
                            float(current_app.config["HEALTH_CHECK_TIMEOUT_SECONDS"])):
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})


# At most one probe at a time: while one hangs on a database that does not answer, the
# next checks answer 503 at once instead of piling up threads and connections.
_probe_running = threading.Lock()


def database_answers(app, timeout: float) -> bool:
    """``SELECT 1`` on a connection of its own, in a thread given ``timeout`` seconds: a
    database that accepts connections but never answers cannot hold the caller longer."""
    if not _probe_running.acquire(blocking=False):
        return False
    finished, answered = threading.Event(), []

    def probe() -> None:
        try:
            with app.app_context(), db.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            answered.append(True)
        except SQLAlchemyError:
            pass
        finally:
            _probe_running.release()
            finished.set()

    threading.Thread(target=probe, name="health-probe", daemon=True).start()
    return finished.wait(timeout) and bool(answered)


@bp.route("/notifications", methods=["GET", "POST"])
@login_required
def notifications():
    """My notifications, newest first; POST marks them all read."""
    user = current_user._get_current_object()
    if request.method == "POST":
        notifications_module.mark_all_read(user)
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
    return redirect(safe_next_url(request.form.get("next")) or url_for("core.index"))


@bp.route("/staff/outbox")
@role_required(Role.ADMIN)
def outbox():
    """E-mails that could not be delivered (dead) or are waiting for a retry."""
    rows = db.session.scalars(
        select(OutboxEmail).where(OutboxEmail.state != OutboxState.SENT)
        .order_by(OutboxEmail.state, OutboxEmail.id.desc()).limit(200)).all()
    return render_template("core/outbox.html", rows=rows)


@bp.route("/staff/outbox/<int:email_id>/retry", methods=["POST"])
@role_required(Role.ADMIN)
def retry_email(email_id: int):
    """Send a dead e-mail again."""
    row = db.session.get(OutboxEmail, email_id)
    if row is None:
        abort(404)
    if row.state is not OutboxState.DEAD:
        abort(409)
    mail.retry_dead(row)
    flash(_("The e-mail will be sent again."), "success")
    return redirect(url_for("core.outbox"))


@bp.route("/decisions/<path:number>/download")
@login_required
def download_decision(number: str):
    """A decision document, for the two parties and staff, always as a download."""
    document = documents.by_number(number, request.args.get("locale"))
    if document is None or not documents.can_download(document, current_user):
        abort(404)
    if document.rendered_at is None:
        flash(_("The decision document is still being prepared. Try again in a minute."),
              "info")
        # Back to the decision's own page, never to a Referer another site may have set.
        return redirect(documents.page_of(document))
    return send_stored(document.storage_key, filename=document.filename,
                       mimetype="application/pdf")


@bp.route("/decisions/<path:number>/verify", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def verify_decision(number: str):
    """Anyone holding a decision file checks that it is genuine: valid or not, when it was
    issued, and whether an appeal decision superseded or upheld it; nothing personal."""
    result = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload and upload.filename:
            digest = hashlib.sha256(upload.read()).hexdigest()
        else:
            digest = request.form.get("sha256", "")
        result = documents.verify(number, digest)
        status = 200 if result else 422
        # Only to someone who holds the genuine file: whether a decision was appealed is
        # not told to anyone trying numbers.
        later = documents.successors(result) if result else []
        entry = log_views.decision_entry(number) if result else None
        return render_template("core/verify.html", number=number, checked=True,
                               document=result, successors=later,
                               inclusion=log_views.inclusion_of(entry) if entry else None), status
    return render_template("core/verify.html", number=number, checked=False, document=None,
                           successors=[], inclusion=None)
