import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from arbiter import audit, clock
from arbiter.extensions import db
from orders.models import Order
from orders.states import PaymentMethod

HEADER = ("external_id,buyer_email,seller_email,item_title,item_price,shipping_cost,"
          "payment_method,paid_at,delivered_at\n")


@pytest.fixture
def people(create_user):
    return create_user("imp-buyer@example.test"), create_user("imp-seller@example.test")


def _csv_row(external_id="EXT-1", price="199.99", method="platform_payments",
             paid_at="2026-01-10T12:00:00+00:00", buyer="imp-buyer@example.test",
             shipping="15.00", delivered=""):
    return (f"{external_id},{buyer},imp-seller@example.test,Lampa,{price},{shipping},"
            f"{method},{paid_at},{delivered}\n")


def _run(app, path):
    return app.test_cli_runner().invoke(args=["orders", "import", str(path)])


def test_csv_import_upserts_and_reimport_changes_nothing(app, db_session, people, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + _csv_row("EXT-1") + _csv_row("EXT-2", method="bank_transfer"))
    first = _run(app, path)
    assert first.exit_code == 0, first.output
    assert "2 created, 0 updated, 0 unchanged, 0 failed" in first.output
    order = db.session.scalar(select(Order).where(Order.external_id == "EXT-1"))
    assert order.item_price == 19_999
    assert order.shipping_cost == 1_500
    assert order.payment_method is PaymentMethod.PLATFORM_PAYMENTS
    entries = audit.count()

    again = _run(app, path)
    assert again.exit_code == 0
    assert "0 created, 0 updated, 2 unchanged, 0 failed" in again.output
    assert audit.count() == entries

    path.write_text(HEADER + _csv_row("EXT-1", price="149.99"))
    changed = _run(app, path)
    assert "0 created, 1 updated" in changed.output
    db.session.expire_all()
    assert db.session.scalar(select(Order.item_price).where(Order.external_id == "EXT-1")) \
        == 14_999


def test_bad_rows_are_reported_with_line_and_field_and_good_rows_imported(
    app, db_session, people, tmp_path
):
    future = (clock.now() + timedelta(days=1)).isoformat()
    path = tmp_path / "mixed.csv"
    path.write_text(
        HEADER
        + _csv_row("GOOD-1")                                    # line 2
        + _csv_row("BAD-USER", buyer="ghost@example.test")     # line 3
        + _csv_row("BAD-AMOUNT", price="12.345")               # line 4
        + _csv_row("BAD-METHOD", method="barter")              # line 5
        + _csv_row("BAD-DATE", paid_at=future)                 # line 6
        + _csv_row("GOOD-2")                                    # line 7
    )
    result = _run(app, path)
    assert result.exit_code == 1
    assert "line 3: buyer_email: unknown user" in result.output
    assert "line 4: item_price:" in result.output
    assert "line 5: payment_method:" in result.output
    assert "line 6: paid_at: must not be in the future" in result.output
    assert "2 created, 0 updated, 0 unchanged, 4 failed" in result.output
    imported = db.session.scalars(select(Order.external_id).order_by(Order.external_id)).all()
    assert [e for e in imported if e.startswith(("GOOD", "BAD"))] == ["GOOD-1", "GOOD-2"]


def test_json_lines_import(app, db_session, people, tmp_path):
    path = tmp_path / "orders.jsonl"
    rows = [
        {"external_id": "J-1", "buyer_email": "imp-buyer@example.test",
         "seller_email": "imp-seller@example.test", "item_title": "Rower",
         "item_price": "9950.00", "shipping_cost": "0", "payment_method": "cash_on_delivery",
         "paid_at": "2026-02-01T08:00:00+01:00"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    result = _run(app, path)
    assert result.exit_code == 1
    assert "line 2: -: not valid JSON" in result.output
    order = db.session.scalar(select(Order).where(Order.external_id == "J-1"))
    assert order.item_price == 995_000
    assert order.paid_at.isoformat() == "2026-02-01T07:00:00+00:00"


def test_naive_timestamps_and_unknown_file_types_are_refused(app, db_session, people, tmp_path):
    path = tmp_path / "naive.csv"
    path.write_text(HEADER + _csv_row("NAIVE", paid_at="2026-01-10T12:00:00"))
    result = _run(app, path)
    assert result.exit_code == 1
    assert "line 2: paid_at:" in result.output
    other = tmp_path / "orders.xlsx"
    other.write_text("x")
    assert _run(app, other).exit_code == 2
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_zero_price_is_refused_but_free_shipping_is_fine(app, db_session, people, tmp_path):
    path = tmp_path / "zero.csv"
    path.write_text(HEADER + _csv_row("ZERO", price="0.00") + _csv_row("FREE", shipping="0"))
    result = _run(app, path)
    assert "line 2: item_price: amount must be greater than zero" in result.output
    assert "1 created" in result.output


def test_progress_is_the_label_once_when_not_on_a_terminal(app, db_session, people, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + _csv_row("P-1") + _csv_row("P-2") + _csv_row("P-3"))
    result = _run(app, path)
    assert result.exit_code == 0, result.output
    assert result.output.count("Importing orders.csv") == 1
    assert "\r" not in result.output
    assert "3 created, 0 updated, 0 unchanged, 0 failed (3 rows read)" in result.output


def test_on_a_terminal_the_bar_counts_rows_done_out_of_the_total(app, db_session, people,
                                                                 tmp_path, monkeypatch):
    import click._termui_impl

    monkeypatch.setattr(click._termui_impl, "isatty", lambda stream: True)
    path = tmp_path / "orders.csv"
    # a quoted title spanning two lines is one row, not two
    path.write_text(HEADER + _csv_row("P-1") + _csv_row("P-2").replace("Lampa", '"Lampa\nXL"')
                    + _csv_row("P-3", price="12.345"))
    result = _run(app, path)
    assert result.exit_code == 1
    frames = [frame.strip() for frame in result.output.split("\r") if frame.strip()]
    assert frames[0].startswith("Importing orders.csv")
    assert "0/3" in frames[0]
    assert any("2/3" in frame for frame in frames)
    assert "3/3" in result.output and "100%" in result.output
    assert "line 5: item_price:" in result.output  # the bad row keeps its line number
    assert "2 created, 0 updated, 0 unchanged, 1 failed (3 rows read)" in result.output


def test_jsonl_rows_are_counted_without_blank_lines(app, db_session, people, tmp_path,
                                                    monkeypatch):
    import click._termui_impl

    monkeypatch.setattr(click._termui_impl, "isatty", lambda stream: True)
    row = {"buyer_email": "imp-buyer@example.test", "seller_email": "imp-seller@example.test",
           "item_title": "Lampa", "item_price": "10.00", "shipping_cost": "0.00",
           "payment_method": "bank_transfer", "paid_at": "2026-01-10T12:00:00+00:00"}
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(json.dumps({**row, "external_id": f"J-{n}"}) for n in range(2))
                    + "\n\n")
    result = _run(app, path)
    assert result.exit_code == 0, result.output
    assert "2/2" in result.output
    assert "(2 rows read)" in result.output


def test_a_row_moving_a_case_to_other_parties_is_reported_not_fatal(
        app, db_session, people, create_user, create_discussion, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + _csv_row("CASE-1"))
    assert _run(app, path).exit_code == 0
    create_discussion(db.session.scalar(select(Order).where(Order.external_id == "CASE-1")))
    create_user("imp-other@example.test")
    path.write_text(HEADER + _csv_row("CASE-1", buyer="imp-other@example.test")
                    + _csv_row("CASE-2"))
    result = _run(app, path)
    assert result.exit_code == 1
    assert "line 2: buyer_email: " in result.output  # the message is in the default locale
    assert "1 created, 0 updated, 0 unchanged, 1 failed" in result.output
