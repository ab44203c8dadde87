"""Problem reports in a data export and in account deletion.

The export holds the person's problem reports (problem_reports.json) and their screenshots
(evidence). A deletion keeps only the fact that a report was made: what it said becomes
``—`` and the screenshot file is deleted once the transaction commits.
"""

from sqlalchemy import select

from accounts.models import User
from accounts.personal_data import Archive, register
from arbiter.extensions import db
from arbiter.files import delete_blob_after_commit
from incidents.models import ProblemReport

ERASED_TEXT = "—"  # what an erased problem report says (the columns may not be empty)


def _reports_of(user: User) -> list[ProblemReport]:
    return list(db.session.scalars(
        select(ProblemReport).where(ProblemReport.user_id == user.id)
        .order_by(ProblemReport.reported_at, ProblemReport.id)))


def export(archive: Archive) -> None:
    reports = _reports_of(archive.user)
    archive.add("problem_reports.json", [{
        "id": r.id, "what_happened": r.what_happened, "happened_at": r.happened_at,
        "what_you_were_doing": r.doing, "reported_at": r.reported_at,
        "screenshot": r.screenshot_filename,
        "incident": (r.incident.text_in("title", archive.user.locale or "pl").text
                     if r.incident is not None else None),
    } for r in reports])
    archive.own("problem_reports", "problem_report",
                select(ProblemReport.id).where(ProblemReport.user_id == archive.user.id))
    for report in reports:
        if report.screenshot_key:
            archive.add_evidence({"where": "problem_report", "problem_report_id": report.id,
                                  "filename": report.screenshot_filename,
                                  "content_type": report.screenshot_content_type,
                                  "sha256": report.screenshot_sha256,
                                  "uploaded_at": report.reported_at},
                                 f"evidence/problem-report-{report.id}-"
                                 f"{report.screenshot_filename}",
                                 report.screenshot_key)


def erase(user: User) -> dict[str, int]:
    reports = db.session.scalars(
        select(ProblemReport).where(ProblemReport.user_id == user.id)).all()
    for report in reports:
        report.what_happened = ERASED_TEXT
        report.doing = ERASED_TEXT
        if report.screenshot_key:
            delete_blob_after_commit(report.screenshot_key)
        report.screenshot_key = report.screenshot_sha256 = None
        report.screenshot_filename = report.screenshot_content_type = None
    return {"problem_reports_erased": len(reports)}


register("incidents", export=export, erase=erase)
