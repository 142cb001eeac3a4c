"""Prometheus metrics: in-process HTTP figures plus job and queue figures read at scrape time.

Job and queue figures come from PostgreSQL and Redis on each scrape, so they
are the same whichever replica answers. A source that does not answer in
time is reported as ``healthplat_metrics_source_up{source=...} 0`` instead of
failing the scrape, so the HTTP figures still arrive when the database is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Iterator
from typing import TypeVar

import structlog
from litestar import Controller, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from api.auth import BEARER_SCHEME, metrics_scraper
from api.middleware.http_metrics import HttpMetrics
from api.problems import problem_responses
from api.state import AppServices
from domain.catalogue import JOB_KINDS, queues
from domain.jobs.model import JobStatus
from domain.monitoring.ports import DurationHistogram, JobCount, JobFigures, QueueDepth

SOURCE_TIMEOUT_SECONDS = 3.0

log = structlog.get_logger(__name__)
T = TypeVar("T")


def _jobs_family(counts: list[JobCount]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "healthplat_jobs", "Jobs in the database, by kind and status.", labels=["kind", "status"]
    )
    # Every known kind and status is present, at 0 if need be, so a series never vanishes.
    table = {(kind, status.value): 0 for kind in JOB_KINDS for status in JobStatus}
    table.update({(row.kind, row.status): row.count for row in counts})
    for (kind, status), count in sorted(table.items()):
        family.add_metric([kind, status], count)
    return family


def _duration_family(histograms: list[DurationHistogram]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "healthplat_job_duration_seconds",
        "Time from a job's first start to its final outcome, retries included.",
        labels=["kind", "status"],
    )
    for histogram in histograms:
        buckets = [
            (_le(bound), count)
            for bound, count in zip(histogram.bounds, histogram.buckets, strict=True)
        ]
        buckets.append(("+Inf", histogram.count))
        family.add_metric(
            [histogram.kind, histogram.status], buckets, sum_value=histogram.total_seconds
        )
    return family


def _le(bound: float) -> str:
    return repr(float(bound))


def _queue_family(depths: list[QueueDepth]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "healthplat_queue_messages",
        "Dramatiq messages in Redis, by queue and state (ready, in_flight, delayed, dead).",
        labels=["queue", "state"],
    )
    for depth in depths:
        for state in ("ready", "in_flight", "delayed", "dead"):
            family.add_metric([depth.queue, state], getattr(depth, state))
    return family


def _source_family(up: dict[str, bool]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "healthplat_metrics_source_up",
        "Whether a source of the scrape-time metrics answered (1) or not (0).",
        labels=["source"],
    )
    for source, answered in sorted(up.items()):
        family.add_metric([source], 1 if answered else 0)
    return family


class _Snapshot:
    """A collector over families already computed, in the shape ``generate_latest`` reads."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


async def _within_deadline(source: str, work: Awaitable[T]) -> T | None:
    try:
        return await asyncio.wait_for(work, SOURCE_TIMEOUT_SECONDS)
    except Exception as exc:  # a metrics source down must not fail the scrape
        log.warning("metrics_source_failed", source=source, error_type=type(exc).__name__)
        return None


async def _from_postgres(figures: JobFigures) -> list[Metric]:
    counts, durations = await figures.job_figures()
    return [_jobs_family(counts), _duration_family(durations)]


async def _from_redis(figures: JobFigures) -> list[Metric]:
    return [_queue_family(await figures.queue_depths(queues()))]


async def scrape_families(figures: JobFigures) -> list[Metric]:
    sources = {"postgres": _from_postgres(figures), "redis": _from_redis(figures)}
    results = await asyncio.gather(
        *(_within_deadline(name, work) for name, work in sources.items())
    )
    answered = dict(zip(sources, results, strict=True))
    families: list[Metric] = [
        _source_family({name: result is not None for name, result in answered.items()})
    ]
    for result in answered.values():
        families += result or []
    return families


class MetricsController(Controller):
    path = "/metrics"
    tags = ["monitoring"]

    @get(
        "/",
        operation_id="getMetrics",
        summary="Prometheus text exposition",
        description="Bearer METRICS_TOKEN (the scraper's), or an administrator's token.",
        media_type=CONTENT_TYPE_LATEST,
        guards=[metrics_scraper],
        security=[{BEARER_SCHEME: []}],
        responses=problem_responses(401, 403),
    )
    async def metrics(self, services: AppServices, state: State) -> Response[bytes]:
        http_metrics: HttpMetrics = state.http_metrics
        body = generate_latest(http_metrics.registry) + generate_latest(
            _Snapshot(await scrape_families(services.figures))  # type: ignore[arg-type]
        )
        return Response(body, media_type=CONTENT_TYPE_LATEST)
