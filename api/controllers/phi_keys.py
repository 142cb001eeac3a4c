"""PHI key rotation for administrators: re-seal every sealed value under the active key."""

from __future__ import annotations

from litestar import Controller, Response, post

from api.audit_context import AuditContextDep
from api.auth import Caller
from api.commands import IdempotencyKey, JobAccepted, accepted
from api.problems import api_responses
from api.state import UseCases
from domain.phi.jobs import submit_rotation


class PhiKeysController(Controller):
    path = "/admin/phi"
    tags = ["admin"]

    @post(
        "/rotate",
        operation_id="rotatePhiKeys",
        summary="Queue re-sealing of all PHI under the active key; 202 with the job's address",
        status_code=202,
        opt={"policy": "phi.rotate"},
        responses=api_responses(400, 403, 409),
    )
    async def rotate_phi_keys(
        self,
        principal: Caller,
        cases: UseCases,
        audit_context: AuditContextDep,
        idempotency_key: IdempotencyKey,
    ) -> Response[JobAccepted]:
        submission = await cases.run(
            submit_rotation, audit_context, principal.user_id, idempotency_key
        )
        return accepted(submission)
