from enum import StrEnum

from flask_babel import lazy_gettext as _l


class ClaimType(StrEnum):
    NOT_RECEIVED = "not_received"
    NOT_AS_DESCRIBED = "not_as_described"
    OTHER = "other"


CLAIM_TYPE_LABELS = {
    ClaimType.NOT_RECEIVED: _l("Item not received"),
    ClaimType.NOT_AS_DESCRIBED: _l("Item significantly not as described"),
    ClaimType.OTHER: _l("Other problem after the sale"),
}
