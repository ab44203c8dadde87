"""The payouts page says where the payouts stand and what the last export did."""

import re

from claims.states import Decision
from tests.claims.helpers import export_via_page


def _status(client) -> dict:
    page = client.get("/staff/payouts").text.replace("\xa0", " ")
    tallies = dict(re.findall(r'data-tally="(\w+)">(.*?)</p>', page))
    last = re.search(r"data-last-export>(.*?)</p>", page, re.S).group(1)
    return {"tallies": tallies, "last": " ".join(last.split())}


def test_counts_and_amounts_per_state_and_the_last_export(client, auth, staff, approve,
                                                        colleague):
    auth.login(staff.email)
    status = _status(client)
    assert status["tallies"] == {"pending": "0 payouts · PLN 0.00",
                                 "exported": "0 payouts · PLN 0.00",
                                 "paid": "0 payouts · PLN 0.00"}
    assert "Nothing has been exported yet." in status["last"]

    approve()                                                   # 138.45
    approve(decision=Decision.PARTIALLY_APPROVED, amount=4_050)  # 40.50
    assert _status(client)["tallies"]["pending"] == "2 payouts · PLN 178.95"

    response = export_via_page(client)
    assert response.status_code == 303
    assert "exported: 2 payouts, PLN 178.95." in client.get("/staff/payouts").text.replace(
        "\xa0", " ")
    status = _status(client)
    assert status["tallies"] == {"pending": "0 payouts · PLN 0.00",
                                 "exported": "2 payouts · PLN 178.95",
                                 "paid": "0 payouts · PLN 0.00"}
    assert re.search(r"Last export: batch #\d+ on .* by Sylwia Staff, 2 payouts, "
                     r"PLN 178.95\. Not yet confirmed as paid\.", status["last"])

    approve()
    batch_id = int(re.search(r"batch #(\d+)", status["last"]).group(1))
    auth.logout()
    auth.login(colleague.email)  # never the exporter
    client.post(f"/staff/payouts/batches/{batch_id}/paid")
    status = _status(client)
    assert status["tallies"] == {"pending": "1 payout · PLN 138.45",
                                 "exported": "0 payouts · PLN 0.00",
                                 "paid": "2 payouts · PLN 178.95"}
    assert "Finance confirmed it as paid on" in status["last"]
