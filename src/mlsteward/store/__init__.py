"""Base layer: metadata database, artifact store, audit trail. Imports only ``core``."""

from mlsteward.store._artifacts import ArtifactStore, FsspecArtifactStore, open_artifact_store
from mlsteward.store._audit import (
    GENESIS_HASH,
    append_event,
    canonical_json,
    event_hash,
    query_events,
    verify_chain,
)
from mlsteward.store._engine import make_engine, sqlite_path
from mlsteward.store._migrate import (
    VERSION_TABLE,
    SchemaState,
    ensure_schema,
    head_revision,
    schema_state,
    upgrade,
)
from mlsteward.store._store import (
    Store,
    Transaction,
    open_store,
    read_schema_state,
    store_home,
    upgrade_store,
)

__all__ = [
    "GENESIS_HASH",
    "VERSION_TABLE",
    "ArtifactStore",
    "FsspecArtifactStore",
    "SchemaState",
    "Store",
    "Transaction",
    "append_event",
    "canonical_json",
    "ensure_schema",
    "event_hash",
    "head_revision",
    "make_engine",
    "open_artifact_store",
    "open_store",
    "query_events",
    "read_schema_state",
    "schema_state",
    "sqlite_path",
    "store_home",
    "upgrade",
    "upgrade_store",
    "verify_chain",
]
