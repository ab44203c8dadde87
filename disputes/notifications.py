"""What discussion notifications say in the app (e-mail templates: templates/emails/)."""

from flask_babel import lazy_gettext as _l

from arbiter.notifications import register_texts

register_texts({
    "discussion.opened": _l(
        "A buyer reported a problem with order %(order)s (discussion #%(id)s)."),
    "discussion.message": _l("New message in discussion #%(id)s."),
    "discussion.offer": _l("The seller made an offer in discussion #%(id)s."),
    "discussion.offer_accepted": _l("The buyer accepted your offer in discussion #%(id)s."),
    "discussion.offer_declined": _l("The buyer declined your offer in discussion #%(id)s."),
    "discussion.resolved": _l("Discussion #%(id)s was closed as solved."),
    "discussion.withdrawn": _l("The buyer withdrew discussion #%(id)s."),
    "discussion.escalated": _l("Discussion #%(id)s was passed to the platform."),
    "discussion.information_requested": _l(
        "The platform asks you for information in discussion #%(id)s."),
    "discussion.decided": _l("The platform issued its verdict in discussion #%(id)s."),
    "discussion.seller_reminder": _l("4 hours left to answer discussion #%(id)s."),
    "discussion.escalation_available": _l(
        "You can now ask the platform for help in discussion #%(id)s."),
    "discussion.information_overdue": _l(
        "An information request in discussion #%(id)s is past its deadline."),
    "discussion.reopened": _l(
        "The agreed solution in discussion #%(id)s was not fulfilled: the discussion is open "
        "again and you can ask the platform for help at once."),
    "discussion.settled_by_platform": _l(
        "Discussion #%(id)s ended: the platform approved protection claim #%(claim)s for "
        "this order."),
    "discussion.closed_inactive": _l(
        "Discussion #%(id)s was closed after 30 days without activity."),
})
