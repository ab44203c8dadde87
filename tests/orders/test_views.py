from datetime import timedelta

from arbiter import clock


def test_my_purchases_lists_my_orders_newest_first(auth, client, buyer, create_order):
    older = create_order(buyer=buyer, item_title="Old lamp",
                         paid_at=clock.now() - timedelta(days=5))
    newer = create_order(buyer=buyer, item_title="New chair",
                         paid_at=clock.now() - timedelta(days=1))
    someone_elses = create_order(item_title="Not mine")
    auth.login(buyer.email)
    page = client.get("/purchases").text
    assert page.index(newer.external_id) < page.index(older.external_id)
    assert someone_elses.external_id not in page
    assert "PLN 138.45" in page.replace("\xa0", " ")  # 123.45 + 15.00 shipping


def test_my_sales_lists_what_i_sold(auth, client, seller, create_order):
    sold = create_order(seller=seller)
    bought_elsewhere = create_order()
    auth.login(seller.email)
    page = client.get("/sales").text
    assert sold.external_id in page
    assert bought_elsewhere.external_id not in page


def test_lists_are_paginated(auth, client, buyer, create_order):
    for day in range(25):
        create_order(buyer=buyer, external_id=f"PAGE-{day:02d}",
                     paid_at=clock.now() - timedelta(days=day + 1))
    auth.login(buyer.email)
    first = client.get("/purchases").text
    second = client.get("/purchases?page=2").text
    assert "PAGE-00" in first and "PAGE-19" in first and "PAGE-20" not in first
    assert "PAGE-20" in second and "PAGE-24" in second and "PAGE-00" not in second


def test_order_page_is_404_for_anyone_but_the_parties_and_staff(
    app, auth, client, buyer, seller, staff, create_user, create_order
):
    order = create_order(buyer=buyer, seller=seller)
    stranger = create_user()
    for user, expected in ((buyer, 200), (seller, 200), (staff, 200), (stranger, 404)):
        auth.login(user.email)
        assert client.get(f"/orders/{order.id}").status_code == expected, user
        auth.logout()
    assert client.get(f"/orders/{order.id}").status_code == 302  # anonymous -> login


def test_lists_need_login(client):
    response = client.get("/purchases")
    assert response.status_code == 302
    assert "/login?next=/purchases" in response.headers["Location"]
