"""Demo data for ``make run``: created once, only into an empty database."""

from datetime import timedelta
from itertools import cycle

from sqlalchemy import func, select

from accounts import services as accounts
from accounts.models import User
from arbiter import clock
from arbiter.extensions import db
from orders.services import upsert_order
from orders.states import PaymentMethod

DEMO_PASSWORD = "arbiter-demo-2026"  # noqa: S105 - published demo credential
STAFF = ("staff@arbiter.test", "Anna Doradczyni")
BUYERS = [
    ("buyer1@arbiter.test", "Bartek Kupujący"),
    ("buyer2@arbiter.test", "Zofia Źródłowska"),
    ("buyer3@arbiter.test", "Emily Buyer"),
]
SELLERS = [
    ("seller1@arbiter.test", "Sklep Łódź"),
    ("seller2@arbiter.test", "Gdańsk Elektronika"),
    ("seller3@arbiter.test", "Vintage Books Ltd"),
]
ITEMS = [
    ("Rower szosowy", 1_249_900, 4_999),
    ("Słuchawki bezprzewodowe", 39_900, 1_299),
    ("Aparat fotograficzny", 1_050_000, 15_000),
    ("Książka: Pan Tadeusz", 3_490, 899),
    ("Ekspres do kawy", 189_900, 0),
    ("Laptop 14\"", 549_900, 2_500),
    ("Zegarek kwarcowy", 25_000, 1_200),
    ("Konsola do gier", 229_900, 1_999),
    ("Kurtka zimowa", 45_900, 1_499),
    ("Smartfon", 995_000, 8_000),
]


def demo_logins() -> list[tuple[str, str]]:
    return [("staff", STAFF[0])] + [("buyer", e) for e, _ in BUYERS] + [
        ("seller", e) for e, _ in SELLERS
    ]


def seed_demo_data() -> bool:
    """Create the demo world; return False (and do nothing) when any user exists."""
    if db.session.scalar(select(func.count(User.id))):
        return False
    accounts.create_user(*STAFF, DEMO_PASSWORD, is_staff=True)
    buyers = [accounts.create_user(email, name, DEMO_PASSWORD) for email, name in BUYERS]
    sellers = [accounts.create_user(email, name, DEMO_PASSWORD) for email, name in SELLERS]
    buyers[2].locale = "en"
    now = clock.now()
    methods = cycle(PaymentMethod)
    for number in range(30):
        title, price, shipping = ITEMS[number % len(ITEMS)]
        buyer = buyers[number % 3]
        seller = sellers[(number // 3) % 3]
        paid_at = now - timedelta(days=number * 4 + 1, hours=number)
        upsert_order({
            "external_id": f"DEMO-{number + 1:04d}",
            "buyer_email": buyer.email,
            "seller_email": seller.email,
            "item_title": title,
            "item_price": price,
            "shipping_cost": shipping,
            "payment_method": next(methods),
            "paid_at": paid_at,
            "delivered_at": paid_at + timedelta(days=3) if number % 4 else None,
        })
    return True
