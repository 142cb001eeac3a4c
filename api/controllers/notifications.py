"""Notifications sent on the platform's behalf; for now, e-mail from a template (admin only)."""

from __future__ import annotations

from litestar import Controller, Response, post
from litestar.params import JSONBody

from api.audit_context import AuditContextDep
from api.auth import Caller
from api.commands import IdempotencyKey, JobAccepted, accepted
from api.problems import api_responses
from api.state import UseCases
from domain.notifications.email import SendEmail, submit_email


class NotificationsController(Controller):
    path = "/notifications"
    tags = ["notifications"]

    @post(
        "/email",
        operation_id="sendEmail",
        summary="Queue an e-mail from a template; 202 with the job's address",
        status_code=202,
        responses=api_responses(400, 403, 409, 413, 422),
        opt={"policy": "notification.send_email"},
    )
    async def send_email(
        self,
        data: JSONBody[SendEmail],
        principal: Caller,
        cases: UseCases,
        idempotency_key: IdempotencyKey,
        audit_context: AuditContextDep,
    ) -> Response[JobAccepted]:
        submission = await cases.run(
            submit_email, data, principal.user_id, idempotency_key, audit_context
        )
        return accepted(submission)
