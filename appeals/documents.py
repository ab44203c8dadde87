"""The appeal decision's document: numbered in the same family as every decision (ODW/...),
with its verify URL; it names the out-of-court route that remains."""

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from appeals.models import Appeal
from appeals.states import APPELLANT_LABELS, STATE_LABELS, SUBJECT_LABELS, Subject
from arbiter import documents
from arbiter.documents import DecisionKind, DecisionText, register_owner, verify_url
from arbiter.extensions import db


def locales_for(appeal: Appeal) -> list[str]:
    """Polish always (the official version); English too when a party reads English."""
    wanted = {"pl"} | {person.locale for person in (appeal.buyer, appeal.seller)
                       if person.locale == "en"}
    return sorted(wanted, key=lambda locale: locale != "pl")


def original_document(appeal: Appeal) -> documents.DecisionDocument | None:
    object_type = "discussions" if appeal.subject is Subject.VERDICT else "claims"
    object_id = appeal.discussion_id or appeal.claim_id
    found = documents.documents_for(object_type, object_id)
    return found[0] if found else None


def appeal_data(appeal: Appeal, locale: str, number: str) -> dict:
    order = appeal.order
    text = DecisionText(locale, order.currency)
    money, when = text.money, text.when
    original = original_document(appeal)
    with force_locale(locale):
        adr = _("If you disagree with this decision, you may turn to the out-of-court "
                "consumer dispute body: %(name)s (%(address)s), or to a court.",
                name=current_app.config["ADR_BODY_NAME"],
                address=current_app.config["ADR_BODY_ADDRESS"])
        return {
            "title": _("Decision on appeal #%(id)s", id=appeal.id),
            "number": number,
            "issued_at": when(appeal.decided_at),
            "advisor": appeal.reviewer.name,
            "buyer": appeal.buyer.name,
            "seller": appeal.seller.name,
            "order": text.order(order),
            "asked": [
                [_("Decision appealed"), "{} {}".format(
                    SUBJECT_LABELS[appeal.subject], original.number if original else "")],
                [_("Appealed by"), str(APPELLANT_LABELS[appeal.appellant])],
                [_("Filed"), when(appeal.filed_at)],
                [_("The appeal"), appeal.statement],
                [_("The other party's answer"), appeal.respondent_statement
                 or _("none within the time allowed")],
                [_("Decided by the original decision"), money(appeal.original_amount)],
            ],
            "outcome": str(STATE_LABELS[appeal.state]),
            "amounts": [
                [_("Before the appeal"), money(appeal.original_amount)],
                [_("After the appeal"), money(appeal.new_amount)],
            ],
            "total": money(appeal.new_amount),
            "policy": _("Reviewed by a staff member other than the one who made the original "
                        "decision, after reading every piece of evidence in the case."),
            "rationale": appeal.rationale,
            "evidence": text.evidence(appeal.files),
            "next_steps": " ".join((
                _("This decision supersedes decision %(number)s. Any change of amount is "
                  "recorded in the case's settlement ledger.",
                  number=original.number if original else "—"),
                adr)),
            "verify_url": verify_url(number),
        }


def appeal_notice(obj, text: DecisionText) -> str:
    """What a verdict's or a claim decision's document says about appealing it: who may,
    within how many days (a claim's: its policy version's; a verdict's: the setting), until
    when. Called inside ``force_locale``."""
    from flask_babel import ngettext

    from appeals import services

    target = services.appealed(obj)
    days = services.terms_for(target).window_days
    when = text.when(services.closes_at(target))
    decision = target.decision
    buyer_may = target.subject is Subject.VERDICT or decision.granted < decision.maximum
    seller_may = target.subject is Subject.VERDICT or decision.granted > 0
    if buyer_may and seller_may:
        sentence = ngettext(
            "Either party may appeal this decision once, within %(num)d day, until %(when)s.",
            "Either party may appeal this decision once, within %(num)d days, until %(when)s.",
            days, when=when)
    elif buyer_may:
        sentence = ngettext(
            "The buyer may appeal this decision once, within %(num)d day, until %(when)s.",
            "The buyer may appeal this decision once, within %(num)d days, until %(when)s.",
            days, when=when)
    else:
        sentence = ngettext(
            "The seller may appeal this decision once, within %(num)d day, until %(when)s.",
            "The seller may appeal this decision once, within %(num)d days, until %(when)s.",
            days, when=when)
    return " ".join((sentence, _("A staff member who did not make the decision reviews the "
                                 "appeal after reading every piece of evidence in the case.")))


def issue_decision(appeal: Appeal, staff) -> None:
    documents.issue(DecisionKind.APPEAL, appeal, advisor=staff, issued_at=appeal.decided_at,
                    data_for_locale=lambda locale, number: appeal_data(appeal, locale, number),
                    locales=locales_for(appeal))


register_owner("appeals", lambda object_id: db.session.get(Appeal, object_id),
               page=("appeals.appeal", "appeal_id"))


def _successors(document: documents.DecisionDocument) -> list[documents.Successor]:
    """The decided appeals of a verdict's or a claim's document: an upheld one confirms it,
    a varied or overturned one supersedes it."""
    subjects = {"discussions": Subject.VERDICT, "claims": Subject.CLAIM}
    if document.object_type not in subjects:
        return []
    from appeals.queries import decided_of
    from appeals.states import AppealState

    found = []
    for appeal in decided_of(subjects[document.object_type], document.object_id):
        issued = documents.documents_for("appeals", appeal.id)
        if issued:
            effect = "upheld" if appeal.state is AppealState.UPHELD else "superseded"
            found.append(documents.Successor(issued[0].number, effect, issued[0].issued_at))
    return found


documents.register_successors(_successors)
