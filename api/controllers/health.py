"""Liveness and readiness, for the orchestrator rather than for users (so: no token)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get

from api.problems import problem_response, problem_responses
from api.state import AppServices
from domain.monitoring.ports import OK

PROBE_TIMEOUT_SECONDS = 2.0


class Liveness(msgspec.Struct, frozen=True):
    status: str


class Readiness(msgspec.Struct, frozen=True):
    status: str
    checks: dict[str, str]


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", operation_id="getLiveness", summary="The process is up")
    async def live(self) -> Liveness:
        return Liveness(status="live")

    @get(
        "/ready",
        operation_id="getReadiness",
        summary="PostgreSQL and Redis answer; 503 problem naming what does not",
        responses=problem_responses(503),
    )
    async def ready(self, services: AppServices) -> Response[Readiness]:
        checks = await services.readiness.check(PROBE_TIMEOUT_SECONDS)
        down = sorted(name for name, result in checks.items() if result != OK)
        if down:
            return problem_response(
                503,
                f"not ready: {', '.join(down)} unavailable",
                code="not_ready",
                extensions={"checks": checks},
            )
        return Response(Readiness(status="ready", checks=checks))
