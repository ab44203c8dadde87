"""Background work of accounts: preparing data exports, and the sweeper's jobs."""

from accounts import exports
from arbiter.sweeper import register
from arbiter.tasks import celery


@celery.task(name="accounts.build_data_export")
def build_data_export(export_id: int) -> str | None:
    """Prepare one "Download my data" ZIP (queued after the request's commit)."""
    export = exports.build(export_id)
    return export.state.value if export is not None else None


# Ready exports are deleted 7 days after they were ready.
register("data_export.expire", exports.expired_exports, exports.expire)
# An export still not ready after an hour was lost with its worker: it fails, so the person
# can ask again.
register("data_export.give_up", exports.stuck_exports, exports.give_up)
