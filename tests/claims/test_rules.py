"""Pure claim rules: the discussion requirement, deadlines, decision amounts, the state
table, account numbers and the finance CSV. No database, no app."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbiter.errors import TransitionNotAllowed
from claims import banking, policy
from claims.policy import DecisionProblem, DiscussionFacts, DiscussionProblem
from claims.queries import median, percent
from claims.states import (
    DECISION_ACTIONS,
    EXCLUSIVE_STATES,
    OPEN_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    ClaimState,
    Decision,
    Role,
    require,
    transition,
)
from disputes.states import DiscussionState

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


def _discussion(id_, state, hours_until_window):
    return DiscussionFacts(id_, state, NOW + timedelta(hours=hours_until_window))


# --- the discussion requirement -------------------------------------------------------


def test_no_discussion_means_no_claim():
    check = policy.check_discussion([], NOW)
    assert check.problem is DiscussionProblem.NO_DISCUSSION and check.discussion_id is None


def test_a_resolved_discussion_never_qualifies():
    check = policy.check_discussion([_discussion(1, DiscussionState.RESOLVED, -100)], NOW)
    assert check.problem is DiscussionProblem.DISCUSSION_RESOLVED


def test_the_24h_window_must_have_passed_and_its_instant_counts():
    too_recent = policy.check_discussion(
        [DiscussionFacts(1, DiscussionState.AWAITING_SELLER, NOW + timedelta(microseconds=1))],
        NOW)
    assert too_recent.problem is DiscussionProblem.DISCUSSION_TOO_RECENT
    assert too_recent.available_at == NOW + timedelta(microseconds=1)
    exactly = policy.check_discussion([DiscussionFacts(1, "awaiting_seller", NOW)], NOW)
    assert exactly.problem is None and exactly.discussion_id == 1


@pytest.mark.parametrize("state", [s for s in DiscussionState if s is not DiscussionState.RESOLVED])
def test_every_state_but_resolved_qualifies_once_the_window_passed(state):
    assert policy.check_discussion([_discussion(7, state, -1)], NOW).discussion_id == 7


def test_the_newest_qualifying_discussion_is_cited_and_the_soonest_window_reported():
    discussions = [_discussion(1, DiscussionState.CLOSED, -500),
                   _discussion(2, DiscussionState.RESOLVED, -300),
                   _discussion(3, DiscussionState.ESCALATED, -30)]
    assert policy.check_discussion(discussions, NOW).discussion_id == 3
    waiting = [_discussion(4, DiscussionState.AWAITING_SELLER, 5),
               _discussion(5, DiscussionState.IN_PROGRESS, 2),
               _discussion(6, DiscussionState.RESOLVED, -10)]
    check = policy.check_discussion(waiting, NOW)
    assert check.problem is DiscussionProblem.DISCUSSION_TOO_RECENT
    assert check.available_at == NOW + timedelta(hours=2)


# --- document requests ----------------------------------------------------------------


@pytest.mark.parametrize("requested", [
    datetime(2026, 3, 25, 23, 30, tzinfo=UTC),   # the week spans spring-forward
    datetime(2026, 10, 20, 23, 30, tzinfo=UTC),  # and fall-back in Warsaw
])
def test_documents_are_due_7_times_86400_seconds_later_across_dst(requested):
    due = policy.documents_due(requested)
    assert (due - requested).total_seconds() == 7 * 86_400
    assert not policy.deadline_passed(due, due)
    assert policy.deadline_passed(due, due + timedelta(microseconds=1))


# --- decision amounts -----------------------------------------------------------------


def test_approval_pays_exactly_the_maximum():
    assert policy.decided_amount(Decision.APPROVED, None, 13_845) == 13_845
    assert policy.decided_amount(Decision.APPROVED, 13_845, 13_845) == 13_845
    with pytest.raises(ValueError, match=DecisionProblem.AMOUNT_NOT_EXPECTED):
        policy.decided_amount(Decision.APPROVED, 13_844, 13_845)


@pytest.mark.parametrize(("amount", "problem"), [
    (None, DecisionProblem.AMOUNT_REQUIRED),
    (0, DecisionProblem.AMOUNT_NOT_POSITIVE),
    (13_845, DecisionProblem.AMOUNT_NOT_BELOW_MAXIMUM),
    (13_846, DecisionProblem.AMOUNT_NOT_BELOW_MAXIMUM),
])
def test_a_partial_approval_is_between_001_and_below_the_maximum(amount, problem):
    with pytest.raises(ValueError, match=problem):
        policy.decided_amount(Decision.PARTIALLY_APPROVED, amount, 13_845)


def test_rejection_pays_nothing():
    assert policy.decided_amount(Decision.REJECTED, None, 13_845) is None
    with pytest.raises(ValueError, match=DecisionProblem.AMOUNT_NOT_EXPECTED):
        policy.decided_amount(Decision.REJECTED, 100, 13_845)


@given(maximum=st.integers(1, 10**9), amount=st.one_of(st.none(), st.integers(-10, 10**9 + 10)),
       decision=st.sampled_from(Decision))
def test_no_decision_ever_pays_more_than_the_maximum(maximum, amount, decision):
    try:
        granted = policy.decided_amount(decision, amount, maximum)
    except ValueError:
        return
    assert granted is None or 0 < granted <= maximum


# --- the state table ------------------------------------------------------------------


def test_the_table_is_the_design_plus_withdrawal_until_a_decision():
    table = {t.action: ({s.value for s in t.sources}, t.target.value, t.actor) for t in TRANSITIONS}
    assert table == {
        "take": ({"submitted"}, "under_review", Role.STAFF),
        "withdraw": ({"submitted", "under_review", "awaiting_documents"}, "withdrawn",
                     Role.BUYER),
        "request_documents": ({"under_review"}, "awaiting_documents", Role.STAFF),
        "documents_arrived": ({"awaiting_documents"}, "under_review", Role.BUYER),
        "reject_after_deadline": ({"awaiting_documents"}, "rejected", Role.STAFF),
        "approve": ({"under_review"}, "approved", Role.STAFF),
        "approve_partially": ({"under_review"}, "partially_approved", Role.STAFF),
        "reject": ({"under_review"}, "rejected", Role.STAFF),
        "mark_paid": ({"approved", "partially_approved"}, "paid", Role.STAFF),
        # Four eyes: an approval above the threshold waits for a second senior.
        "approve_pending_second": ({"under_review"}, "awaiting_second_approval", Role.STAFF),
        "confirm_approval": ({"awaiting_second_approval"}, "approved", Role.STAFF),
        "confirm_partial_approval": ({"awaiting_second_approval"}, "partially_approved",
                                     Role.STAFF),
        "send_back": ({"awaiting_second_approval"}, "under_review", Role.STAFF),
    }
    assert transition("reject_after_deadline").timer == "document_request.due_at"
    assert transition("request_documents").starts
    assert {DECISION_ACTIONS[d] for d in Decision} == {"approve", "approve_partially", "reject"}


def test_terminal_states_have_no_way_out_and_every_state_is_reachable():
    for step in TRANSITIONS:
        assert not step.sources & TERMINAL_STATES
    reachable = {ClaimState.SUBMITTED} | {step.target for step in TRANSITIONS}
    assert reachable == set(ClaimState)


def test_after_a_rejection_or_withdrawal_the_order_may_be_claimed_again_but_never_after_payment():
    assert OPEN_STATES <= EXCLUSIVE_STATES
    assert set(ClaimState) - EXCLUSIVE_STATES == {ClaimState.REJECTED, ClaimState.WITHDRAWN}


@pytest.mark.parametrize("state", list(ClaimState))
def test_require_refuses_what_the_table_does_not_allow_with_409(state):
    for step in TRANSITIONS:
        if state in step.sources:
            assert require(state, step.action) is step
        else:
            with pytest.raises(TransitionNotAllowed) as refused:
                require(state, step.action)
            assert refused.value.status == 409


# --- account numbers ------------------------------------------------------------------


@pytest.mark.parametrize("typed", [
    "PL61109010140000071219812874",
    "pl61 1090 1014 0000 0712 1981 2874",
    "61 1090 1014 0000 0712 1981 2874",          # a Polish NRB without the country code
    "PL61-1090-1014-0000-0712-1981-2874",
])
def test_account_numbers_are_normalised_to_a_compact_iban(typed):
    assert banking.normalise_account(typed) == "PL61109010140000071219812874"


@pytest.mark.parametrize(("typed", "iban"), [
    ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ("fr14 2004 1010 0505 0001 3m02 606", "FR1420041010050500013M02606"),
    ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
    ("NO93 8601 1117 947", "NO9386011117947"),  # the shortest IBANs
])
def test_foreign_ibans_are_accepted(typed, iban):
    assert banking.normalise_account(typed) == iban


@pytest.mark.parametrize(("typed", "reason"), [
    # The check digits hold (mod 97), but Germany's IBANs have 22 characters, not 21 or 23:
    ("DE51 3704 0044 0532 0130 0", "wrong length or format for the country"),
    ("DE81 3704 0044 0532 0130 000", "wrong length or format for the country"),
    # Letters where France's format has digits (check digits recomputed):
    ("FR43 A004 1010 0505 0001 3M02 606", "wrong length or format for the country"),
    ("XX46 3704 0044 0532 0130 00", "not a country with IBANs"),
])
def test_ibans_are_checked_against_their_countrys_format(typed, reason):
    with pytest.raises(banking.InvalidAccount, match=reason):
        banking.normalise_account(typed)


@pytest.mark.parametrize("typed", [
    "", "PL62109010140000071219812874",  # one check digit wrong
    "PL61109010140000071219812875",      # one account digit wrong
    "PL6110901014000007121981287",       # too short for Poland
    "1234", "PL61 1090 1014 0000 0712 1981 287X", "=HYPERLINK(\"x\")",
])
def test_wrong_account_numbers_are_refused(typed):
    with pytest.raises(banking.InvalidAccount):
        banking.normalise_account(typed)


def test_accounts_are_shown_in_groups_of_four():
    assert banking.grouped("PL61109010140000071219812874") == \
        "PL61 1090 1014 0000 0712 1981 2874"


# --- the finance CSV ------------------------------------------------------------------


def test_the_csv_has_a_header_and_one_line_per_payout():
    data = banking.payout_csv([
        banking.PayoutLine(3, 17, "Barbara Kupująca", "PL61109010140000071219812874",
                           123_456, "PLN"),
        banking.PayoutLine(4, 18, "Emily Buyer", "DE89370400440532013000", 5, "PLN"),
    ])
    assert data.decode("utf-8") == (
        "payout_id,claim_id,beneficiary_name,account,amount,currency,title,decision_number\r\n"
        "3,17,Barbara Kupująca,PL61109010140000071219812874,1234.56,PLN,Arbiter POK claim 17,\r\n"
        "4,18,Emily Buyer,DE89370400440532013000,0.05,PLN,Arbiter POK claim 18,\r\n"
    )


def test_names_cannot_become_spreadsheet_formulas_and_commas_are_quoted():
    data = banking.payout_csv([
        banking.PayoutLine(1, 1, '=HYPERLINK("http://evil")', "PL61109010140000071219812874",
                           100, "PLN"),
        banking.PayoutLine(2, 2, "Kowalski, Jan", "PL61109010140000071219812874", 100, "PLN"),
    ])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[1][2] == "'=HYPERLINK(\"http://evil\")"
    assert rows[2][2] == "Kowalski, Jan"


def test_the_title_carries_the_decision_number_once_there_is_one():
    assert banking.transfer_title(42) == "Arbiter POK claim 42"
    assert banking.transfer_title(42, "POK/2026/000042") == "Arbiter POK/2026/000042 claim 42"


# --- dashboard arithmetic -------------------------------------------------------------


def test_the_share_of_paid_orders_has_four_exact_decimals():
    assert percent(36, 1_000_000) == Decimal("0.0036")
    assert percent(1, 3) == Decimal("33.3333")
    assert percent(2, 3) == Decimal("66.6667")
    assert percent(0, 5) == Decimal("0.0000")
    assert percent(1, 0) is None


def test_the_median_of_durations():
    hours = [timedelta(hours=h) for h in (5, 1, 3)]
    assert median(hours) == timedelta(hours=3)
    assert median([*hours, timedelta(hours=10)]) == timedelta(hours=4)
    assert median([]) is None
