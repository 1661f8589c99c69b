"""Prometheus metrics of one server (its own registry, so that servers in one process stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """Request counts, failures, queue and compute latency, batch sizes, per model."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["model", "version"]
        self.requests = Counter("onyx_inference_requests", "Inference requests answered successfully",
                                labels, registry=self.registry)
        self.failures = Counter("onyx_inference_failures", "Inference requests that failed, by HTTP status",
                                labels + ["status"], registry=self.registry)
        self.runs = Counter("onyx_model_runs", "Model executions (one per batch)", labels, registry=self.registry)
        self.queue_seconds = Histogram("onyx_queue_duration_seconds", "Time a request waited for its batch to run",
                                       labels, buckets=_SECONDS, registry=self.registry)
        self.compute_seconds = Histogram("onyx_compute_duration_seconds", "Time of one model execution",
                                         labels, buckets=_SECONDS, registry=self.registry)
        self.request_seconds = Histogram("onyx_request_duration_seconds", "Time from request to reply",
                                         labels, buckets=_SECONDS, registry=self.registry)
        self.batch_rows = Histogram("onyx_batch_size", "Rows (batch dimension) per model execution",
                                    labels, buckets=_BATCH_SIZES, registry=self.registry)
        self.queue_depth = Gauge("onyx_queue_depth", "Requests waiting for a model run", labels,
                                 registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
