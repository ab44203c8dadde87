from enum import StrEnum

from flask_babel import lazy_gettext as _l


class PaymentMethod(StrEnum):
    PLATFORM_PAYMENTS = "platform_payments"
    BANK_TRANSFER = "bank_transfer"
    CASH_ON_DELIVERY = "cash_on_delivery"
    OTHER = "other"


PAYMENT_METHOD_LABELS = {
    PaymentMethod.PLATFORM_PAYMENTS: _l("Platform payments"),
    PaymentMethod.BANK_TRANSFER: _l("Bank transfer"),
    PaymentMethod.CASH_ON_DELIVERY: _l("Cash on delivery"),
    PaymentMethod.OTHER: _l("Other"),
}
