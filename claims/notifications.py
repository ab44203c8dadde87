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
    "claim.documents_overdue": _l(
        "The documents for protection claim #%(id)s did not arrive in time; it can be "
        "rejected."),
})
