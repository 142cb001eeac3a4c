"""Every job kind of the platform, declared by its feature and listed here once.

This module assembles: it imports each feature's ``jobs.py`` and nothing in a
feature imports it. The workers' actors, the scheduler's periodic runs, the
metrics' labels and the README's table of job kinds (checked by a test) all
come from ``JOB_KINDS``. Adding a kind: declare it in its feature's
``jobs.py``, add it to the tuple below (and a Procfile line if its queue is new).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from domain.adherence.jobs import ADHERENCE_ROLLUP
from domain.anchoring.jobs import ANCHOR_BATCH
from domain.audit.jobs import AUDIT_CHAIN_PENDING, AUDIT_PARTITIONS
from domain.consultations.confirmation import activate_consultation
from domain.consultations.jobs import (
    CONSULTATION_ARCHIVE,
    CONSULTATION_RELEASE,
    CONSULTATION_REMIND,
)
from domain.documents.jobs import DOCUMENT_STORE
from domain.doses.jobs import DOSE_MISSED, DOSE_REMIND
from domain.errors import NotFound
from domain.files.jobs import CONTENT_UNPIN
from domain.job_history.jobs import JOB_RETENTION
from domain.jobs.model import JobKind
from domain.jobs.system import NOOP
from domain.notifications.jobs import EMAIL_SEND
from domain.payments.callback import BAKONG, PAYMENT_COMPLETED, on_bakong_paid
from domain.payments.jobs import PAYMENT_ACTIVATE, PAYMENT_POLL, PAYMENT_RECONCILE
from domain.payments.model import Purpose
from domain.phi.jobs import PHI_ROTATE
from domain.prescriptions.jobs import DOSE_EXTEND, PRESCRIPTION_BATCH, PRESCRIPTION_EXPIRE
from domain.records.jobs import RECORD_STORE
from domain.scans.awaiting import OCR_COMPLETED, OCR_FAILED
from domain.scans.jobs import SCAN_PROVIDER_TIMEOUT, SCAN_READ, SCAN_STORE
from domain.scans.provider import on_ocr_completed, on_ocr_failed
from domain.settings import OCR_PROVIDER
from domain.subscriptions.jobs import SUBSCRIPTION_UPKEEP
from domain.subscriptions.service import activate_subscription
from domain.webhooks.jobs import WEBHOOK_PROCESS
from domain.webhooks.model import EventHandler, RouteKey

JOB_KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        EMAIL_SEND,
        NOOP,
        AUDIT_PARTITIONS,
        AUDIT_CHAIN_PENDING,
        JOB_RETENTION,
        PHI_ROTATE,
        RECORD_STORE,
        DOCUMENT_STORE,
        SCAN_STORE,
        SCAN_READ,
        SCAN_PROVIDER_TIMEOUT,
        CONTENT_UNPIN,
        ANCHOR_BATCH,
        ADHERENCE_ROLLUP,
        PRESCRIPTION_EXPIRE,
        PRESCRIPTION_BATCH,
        DOSE_EXTEND,
        DOSE_MISSED,
        DOSE_REMIND,
        WEBHOOK_PROCESS,
        PAYMENT_ACTIVATE,
        PAYMENT_POLL,
        PAYMENT_RECONCILE,
        SUBSCRIPTION_UPKEEP,
        CONSULTATION_RELEASE,
        CONSULTATION_REMIND,
        CONSULTATION_ARCHIVE,
    )
}

# Who handles which webhook event: (provider, event type) -> a feature's handler. An event
# type not listed here is recorded as unhandled and acknowledged.
WEBHOOK_ROUTES: dict[RouteKey, EventHandler] = {
    (BAKONG, PAYMENT_COMPLETED): on_bakong_paid,
    (OCR_PROVIDER, OCR_COMPLETED): on_ocr_completed,
    (OCR_PROVIDER, OCR_FAILED): on_ocr_failed,
}

# What a completed payment activates, by its purpose: ``activate(payment, **dependencies)``.
PAYMENT_ACTIVATIONS: dict[Purpose, Callable[..., Awaitable[object]]] = {
    Purpose.SUBSCRIPTION: activate_subscription,
    Purpose.CONSULTATION: activate_consultation,
}


def kind_named(name: str) -> JobKind:
    try:
        return JOB_KINDS[name]
    except KeyError:
        raise NotFound("unknown job kind") from None


def queues() -> list[str]:
    """Every queue a kind runs on: each must be served by a Procfile line."""
    return sorted({kind.queue for kind in JOB_KINDS.values()})
