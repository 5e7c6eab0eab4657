"""The Streamlit console: pages that draw, and one cached factory for the service client.

Pages never talk HTTP or open the database themselves: each action is one call on the object that
`get_client()` returns. That object is the real `assistant.service.client.ServiceClient`, or the in-memory
`console.fake_client.FakeClient` when the environment variable `ASSISTANT_CONSOLE_FAKE=1` is set
(demos without a service, and the browser test). AppTest tests call `set_client(fake)` instead.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from assistant.errors import AssistantError

FAKE_ENV = "ASSISTANT_CONSOLE_FAKE"


def _service_unavailable() -> type[AssistantError]:
    # The service worker defines it (errors.py or client.py); until then the console brings its own,
    # so the banner logic and its tests do not wait on the other side of the contract.
    from assistant import errors

    found = getattr(errors, "ServiceUnavailable", None)
    if found is None:
        try:
            from assistant.service.client import ServiceUnavailable as found  # type: ignore[no-redef]
        except ImportError:
            found = None
    if found is None:

        class ServiceUnavailable(AssistantError):
            """The assistant service cannot be reached."""

        found = ServiceUnavailable
    return found


ServiceUnavailable = _service_unavailable()

_override: Any = None


def set_client(client: Any) -> None:
    """Use `client` instead of the cached factory (tests); `None` restores the factory."""
    global _override
    _override = client


@st.cache_resource(show_spinner=False)
def _cached_client(fake: bool) -> Any:
    if fake:
        from console.fake_client import FakeClient

        return FakeClient()
    from assistant.service.client import ServiceClient

    return ServiceClient()


def get_client() -> Any:
    """The service client every page uses (one per server process)."""
    if _override is not None:
        return _override
    return _cached_client(os.environ.get(FAKE_ENV, "") == "1")
