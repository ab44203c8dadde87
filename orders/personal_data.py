"""The person's orders in their data export (orders.json); deletion keeps orders."""

from sqlalchemy import or_, select

from accounts.personal_data import Archive, amount, register
from arbiter.extensions import db
from orders.models import Order


def export(archive: Archive) -> None:
    user = archive.user
    own = or_(Order.buyer_id == user.id, Order.seller_id == user.id)
    orders = db.session.scalars(select(Order).where(own).order_by(Order.paid_at, Order.id))
    result = []
    for order in orders:
        buying = order.buyer_id == user.id
        result.append({
            "id": order.id, "external_id": order.external_id,
            "your_role": "buyer" if buying else "seller",
            "other_party": (order.seller if buying else order.buyer).name,
            "item_title": order.item_title, "item_price": amount(order.item_price),
            "shipping_cost": amount(order.shipping_cost), "currency": order.currency,
            "payment_method": order.payment_method, "paid_at": order.paid_at,
            "delivered_at": order.delivered_at,
        })
    archive.add("orders.json", result)
    archive.own("orders", "order", select(Order.id).where(own))


register("orders", export=export)
