"""The recoveries CSV (seller -> platform): for the marketplace and for finance."""

import csv
import io

from settlements.recoveries import CSV_COLUMNS


def _rows(response) -> list[dict]:
    assert response.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(lines[0]) == CSV_COLUMNS
    return [dict(zip(CSV_COLUMNS, line, strict=True)) for line in lines[1:]]


def test_the_marketplace_reads_the_recoveries(api, integration_token, story, seller):
    response = api.get("/api/v1/recoveries.csv", token=integration_token)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    [row] = _rows(response)
    assert row["settlement_id"] == str(story.recovery.id)
    assert row["order_external_id"] == story.order.external_id
    assert (row["seller_email"], row["seller_name"]) == (seller.email, seller.name)
    assert (row["amount"], row["currency"], row["state"]) == ("500.00", "PLN", "owed")
    assert row["due_at"] == story.recovery.due_at.isoformat()
    assert row["claim_id"] == str(story.claim.id)
    assert _rows(api.get("/api/v1/recoveries.csv?state=confirmed",
                         token=integration_token)) == []
    assert len(_rows(api.get("/api/v1/recoveries.csv?state=owed", token=integration_token))) == 1


def test_recoveries_are_the_integrations_only(api, story, token_for, buyer, seller):
    for user in (buyer, seller):
        assert api.get("/api/v1/recoveries.csv", token=token_for(user)).status_code == 403


def test_finance_downloads_them_from_the_payouts_page(client, auth, story, staff, seller):
    auth.login(staff.email)
    page = client.get("/staff/payouts").get_data(as_text=True)
    assert 'href="/staff/recoveries.csv"' in page
    response = client.get("/staff/recoveries.csv")
    assert response.status_code == 200
    assert [row["settlement_id"] for row in _rows(response)] == [str(story.recovery.id)]
    auth.logout()
    auth.login(seller.email)
    assert client.get("/staff/recoveries.csv").status_code == 403
