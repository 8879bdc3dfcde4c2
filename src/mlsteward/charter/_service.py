"""Charter operations against the store: apply (versioned, audited), get, list, diff."""

from __future__ import annotations

import hashlib
import json

from mlsteward.charter._diff import diff_charters
from mlsteward.charter._records import ApplyResult, CharterDiff, CharterVersion
from mlsteward.charter._schema import Charter, CharterSource, load_charter
from mlsteward.core import IntegrityViolation, InvalidInput, NotFound, utcnow, validate_name
from mlsteward.store import Store
from mlsteward.store.metadata import (
    SqlCharterRepository,
    SqlProjectRepository,
    StoredCharterVersion,
)

__all__ = [
    "apply_charter",
    "diff_charter_versions",
    "get_charter",
    "list_charters",
]

MAX_NOTE = 2_000


def _to_record(project: str, stored: StoredCharterVersion) -> CharterVersion:
    digest = hashlib.sha256(stored.content.encode("utf-8")).hexdigest()
    if digest != stored.content_hash:
        raise IntegrityViolation(
            f"Charter version {stored.version} of project {project!r} does not match its "
            f"recorded hash (stored {stored.content_hash[:12]}..., content hashes to "
            f"{digest[:12]}...): the row was edited outside Steward. Restore it from a backup; "
            "the audit trail (steward audit log --entity charter:" + project + ") has the hash."
        )
    charter = Charter.from_dict(
        json.loads(stored.content), source=f"stored charter {project}@{stored.version}"
    )
    return CharterVersion(
        project=project,
        version=stored.version,
        charter=charter,
        content_hash=stored.content_hash,
        created_at=stored.created_at,
        created_by=stored.created_by,
        note=stored.note,
        id=stored.id,
    )


def apply_charter(
    store: Store, project: str, charter: CharterSource, *, note: str = ""
) -> ApplyResult:
    """Store ``charter`` as the next version of ``project``'s charter, audited.

    When its canonical content equals the latest version's, nothing is written and that
    version is returned with ``created=False``. Content equal to an older version (a
    revert) is a new version: the latest one is what is in force.
    """
    validate_name("project", project)
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidInput(f"A charter note is text of at most {MAX_NOTE} characters.")
    document = load_charter(charter)
    content = document.canonical_json()
    content_hash = hashlib.sha256(content.encode("utf-8")).hexdigest()
    with store.transaction() as tx:
        owner = tx.projects.get(project)
        charters = SqlCharterRepository(tx.session)
        latest = charters.latest(owner.id)
        if latest is not None:
            current = _to_record(project, latest)
            # compare re-canonicalised, so that new defaults in a later format are no change
            if current.charter.canonical_json() == content:
                return ApplyResult(current, created=False)
        stored = charters.add(
            owner.id,
            content=content,
            content_hash=content_hash,
            created_at=utcnow(),
            created_by=store.actor,
            note=note,
        )
        tx.audit(
            "charter.apply",
            "charter",
            project,
            {
                "version": stored.version,
                "content_hash": content_hash,
                "previous_version": None if latest is None else latest.version,
                "note": note,
            },
        )
    return ApplyResult(_to_record(project, stored), created=True)


def _check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInput(
            f"A charter version is a whole number from 1 (1, 2, ...), got {version!r}."
        )
    return version


def get_charter(store: Store, project: str, version: int | None = None) -> CharterVersion:
    """A version of ``project``'s charter (the latest when ``version`` is None)."""
    if version is not None:
        _check_version(version)
    with store.reader() as session:
        owner = SqlProjectRepository(session).get(project)
        charters = SqlCharterRepository(session)
        stored = charters.latest(owner.id) if version is None else charters.find(owner.id, version)
        if stored is None:
            latest = charters.latest(owner.id)
            if latest is None:
                raise NotFound(
                    f"Project {project!r} has no charter yet. Apply one with: "
                    f"steward charter apply charter.yaml --project {project}"
                )
            raise NotFound(
                f"Project {project!r} has no charter version {version}; its versions are "
                f"1 to {latest.version}. See them with: steward charter list {project}"
            )
    return _to_record(project, stored)


def list_charters(store: Store, project: str) -> list[CharterVersion]:
    """Every version of ``project``'s charter, oldest first ([] when there is none)."""
    with store.reader() as session:
        owner = SqlProjectRepository(session).get(project)
        stored = SqlCharterRepository(session).list(owner.id)
    return [_to_record(project, s) for s in stored]


def diff_charter_versions(store: Store, project: str, v1: int, v2: int) -> CharterDiff:
    """The field-path changes from version ``v1`` to version ``v2`` of a project's charter."""
    old = get_charter(store, project, _check_version(v1))
    new = get_charter(store, project, _check_version(v2))
    return CharterDiff(
        project=project,
        from_version=v1,
        to_version=v2,
        changes=tuple(diff_charters(old.charter, new.charter)),
    )
