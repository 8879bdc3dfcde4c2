"""The Python SDK."""

from mlsteward.client._client import Client, connect

__all__ = ["Client", "connect"]
