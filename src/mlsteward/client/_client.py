"""The Python SDK: ``st = mlsteward.connect()``. The CLI uses the same client."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mlsteward.core import AuditEvent, AuditVerification, Config, Project, load_config
from mlsteward.projects import create_project, get_project, list_projects
from mlsteward.store import Store, open_store, query_events, verify_chain

__all__ = ["Client", "connect"]


class Client:
    """Entry point to every lifecycle action against one store.

    Stage APIs hang off it as attributes (``st.charters``, ``st.datasets``, ...); the
    methods here cover projects and the audit trail.
    """

    def __init__(self, store: Store, config: Config | None = None) -> None:
        self.store = store
        self.config = config

    # -- projects ---------------------------------------------------------------------
    def create_project(self, name: str, description: str = "") -> Project:
        """Create a project (names: lowercase letters, digits, '-', '_', '.')."""
        return create_project(self.store, name, description)

    def get_project(self, name: str) -> Project:
        return get_project(self.store, name)

    def list_projects(self) -> list[Project]:
        return list_projects(self.store)

    # -- audit ------------------------------------------------------------------------
    def audit_log(
        self,
        *,
        entity_kind: str | None = None,
        entity_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditEvent]:
        """Audit events matching every given filter, oldest first."""
        with self.store.reader() as session:
            return query_events(
                session,
                entity_kind=entity_kind,
                entity_id=entity_id,
                actor=actor,
                action=action,
                since=since,
                until=until,
                limit=limit,
                newest_first=newest_first,
            )

    def verify_audit(self) -> AuditVerification:
        """Recompute the audit hash chain."""
        with self.store.reader() as session:
            return verify_chain(session)

    # -- stage APIs: each lifecycle stage adds its property or methods below -----------
    # (keep each addition small: a property returning the stage's API object)

    # -- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.store!r})"


def connect(
    uri: str | None = None,
    *,
    artifacts: str | None = None,
    actor: str | None = None,
    **settings: Any,
) -> Client:
    """Connect to a Steward store, creating it on first use.

    ``uri`` is ``sqlite:///PATH`` or ``postgresql://USER@HOST:PORT/DB``; by default
    ``STEWARD_URI``, then ``steward.toml``, then ``sqlite:///.steward/steward.db``.
    """
    config = load_config({"uri": uri, "artifacts": artifacts, "actor": actor, **settings})
    return Client(open_store(config), config)
