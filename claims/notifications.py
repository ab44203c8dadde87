"""What claim notifications say in the app (e-mail templates: templates/emails/)."""

from flask_babel import lazy_gettext as _l

from arbiter.notifications import register_texts

register_texts({
    "claim.filed": _l("We received your protection claim #%(id)s."),
    "claim.taken": _l("An advisor is now reviewing your protection claim #%(id)s."),
    "claim.withdrawn": _l("You withdrew protection claim #%(id)s."),
    "claim.documents_requested": _l(
        "The platform needs documents for your protection claim #%(id)s within 7 days."),
    "claim.documents_received": _l(
        "We received your documents for protection claim #%(id)s; the review continues."),
    "claim.documents_added": _l("The buyer added documents to protection claim #%(id)s."),
    "claim.approved": _l("Your protection claim #%(id)s was approved."),
    "claim.partially_approved": _l("Your protection claim #%(id)s was partially approved."),
    "claim.rejected": _l("Your protection claim #%(id)s was rejected."),
    "claim.paid": _l("The compensation for your protection claim #%(id)s was paid."),
    "payout.returned": _l(
        "The bank returned the payout of %(amount)s for your protection claim #%(id)s. "
        "Give a corrected bank account on the claim page and we will send it again."),
    # To the seller of the order: a party to every claim on their sale.
    "claim.filed_on_sale": _l(
        "The buyer of your sale %(order)s filed protection claim #%(id)s. You can answer it "
        "with a statement and evidence within %(hours)s hours."),
    "claim.seller_approved": _l(
        "Protection claim #%(id)s on your sale %(order)s was approved; the decision is on "
        "the claim page."),
    "claim.seller_partially_approved": _l(
        "Protection claim #%(id)s on your sale %(order)s was partially approved; the "
        "decision is on the claim page."),
    "claim.seller_rejected": _l(
        "Protection claim #%(id)s on your sale %(order)s was rejected; the decision is on "
        "the claim page."),
    "claim.seller_answered": _l("The seller answered your protection claim #%(id)s."),
    "claim.seller_answered_staff": _l("The seller answered protection claim #%(id)s."),
    # Four eyes: to the first approver, in the app.
    "claim.sent_back": _l(
        "%(senior)s sent your approval of protection claim #%(id)s back to review: "
        "%(reason)s"),
    "claim.second_approved": _l(
        "%(senior)s confirmed your approval of protection claim #%(id)s; it is final."),
    "claim.documents_overdue": _l(
        "The documents for protection claim #%(id)s did not arrive in time; it can be "
        "rejected."),
})
