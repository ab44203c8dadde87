"""Abuse signals for staff: the ranking of the accounts with the strongest signals, one
account's page with its notes, and the panel beside every claim and escalation
(``templates/signals/_panel.html``, read through :func:`signals_panel_for`).

Advisors (and seniors) only; never the buyer, the seller, or the account's own holder.
Signals are not sanctions: nothing here blocks, delays or lowers anything.
"""

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from accounts.auth import role_required
from accounts.roles import Role
from arbiter import clock
from arbiter.errors import ValidationFailed
from arbiter.extensions import db
from arbiter.urls import safe_next_url
from arbiter.views import done
from signals import queries, services
from signals.forms import NoteForm
from signals.policy import RANKING_SIZE, RULE_FOR, RULES, Rule, Signal

bp = Blueprint("signals", __name__)

# Cases listed per account on the ranking (the account page lists them all).
RANKING_CASES_SHOWN = 8

# What each signal counts, in the reader's words. The thresholds come from the rules.
SIGNAL_LABELS = {
    Signal.CLAIMS_SHARE: _l("Protection claims"),
    Signal.DISCUSSIONS_SHARE: _l("Discussions"),
    Signal.REJECTED_CLAIMS: _l("Rejected claims"),
    Signal.NOT_RECEIVED_CLAIMS_ON_DELIVERED: _l("“Not received” claims on delivered orders"),
    Signal.NOT_RECEIVED_DISCUSSIONS_ON_DELIVERED: _l(
        "“Not received” discussions on delivered orders"),
    Signal.SHARED_ACCOUNT: _l("Other buyers paid to the same bank account"),
}
SIGNAL_EXPLANATIONS = {
    Signal.CLAIMS_SHARE: _l("Claims filed in the last 12 months, whatever became of them, "
                            "and their share of the orders paid in the same months."),
    Signal.DISCUSSIONS_SHARE: _l("Discussions opened in the last 12 months and their share "
                                 "of the orders paid in the same months. Most discussions "
                                 "end between the buyer and the seller."),
    Signal.REJECTED_CLAIMS: _l("Claims of the last 12 months that an advisor rejected, for "
                               "any reason (including documents not sent in time)."),
    Signal.NOT_RECEIVED_CLAIMS_ON_DELIVERED: _l(
        "Claims of the last 12 months saying the item never arrived, on orders the "
        "marketplace reports as delivered. A parcel can be stolen after delivery: one is "
        "not a pattern."),
    Signal.NOT_RECEIVED_DISCUSSIONS_ON_DELIVERED: _l(
        "Discussions of the last 12 months saying the item never arrived, on orders the "
        "marketplace reports as delivered."),
    Signal.SHARED_ACCOUNT: _l(
        "Other people whose claims name one of this buyer's bank accounts for the payout, "
        "at any time (compared without spaces, dashes or case). A household may share an "
        "account; one person with several buyer accounts does too."),
}


def threshold_text(rule: Rule) -> str:
    if rule.share_above_percent is not None:
        return _("Highlighted above %(share)s %% of orders, from %(count)s on.",
                 share=rule.share_above_percent, count=rule.at_least)
    return _("Highlighted from %(count)s on.", count=rule.at_least)


def signals_panel_for(buyer_id: int):
    """The panel beside a claim or an escalation: the buyer's signals for an advisor who
    is not that buyer, else None (nothing is shown)."""
    if not current_user.is_authenticated or not current_user.has_role(Role.ADVISOR):
        return None
    if current_user.id == buyer_id:
        return None
    return queries.buyer_signals(buyer_id, clock.now())


@bp.route("/staff/signals")
@role_required(Role.ADVISOR)
def ranking():
    """The accounts with the strongest abuse signals, best first by score (top 50), with
    the figures that put them there, their cases and a note field."""
    accounts = queries.strongest(clock.now(), current_user.id)
    return render_template("signals/ranking.html", accounts=accounts, rules=RULES,
                           accounts_limit=RANKING_SIZE, cases_shown=RANKING_CASES_SHOWN)


@bp.route("/staff/signals/accounts/<int:user_id>")
@role_required(Role.ADVISOR)
def account(user_id: int):
    """One account's signals, every staff note about it and its cases of the last 12
    months."""
    return _account_page(user_id)


def _account_page(user_id: int, form: NoteForm | None = None, status: int = 200):
    services.require_reader(current_user, user_id)
    signals = queries.buyer_signals(user_id, clock.now(), notes=None)
    return render_template("signals/account.html", signals=signals,
                           cases=queries.cases_of(user_id, signals.since),
                           form=form or NoteForm(formdata=None)), status


@bp.route("/staff/signals/accounts/<int:user_id>/notes", methods=["POST"])
@role_required(Role.ADVISOR)
def add_note(user_id: int):
    """Add a note about the account (append-only, audited); back to the page it came
    from."""
    form = NoteForm()
    if not form.validate():
        return _account_page(user_id, form, 422)
    try:
        services.add_note(user_id, current_user._get_current_object(), form.body.data)
    except ValidationFailed as error:
        db.session.rollback()
        form.body.errors.append(error.message)
        return _account_page(user_id, form, 422)
    back = (safe_next_url(request.form.get("next"))
            or url_for("signals.account", user_id=user_id))
    return done(back, _("The note was added."))


@bp.app_context_processor
def _helpers():
    return _HELPERS


_HELPERS = {
    "signals_panel_for": signals_panel_for,
    "signal_label": lambda signal: SIGNAL_LABELS[Signal(signal)],
    "signal_explanation": lambda signal: SIGNAL_EXPLANATIONS[Signal(signal)],
    "signal_threshold": lambda signal: threshold_text(RULE_FOR[Signal(signal)]),
}
