"""Routes of after-call work (issue 35): confirming a call's wrap-up code.

Scores and metrics travel with `GET /calls/{id}`; this file holds what only this domain writes.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel

from assistant import storage
from assistant.identity.audit import record as audit
from assistant.privacy.gate import safe_id
from assistant.quality import wrapup
from assistant.service import schemas
from assistant.service.access import current
from assistant.service.hub import CallHub
from assistant.service.policy import visible_to
from assistant.storage import quality as qstore


class WrapupBody(BaseModel):
    code: str


def add_quality_routes(app: Any, hub: CallHub) -> None:
    @app.post("/calls/{call_id:path}/wrapup", response_model=schemas.WrapupSet)
    def confirm_wrapup(call_id: str, body: WrapupBody) -> dict[str, Any]:
        """The agent's wrap-up code for a stored call; it teaches later suggestions."""
        call_id = safe_id(call_id)
        asker = current()
        call = storage.get_call(hub.cursor(), call_id)
        if call is None or not visible_to(asker, call.agent_id):
            raise HTTPException(404, f"no call {call_id!r}")
        name = asker.name if asker is not None else "local"
        wrapup.confirm(hub.cursor(), call_id, body.code.strip(), name)
        audit(hub.cursor(), name, "call.wrapup", call_id)
        found = qstore.wrapups_for(hub.cursor(), [call_id]).get(call_id, {})
        return {"call_id": call_id, "suggested": found.get("suggested", []), "chosen": found.get("chosen")}
