"""Personal data kept by other packages: each registers how to export and erase its part.

"Download my data" (:mod:`accounts.exports`) and "Delete my account"
(:mod:`accounts.deletion`) handle the account, its sessions, notifications, e-mails and
data exports themselves. Every other package that keeps personal data registers its part
here when its ``personal_data`` module is imported (the app factory imports them all, in
``BACKGROUND_MODULES``), so accounts never imports those packages:

- ``export(archive)`` adds the package's JSON file to the person's ZIP, lists the files the
  person uploaded (:meth:`Archive.add_evidence`) and names the person's own rows
  (:meth:`Archive.own`): their decision documents and audit entries go into the ZIP too;
- ``erase(user)`` erases or deletes what must go, in the caller's transaction, and returns
  counts for the ``user.deleted`` audit entry;
- ``blockers(user)`` says, in the reader's language, why the account cannot be deleted yet
  (the open cases the person takes part in);
- ``assigned_cases(user)`` counts the open cases an advisor still handles.

Registration order is the order of the package files in the ZIP and of the deletion steps.
A package that adds a file to the ZIP also describes it in
``templates/accounts/export_readme.txt``: the person reads one README for the whole ZIP.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Select

from accounts.models import User
from arbiter.money import to_decimal_string
from arbiter.storage import storage


@dataclass(frozen=True)
class Holder:
    """A package that keeps personal data, and its hooks (each one optional)."""

    name: str
    export: Callable[["Archive"], None] | None
    erase: Callable[[User], dict[str, int]] | None
    blockers: Callable[[User], list[str]] | None
    assigned_cases: Callable[[User], int] | None


HOLDERS: list[Holder] = []


def register(name: str, *, export: Callable[["Archive"], None] | None = None,
             erase: Callable[[User], dict[str, int]] | None = None,
             blockers: Callable[[User], list[str]] | None = None,
             assigned_cases: Callable[[User], int] | None = None) -> None:
    """Register a package's hooks (see the module's docstring); a second call is ignored."""
    if any(holder.name == name for holder in HOLDERS):
        return
    HOLDERS.append(Holder(name, export, erase, blockers, assigned_cases))


def amount(minor: int | None) -> str | None:
    """An amount as the archive writes it: a decimal string ("123.45"), or None."""
    return None if minor is None else to_decimal_string(minor)


@dataclass
class Archive:
    """What goes into the ZIP: JSON documents by file name, and files by path. The export
    hooks also collect what the shared files are made of: the person's uploads
    (evidence.json) and their own rows (decisions.json, audit_log.json)."""

    user: User
    json_files: dict[str, object] = field(default_factory=dict)
    binary_files: dict[str, bytes] = field(default_factory=dict)
    evidence: list[tuple[dict, str, str | None]] = field(default_factory=list)
    owned: dict[str, tuple[str, Select]] = field(default_factory=dict)

    def add(self, name: str, content: object) -> None:
        self.json_files[name] = content

    def add_stored(self, path: str, key: str | None) -> str | None:
        """Copy a stored file into the archive; None when it is not (or no longer) there."""
        if not key:
            return None
        try:
            self.binary_files[path] = storage().get(key)
        except FileNotFoundError:
            return None
        return path

    def add_evidence(self, entry: dict, path: str, key: str | None) -> None:
        """A file the person uploaded: ``entry`` goes into evidence.json with ``"file"``
        set to ``path``, where the stored file is copied (None when it is gone)."""
        self.evidence.append((entry, path, key))

    def own(self, object_type: str, noun: str, ids: Select) -> None:
        """The person's own rows of the table ``object_type``, as a SELECT of their ids:
        the decision documents and audit entries about them go in; decisions.json calls
        one a ``noun`` ("discussion")."""
        self.owned[object_type] = (noun, ids)
