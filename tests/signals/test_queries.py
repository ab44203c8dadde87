"""Each signal counted right, on SQLite and PostgreSQL, from a small world of buyers."""

from sqlalchemy import update

from arbiter import clock
from arbiter.extensions import db
from claims import services
from claims.models import Payout
from claims.states import Decision
from signals import queries
from signals.policy import Figures, Signal, assess, ranking_key
from tests.signals.conftest import IBAN, file_claim


def _figures(user) -> Figures:
    return queries.buyer_signals(user.id, clock.now()).figures


def test_every_figure_of_the_buyer(world):
    figures = _figures(world.buyer)
    assert figures == Figures(
        orders=6, claims=4, discussions=5, rejected_claims=3,
        not_received_claims_on_delivered=2, not_received_discussions_on_delivered=2,
        other_buyers=2)
    assert str(figures.claims_percent) == "66.7"
    assert str(figures.discussions_percent) == "83.3"


def test_every_signal_of_the_buyer_is_above_its_threshold(world):
    signals = queries.buyer_signals(world.buyer.id, clock.now())
    assert signals.assessment.strong == frozenset(Signal)
    assert signals.assessment.score == 15


def test_the_same_account_written_differently_is_one_account(world):
    """Lower case, spaces, dashes and a 26-digit number without "PL" are the buyer's IBAN;
    the buyer's own claims are not another buyer; erased accounts match nobody."""
    shared = queries.buyers_sharing_accounts_with(world.buyer.id)
    assert [(s.account, s.user_id) for s in shared] == [
        (IBAN, world.sharer.id), (IBAN, world.domestic.id)]
    assert _figures(world.sharer).other_buyers == 2
    assert _figures(world.domestic).other_buyers == 2
    assert _figures(world.stranger).other_buyers == 0
    assert _figures(world.honest).other_buyers == 0  # "" is not an account


def test_one_honest_claim_is_no_signal(world):
    figures = _figures(world.honest)
    assert (figures.orders, figures.claims, figures.discussions) == (1, 1, 1)
    assert assess(figures).strong == frozenset()


def test_an_account_with_nothing_has_zeros_and_nobody_has_none(world, create_user):
    quiet = create_user()
    assert _figures(quiet) == Figures()
    assert queries.buyer_signals(10**9, clock.now()) is None


def test_the_ranking_order_and_its_figures(world, advisor):
    ranked = queries.strongest(clock.now(), advisor.id)
    assert [r.user_id for r in ranked] == [world.buyer.id, world.sharer.id, world.domestic.id]
    assert [r.assessment.score for r in ranked] == [15, 4, 4]
    # The database's score and order are the policy's.
    assert ranked == sorted(ranked, key=lambda r: ranking_key(r.user_id, r.assessment))
    top = ranked[0]
    assert top.figures == _figures(world.buyer)
    assert {(c.kind, c.id) for c in top.cases} >= {("claim", c.id) for c in world.claims}
    assert len([c for c in top.cases if c.kind == "discussion"]) == 5
    assert top.latest_note is None


def test_the_ranking_never_lists_the_viewer(world):
    ranked = queries.strongest(clock.now(), world.sharer.id)
    assert world.sharer.id not in [r.user_id for r in ranked]
    assert [r.user_id for r in ranked] == [world.buyer.id, world.domestic.id]


def test_the_ranking_keeps_the_strongest(world, advisor):
    assert [r.user_id for r in queries.strongest(clock.now(), advisor.id, limit=2)] == [
        world.buyer.id, world.sharer.id]


def test_an_account_only_a_payout_names_counts_too(world, staff, case_on, create_user):
    """A payout carries its own copy of the account (and a corrected one after a bank
    return): another buyer paid there is another buyer on the account."""
    paid_elsewhere = create_user(name="Paula Payee")
    claim = file_claim(case_on(paid_elsewhere, world.seller),
                       account="PL91114020040000300201355399")
    services.take(claim, staff)
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    assert _figures(paid_elsewhere).other_buyers == 0
    db.session.execute(update(Payout).where(Payout.claim_id == claim.id)
                       .values(account="PL61 1090 1014 0000 0712 1981 2874"))
    db.session.commit()
    assert paid_elsewhere.id in [s.user_id for s in
                                 queries.buyers_sharing_accounts_with(world.buyer.id)]
    assert _figures(paid_elsewhere).other_buyers == 3
