"""The Streamlit console: pages that draw, and one cached factory for the service client.

Pages never talk HTTP or open the database themselves: each action is one call on the object that
`get_client()` returns. That object is the real `assistant.service.client.ServiceClient`, or the in-memory
`assistant.service.fake_client.FakeClient` when the environment variable `ASSISTANT_CONSOLE_FAKE=1` is set
(demos without a service, and the browser test). AppTest tests call `set_client(fake)` instead.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from assistant.service.client import ServiceClient, ServiceUnavailable
from assistant.service.fake_client import FakeClient

__all__ = ["FakeClient", "ServiceClient", "ServiceUnavailable", "get_client", "set_client"]

FAKE_ENV = "ASSISTANT_CONSOLE_FAKE"


_override: Any = None


def set_client(client: Any) -> None:
    """Use `client` instead of the cached factory (tests); `None` restores the factory."""
    global _override
    _override = client


@st.cache_resource(show_spinner=False)
def _cached_client(fake: bool) -> Any:
    if fake:
        return FakeClient()

    return ServiceClient()


def get_client() -> Any:
    """The service client every page uses (one per server process)."""
    if _override is not None:
        return _override
    return _cached_client(os.environ.get(FAKE_ENV, "") == "1")
