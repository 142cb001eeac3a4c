"""The Litestar application: routes, auth, error mapping and middleware wired in one factory.

``create_app`` only assembles; the lifespan opens the database pool and the
broker on the serving loop. Run with ``uvicorn --factory api.app:create_app``.
"""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api.audit_context import provide_audit_context
from api.auth import BEARER_SCHEME, provide_principal
from api.commands import provide_idempotency_key
from api.controllers.account import AccountController
from api.controllers.adherence import AdherenceController
from api.controllers.alerts import AlertsController, PatientAlertsController
from api.controllers.audit import AuditController
from api.controllers.auth import AUTH_CONTROLLERS
from api.controllers.availability import AvailabilityController
from api.controllers.connections import ConnectionsController
from api.controllers.consultations import ConsultationsController
from api.controllers.doctors import DoctorsController
from api.controllers.documents import DocumentsController
from api.controllers.doses import DosesController, PatientDosesController
from api.controllers.health import HealthController
from api.controllers.jobs import JobsController
from api.controllers.medicines import MedicinesController
from api.controllers.metrics import MetricsController
from api.controllers.notices import NoticesController
from api.controllers.notifications import NotificationsController
from api.controllers.patients import PatientsController
from api.controllers.payments import PaymentsController
from api.controllers.phi_keys import PhiKeysController
from api.controllers.prescriptions import PrescriptionsController
from api.controllers.records import RecordsController
from api.controllers.scans import ReadingController, ScansController
from api.controllers.subscriptions import SubscriptionsController
from api.controllers.vitals import VitalsController
from api.controllers.webhooks import WebhooksController
from api.inline_dependencies import resolve_dependencies_in_line
from api.lifespan import services_lifespan
from api.middleware.allow_header import allow_every_method
from api.middleware.failure_audit import FailureAuditMiddleware
from api.middleware.http_metrics import HttpMetrics, HttpMetricsMiddleware
from api.middleware.rate_limit import RateLimitMiddleware
from api.middleware.request_context import RequestContextMiddleware, echo_request_id
from api.middleware.security_headers import cors_config, security_headers
from api.notice_stream import live_notices
from api.openapi import ContractStructSchemaPlugin
from api.policy_guard import policy_guard, provide_access
from api.portal.routes import portal_routes
from api.problems import EXCEPTION_HANDLERS
from api.request import ApiRequest
from api.schema_rules import REQUEST_RULES
from api.state import provide_services, provide_use_cases
from domain.adapters.settings_check import settings_or_exit
from domain.settings import Settings

API_TITLE = "Healthplat API"
API_VERSION = "1.0.0"  # the /api/v1 contract, not the package version
DOCS_PATH = "/schema"


def _api_v1() -> Router:
    """Everything under /api/v1 passes its route's access policy (api/policy_guard.py)."""
    return Router(
        path="/api/v1",
        route_handlers=[
            JobsController,
            NotificationsController,
            ConnectionsController,
            AvailabilityController,
            ConsultationsController,
            AdherenceController,
            PatientsController,
            DoctorsController,
            MedicinesController,
            PrescriptionsController,
            DosesController,
            PatientDosesController,
            AuditController,
            PhiKeysController,
            *AUTH_CONTROLLERS,
            AccountController,
            RecordsController,
            NoticesController,
            DocumentsController,
            ScansController,
            ReadingController,
            VitalsController,
            AlertsController,
            PatientAlertsController,
            WebhooksController,
            PaymentsController,
            SubscriptionsController,
        ],
        guards=[policy_guard],
        dependencies={
            "principal": Provide(provide_principal, sync_to_thread=False),
            "access": Provide(provide_access, sync_to_thread=False),
            "idempotency_key": Provide(provide_idempotency_key, sync_to_thread=False),
        },
        security=[{BEARER_SCHEME: []}],
    )


def _live_v1() -> Router:
    """The live notices' WebSocket: its first message carries the token (api/notice_stream.py),
    so it sits beside the guarded router rather than in it."""
    return Router(path="/api/v1", route_handlers=[live_notices])


def create_app(settings: Settings | None = None) -> Litestar:
    """The app; without ``settings`` (uvicorn's factory call) they are read from the environment,
    and a bad one ends the process with one line per bad setting (settings_or_exit)."""
    settings = settings or settings_or_exit()
    http_metrics = HttpMetrics()
    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            _api_v1(),
            _live_v1(),
            *portal_routes(),
        ],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "cases": Provide(provide_use_cases, sync_to_thread=False),
            "audit_context": Provide(provide_audit_context, sync_to_thread=False),
        },
        lifespan=[services_lifespan],
        # Outermost first: the refusal audit must see the rate limiter's 429s.
        middleware=[
            RequestContextMiddleware(),
            HttpMetricsMiddleware(http_metrics),
            FailureAuditMiddleware(),
            RateLimitMiddleware(),
        ],
        before_send=[echo_request_id, security_headers(DOCS_PATH), allow_every_method],
        cors_config=cors_config(settings),
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=ApiRequest,
        plugins=[ContractStructSchemaPlugin(REQUEST_RULES)],
        request_max_body_size=settings.max_request_body_bytes,
        openapi_config=OpenAPIConfig(
            title=API_TITLE,
            version=API_VERSION,
            path=DOCS_PATH,
            components=Components(
                security_schemes={
                    BEARER_SCHEME: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
        ),
        state=State({"settings": settings, "http_metrics": http_metrics}),
        # Litestar's own logging config would log exception text; ours logs types only.
        logging_config=None,
        debug=False,
    )
    resolve_dependencies_in_line(app)
    return app
