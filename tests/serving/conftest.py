"""Fixtures of the serving tests (defined in serving_helpers, a uniquely named module, so
that test modules can import its helpers without clashing with other ``conftest`` files)."""

from serving_helpers import acs_rows, acs_store, live_server, template

__all__ = ["acs_rows", "acs_store", "live_server", "template"]
