"""The incident rules, pure: which deadlines ran during an incident, and when staff owe an
update. No database, no app."""

from datetime import UTC, datetime, timedelta

import pytest

from claims.policy import NO_EXTENSION, PolicyRules
from incidents import policy
from incidents.policy import WindowProblem
from incidents.states import AffectedService, DeadlineKind

START = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # the night Warsaw moves to summer time
END = START + timedelta(hours=6)
H = timedelta(hours=1)


@pytest.mark.parametrize(("started", "due", "running"), [
    (START - 2 * H, START + 22 * H, True),   # opened 2 h before, due long after
    (START - 30 * H, START - 6 * H, False),  # due before the incident started
    (START - 24 * H, START, False),          # due the very instant it started
    (START - 24 * H, START + timedelta(microseconds=1), True),
    (END, END + 24 * H, False),              # started the instant it ended
    (END - timedelta(microseconds=1), END + 24 * H, True),
    (END + H, END + 25 * H, False),          # started after it ended
    (START + H, START + 2 * H, True),        # started and ended inside it
])
def test_a_deadline_ran_during_the_window_when_it_started_before_the_end_and_is_due_after_the_start(
        started, due, running):
    assert policy.was_running(started, due, START, END) is running


def test_an_open_incident_lasts_until_now():
    now = START + 3 * H
    assert policy.window_end(None, now) == now
    assert policy.window_end(END, now) == END


def test_the_extension_is_24_hours_of_elapsed_time_across_dst():
    # 22:00 UTC on 28 March 2026 is 23:00 in Warsaw; 24 h later it is 00:00 on 30 March.
    moved = policy.extended(START)
    assert moved - START == timedelta(seconds=86_400)
    assert moved.tzinfo is not None


@pytest.mark.parametrize(("services", "kinds"), [
    (["discussions"], {DeadlineKind.DISCUSSION_RESPOND_BY, DeadlineKind.DISCUSSION_ESCALATION,
                       DeadlineKind.INFORMATION_REQUEST, DeadlineKind.VERDICT_APPEAL_WINDOW,
                       DeadlineKind.APPEAL_ANSWER, DeadlineKind.APPEAL_REVIEW}),
    (["claims"], {DeadlineKind.DOCUMENT_REQUEST, DeadlineKind.FILING_WINDOW,
                  DeadlineKind.CLAIM_SELLER_ANSWER, DeadlineKind.CLAIM_APPEAL_WINDOW,
                  DeadlineKind.APPEAL_ANSWER, DeadlineKind.APPEAL_REVIEW}),
    (["payments"], set()),
    (["whole_site"], set(DeadlineKind)),
    (["discussions", "claims"], set(DeadlineKind)),
])
def test_only_the_affected_services_deadlines_are_protected(services, kinds):
    assert policy.protected_kinds(services) == kinds


def test_every_service_says_what_it_protects():
    assert set(policy.PROTECTED_BY_SERVICE) == set(AffectedService)


@pytest.mark.parametrize(("started", "ended", "problem"), [
    (START, END, None),
    (START, None, None),
    (END + H, None, WindowProblem.START_IN_FUTURE),
    (START, END + H, WindowProblem.END_IN_FUTURE),
    (START, START, WindowProblem.END_NOT_AFTER_START),
    (START, START - H, WindowProblem.END_NOT_AFTER_START),
])
def test_impossible_windows_are_named(started, ended, problem):
    assert policy.window_problem(started, ended, now=END) is problem


def test_staff_owe_an_update_after_24_hours_of_silence():
    last = START
    assert not policy.update_overdue(last, START + 24 * H - timedelta(seconds=1))
    assert policy.update_overdue(last, START + 24 * H)


def test_resolved_incidents_stay_on_the_status_page_for_90_days():
    assert policy.is_recent(END, END + timedelta(days=90))
    assert not policy.is_recent(END, END + timedelta(days=90, seconds=1))


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        policy.was_running(datetime(2026, 1, 1), END, START, END)  # noqa: DTZ001


def test_the_claims_filing_deadline_takes_the_extensions_into_account():
    rules = PolicyRules("2017-08", START - timedelta(days=400))
    paid_at = START - timedelta(days=10)
    assert rules.filing_deadline(paid_at) == paid_at + timedelta(days=90)
    assert rules.filing_deadline(paid_at, NO_EXTENSION) == paid_at + timedelta(days=90)
    assert rules.filing_deadline(paid_at, timedelta(hours=48)) == paid_at + timedelta(days=92)
    with pytest.raises(ValueError, match="shorten"):
        rules.filing_deadline(paid_at, timedelta(hours=-1))


# --- which direction helps whom (#22 item 1) -------------------------------------------------

NOW = END + 2 * H


def test_every_deadline_kind_says_which_direction_helps_whom():
    assert set(policy.DIRECTION) == set(DeadlineKind)
    assert [kind for kind, direction in policy.DIRECTION.items()
            if direction is policy.Direction.OPENING_RIGHT] == [
        DeadlineKind.DISCUSSION_ESCALATION]


@pytest.mark.parametrize("kind", [kind for kind, direction in policy.DIRECTION.items()
                                  if direction is not policy.Direction.OPENING_RIGHT])
def test_a_duty_or_a_closing_right_that_ran_during_the_incident_is_extended_even_if_due(kind):
    # Due inside the window, already past when the extension runs: the party bound by it
    # (or the party whose right it closes) gets the day back.
    assert policy.may_extend(kind, START - 20 * H, START + 4 * H, START, END, NOW)
    assert not policy.may_extend(kind, START - 30 * H, START - H, START, END, NOW)


def test_a_right_already_open_when_the_extension_runs_is_never_delayed():
    kind = DeadlineKind.DISCUSSION_ESCALATION
    reached_in_the_window = START + 4 * H
    assert not policy.may_extend(kind, START - 20 * H, reached_in_the_window, START, END, NOW)
    assert not policy.may_extend(kind, START - 22 * H, NOW, START, END, NOW)  # reached now
    # Still ahead when the extension runs: the seller gets the lost day, the buyer had no
    # right yet to lose.
    assert policy.may_extend(kind, START - 2 * H, START + 22 * H, START, END, NOW)
    assert policy.extendable_from(kind, START, NOW) == NOW
    assert policy.extendable_from(DeadlineKind.DISCUSSION_RESPOND_BY, START, NOW) == START
