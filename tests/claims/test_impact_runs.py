"""Impact replays in the background (issue 21): an admin asks for the impact of a draft
on a period's claims, a task replays them with its progress on the page, and the figures
it stores are what the pure rules compute."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text

from accounts.roles import Role
from arbiter import clock
from arbiter.extensions import db
from arbiter.tasks import TaskRun, run_ready_tasks
from claims import impact, policy, versions
from claims.models import ImpactRun, ImpactRunState, PolicyVersion
from dashboards.policy import Period
from tests.claims.helpers import file
from tests.claims.test_versions import NOW, _fields

PRICES = (1_500_000, 30_000, 80_000, 2_500_000, 45_000)


@pytest.fixture
def admins(create_user, time_machine):
    time_machine.move_to(NOW, tick=False)
    return (create_user(roles=[Role.ADMIN], name="Ada Admin"),
            create_user(roles=[Role.ADMIN], name="Bea Admin"))


@pytest.fixture
def draft(admins):
    version = versions.draft_version(admins[0], _fields())
    db.session.commit()
    return version


@pytest.fixture
def claims(ready_order):
    return [file(ready_order(item_price=price, shipping_cost=2_000)) for price in PRICES]


def _year() -> Period:
    today = clock.to_local(clock.now()).date()
    return Period(today - timedelta(days=364), today)


def _pure_impact(draft: PolicyVersion, period: Period) -> policy.Impact:
    judging = {row.code: row.to_rules() for row in db.session.scalars(select(PolicyVersion))}
    return policy.replay(versions.replayed_claims(period.starts_at, period.ends_before),
                         draft.to_rules(), judging)


def test_the_task_counts_its_progress_and_stores_what_the_pure_rules_compute(
        admins, draft, claims, monkeypatch):
    monkeypatch.setattr(impact, "PROGRESS_EVERY", 2)
    seen = []  # the progress a reader sees before each claim is replayed
    streamed = impact.replayed_claims

    def watched(since, until):
        for facts in streamed(since, until):
            seen.append(db.session.execute(text(
                "SELECT processed, total FROM impact_runs")).one())
            yield facts

    monkeypatch.setattr(impact, "replayed_claims", watched)
    run = impact.request_impact(draft, admins[0], _year())
    assert run.state is ImpactRunState.QUEUED
    db.session.commit()
    run_ready_tasks()  # as the end of the request does

    assert [tuple(row) for row in seen] == [(0, 5), (0, 5), (2, 5), (2, 5), (4, 5)]
    run = db.session.get(ImpactRun, run.id, populate_existing=True)
    assert run.state is ImpactRunState.DONE and (run.processed, run.total) == (5, 5)
    assert impact.figures(run) == _pure_impact(draft, _year())
    assert impact.figures(run).amount_changed == 2  # 15,000 and 25,000 zł: above the old cap
    assert db.session.scalar(select(TaskRun.finished_at).where(
        TaskRun.task == "claims.replay_impact")) is not None


def test_a_second_request_while_one_runs_joins_it_and_a_finished_one_is_replayed_afresh(
        admins, draft, claims):
    ada, bea = admins
    first = impact.request_impact(draft, ada, _year())
    assert impact.request_impact(draft, bea, _year()) is first
    other_period = Period(_year().start, _year().end - timedelta(days=1))
    assert impact.request_impact(draft, bea, other_period) is not first
    db.session.commit()
    run_ready_tasks()
    assert db.session.scalar(select(db.func.count(ImpactRun.id))) == 2
    again = impact.request_impact(draft, bea, _year())
    assert again.id != first.id and again.state is ImpactRunState.QUEUED


def test_the_database_refuses_two_unfinished_runs_for_one_version_and_period(admins, draft):
    from sqlalchemy.exc import IntegrityError

    row = {"version_id": draft.id, "period_start": _year().start, "period_end": _year().end,
           "requested_by_id": admins[0].id, "state": ImpactRunState.RUNNING, "processed": 0,
           "requested_at": clock.now()}
    db.session.add(ImpactRun(**row))
    db.session.flush()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(ImpactRun(**row))
        db.session.flush()


def test_a_failed_run_says_so_and_can_be_retried(client, auth, admins, draft, claims,
                                                 monkeypatch):
    def broken(since, until):
        raise RuntimeError("the claims could not be read")

    monkeypatch.setattr(impact, "replayed_claims", broken)
    auth.login(admins[0].email)
    failed = client.get(client.post(f"/staff/policy-versions/{draft.id}/impact").location)
    assert 'data-impact-state="failed"' in failed.text
    assert "The replay failed" in failed.text and "RuntimeError" in failed.text
    assert "the claims could not be read" not in failed.text  # no internals shown
    assert client.get(f"/staff/policy-versions/{draft.id}/impact.csv").status_code == 409

    monkeypatch.undo()
    retried = client.get(client.post(f"/staff/policy-versions/{draft.id}/impact").location)
    assert 'data-figure="claims">5<' in retried.text
    assert client.get(f"/staff/policy-versions/{draft.id}/impact.csv").status_code == 200


@pytest.mark.parametrize(("language", "words"), [
    ("en", {"none": "have not been replayed", "queued": "The replay is queued",
            "count": "0 of … claims replayed", "reload": "Refresh to see the figures",
            "done": "Claims replayed"}),
    ("pl", {"none": "nie zostały jeszcze przeliczone", "queued": "czeka w kolejce",
            "count": "Przeliczono 0 z … zgłoszeń", "reload": "Odśwież, aby zobaczyć wyniki",
            "done": "Przeliczone zgłoszenia"}),
])
def test_the_page_shows_the_progress_then_the_figures(app, client, auth, admins, draft,
                                                       claims, language, words):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    auth.login(admins[0].email)
    page = f"/staff/policy-versions/{draft.id}/impact"
    before = client.get(page).text
    assert 'data-impact-state="none"' in before and words["none"] in before

    queued = impact.request_impact(draft, admins[0], _year())  # not run yet
    db.session.commit()
    running = client.get(page).text
    assert words["queued"] in running and "<progress" in running
    assert words["count"] in running and words["reload"] in running
    assert '<noscript><meta http-equiv="refresh"' in running  # works without JavaScript
    status_url = f"/staff/policy-versions/{draft.id}/impact-runs/{queued.id}"
    assert f'data-impact-progress="{status_url}"' in running
    assert client.get(status_url).json == {"state": "queued", "processed": 0, "total": None,
                                           "percent": 0}

    run_ready_tasks()
    done = client.get(page).text
    assert words["done"] in done and 'data-figure="claims">5<' in done
    assert "<progress" not in done and "http-equiv" not in done
    assert client.get(status_url).json == {"state": "done", "processed": 5, "total": 5,
                                           "percent": 100}
    sheet = client.get(f"{page}.csv").text
    assert "summary,claims,,,,5," in sheet


def test_only_admins_see_replays_and_a_run_of_another_version_is_not_found(
        client, auth, create_user, admins, draft):
    run = impact.request_impact(draft, admins[0], _year())
    db.session.commit()
    run_ready_tasks()
    advisor = create_user(roles=[Role.ADVISOR, Role.SENIOR, Role.FINANCE])
    auth.login(advisor.email)
    base = f"/staff/policy-versions/{draft.id}"
    for answer in (client.get(f"{base}/impact"), client.post(f"{base}/impact"),
                   client.get(f"{base}/impact-runs/{run.id}"), client.get(f"{base}/impact.csv")):
        assert answer.status_code == 403
    assert db.session.scalar(select(db.func.count(ImpactRun.id))) == 1
    auth.logout()
    auth.login(admins[1].email)
    seeded = db.session.scalar(select(PolicyVersion.id).where(PolicyVersion.code == "2017-08"))
    assert client.get(f"/staff/policy-versions/{seeded}/impact-runs/{run.id}").status_code == 404
    assert client.get(f"{base}/impact-runs/{run.id + 1}").status_code == 404
    assert client.post("/staff/policy-versions/999999/impact").status_code == 404


def test_a_run_that_lost_its_worker_fails_after_an_hour(admins, draft, time_machine):
    from arbiter.sweeper import JOBS, run_job

    run = impact.request_impact(draft, admins[0], _year())
    db.session.commit()
    job = next(job for job in JOBS if job.name == "impact_run.give_up")
    assert run_job(job) == 0
    time_machine.move_to(NOW + impact.STUCK_AFTER, tick=False)
    assert run_job(job) == 1
    run = db.session.get(ImpactRun, run.id, populate_existing=True)
    assert run.state is ImpactRunState.FAILED and run.error == "not finished in time"


@pytest.mark.postgres_only
def test_other_connections_see_the_progress_while_the_claims_stream(committed, monkeypatch):
    """Real commits: the progress goes out in transactions of its own while the task's
    transaction streams the claims (its own commit would end the stream)."""
    from tests.claims.test_concurrency import _committed_claims

    staff, claim_ids = _committed_claims(4)
    try:
        draft = versions.draft_version(staff, _fields())
        db.session.commit()
        monkeypatch.setattr(impact, "PROGRESS_EVERY", 1)
        seen = []
        streamed = impact.replayed_claims

        def watched(since, until):
            for facts in streamed(since, until):
                with db.engine.connect() as page:  # as the status endpoint reads it
                    seen.append(page.scalar(text("SELECT processed FROM impact_runs")))
                yield facts

        monkeypatch.setattr(impact, "replayed_claims", watched)
        run_id = impact.request_impact(draft, staff, _year()).id
        db.session.commit()
        run_ready_tasks()
        assert seen == [0, 1, 2, 3]
        run = db.session.get(ImpactRun, run_id, populate_existing=True)
        assert run.state is ImpactRunState.DONE and run.result["claims"] == len(claim_ids)
    finally:  # the committed fixture keeps the policy versions the migrations seeded
        db.session.rollback()
        db.session.execute(delete(PolicyVersion).where(PolicyVersion.drafted_by_id.is_not(None)))
        db.session.commit()


def test_only_an_admin_may_ask_for_a_replay(create_user, draft):
    from accounts.staff import NotAnAdministrator

    advisor = create_user(roles=[Role.ADVISOR, Role.SENIOR, Role.FINANCE])
    with pytest.raises(NotAnAdministrator) as refused:  # in the default locale, Polish
        impact.request_impact(draft, advisor, _year())
    assert refused.value.status == 403 and "przeliczyć dawne zgłoszenia" in refused.value.message
    assert db.session.scalar(select(db.func.count(ImpactRun.id))) == 0
