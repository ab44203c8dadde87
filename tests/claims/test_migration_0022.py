"""Migration 0022 (payout controls) goes down and up with payouts in the database, on SQLite
and PostgreSQL, and refuses to go down once a transfer came back from the bank.

(The lead re-chains migration numbers at merge: PREVIOUS is the revision below 0022.)
"""

import pytest
from sqlalchemy import inspect, text

from arbiter.extensions import db
from tests.arbiter.test_migrations import _case_file, _migrate, _one, empty_app  # noqa: F401

PREVIOUS = "0021"


def _payout_columns() -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns("payouts")}


def test_0022_goes_down_and_up_with_paid_payouts(empty_app):  # noqa: F811
    _migrate(empty_app, "head")
    ids = _case_file()
    before = _one("SELECT id, state, amount, exported_by_id, marked_paid_by_id FROM payouts "
                  "WHERE claim_id = :id", id=ids["claim"])
    db.session.remove()
    _migrate(empty_app, PREVIOUS, down=True)
    assert "reissue_of_id" not in _payout_columns()
    _migrate(empty_app, "head")
    assert {"reissue_of_id", "failed_at", "released_at"} <= _payout_columns()
    assert _one("SELECT id, state, amount, exported_by_id, marked_paid_by_id FROM payouts "
                "WHERE claim_id = :id", id=ids["claim"]) == before
    # The four-eyes CHECK is back: the exporter cannot be recorded as the confirmer.
    with pytest.raises(Exception, match="confirmer_not_exporter"):
        db.session.execute(text("UPDATE payout_batches SET marked_paid_by_id = created_by_id"))
    db.session.rollback()


def test_0022_will_not_go_down_once_a_payout_came_back(empty_app):  # noqa: F811
    from accounts.models import User
    from claims import services as claims
    from claims.models import Payout

    _migrate(empty_app, "head")
    ids = _case_file()
    payout_id = db.session.scalar(db.select(Payout.id).where(Payout.claim_id == ids["claim"]))
    claims.fail_payout(payout_id, db.session.get(User, ids["finance"]), "AC04 account closed")
    db.session.commit()
    db.session.remove()
    with pytest.raises(RuntimeError, match="returned by the bank"):
        _migrate(empty_app, PREVIOUS, down=True)
    db.session.remove()
    assert "failed_at" in _payout_columns()
    assert _one("SELECT state FROM payouts WHERE id = :id", id=payout_id) == ("failed",)
