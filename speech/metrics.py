"""This process's Prometheus metrics: the engine's work (through its observer), refusals, and WebSockets.

Every metric lives in prometheus_client's default registry (thread-safe: the engine's worker thread, the event
loop and Django's threads update it concurrently), which `GET /metrics` renders (`config.metrics`). The engine's
queue gauges and the model's description are read from the engine when scraped. Each server process counts
its own work and is its own Prometheus target (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import prometheus_client
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .engine.observer import EngineObserver
from .engine.worker import Engine, SpeechRequest
from .errors import ServiceError

prometheus_client.disable_created_metrics()  # no `_created` series next to each counter and histogram

KINDS = ("speech", "clone", "session")  # SpeechRequest.kind: /v1/audio/speech, /v1/voice-clone, streaming sessions

# The error codes answered to clients that count as refusals, and their `reason` label.
REASONS = {
    "engine_busy": "queue_full",
    "throttled": "rate_limited",
    "too_many_streams": "too_many_streams",
    "context_too_long": "too_long",
    "session_text_full": "session_text_full",
    "audio_too_large": "audio_too_large",
    "request_too_large": "request_too_large",
    "request_timeout": "request_timeout",
    "invalid_api_key": "unauthorized",
    "missing_api_key": "unauthorized",
    "not_authenticated": "unauthorized",
    "authentication_failed": "unauthorized",
    "model_not_loaded": "model_not_loaded",
    "service_unavailable": "service_unavailable",
}
AUDIO_CAP = "audio_cap"  # not an error: the audio ended at CSM_MAX_AUDIO_SECONDS

TIME_TO_FIRST_AUDIO = Histogram(
    "csm_time_to_first_audio_seconds",
    "Seconds from a request's queueing on the engine to its first audio handed to the caller",
    ["kind"],
    buckets=(0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30),
)
AUDIO_SECONDS = Counter("csm_audio_seconds", "Seconds of audio generated and handed to callers")
GENERATION_SECONDS = Counter(
    "csm_generation_seconds",
    "Seconds requests spent on the engine, from the start of their generation to their end, summed over requests",
)
FRAMES = Counter("csm_frames", "Frames of audio (80 ms each) generated and handed to callers")
BATCH_SIZE = Histogram(
    "csm_batch_size", "Requests generated together in one frame step", buckets=(1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32)
)
STEP_SECONDS = Histogram(
    "csm_step_seconds",
    "Seconds of one frame step (all active requests; real time needs under 0.08)",
    buckets=(0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5, 1),
)
REQUESTS = Counter("csm_requests", "Requests that left the engine (done, cancelled or failed)", ["kind"])
CANCELLED = Counter("csm_requests_cancelled", "Requests stopped before their end (client gone, cancel)", ["kind"])
REJECTED = Counter("csm_requests_rejected", "Requests refused, by reason (and audio cut at the cap)", ["reason"])
WEBSOCKETS = Gauge("csm_websocket_connections", "Open WebSocket connections (stream-text)")
UTTERANCES = Counter("csm_utterances", "Streaming-session texts ended with is_final (HTTP and WebSocket)")
CANCELS = Counter("csm_cancels", 'WebSocket {"type": "cancel"} messages received')

for _kind in KINDS:  # every series exists from the start, so rate() and the dashboards see zeros, not gaps
    TIME_TO_FIRST_AUDIO.labels(kind=_kind)
    REQUESTS.labels(kind=_kind)
    CANCELLED.labels(kind=_kind)
for _reason in sorted({*REASONS.values(), AUDIO_CAP}):
    REJECTED.labels(reason=_reason)


def count_refusal(error: ServiceError) -> None:
    """Counts an error answered to a client, when its code is one of the refusals (REASONS)."""
    reason = REASONS.get(error.code or "")
    if reason is not None:
        REJECTED.labels(reason=reason).inc()


def count_audio_cap() -> None:
    REJECTED.labels(reason=AUDIO_CAP).inc()


class EngineMetrics(EngineObserver):
    """The engine's observer: its facts into the metrics above (called in the engine's worker thread)."""

    def step(self, *, rows: int, seconds: float) -> None:
        BATCH_SIZE.observe(rows)
        STEP_SECONDS.observe(seconds)

    def first_audio(self, request: SpeechRequest, *, seconds: float) -> None:
        TIME_TO_FIRST_AUDIO.labels(kind=request.kind).observe(seconds)

    def audio(self, request: SpeechRequest, *, frames: int, seconds: float) -> None:
        FRAMES.inc(frames)
        AUDIO_SECONDS.inc(seconds)

    def finished(self, request: SpeechRequest, *, seconds: float, cancelled: bool) -> None:
        GENERATION_SECONDS.inc(seconds)
        REQUESTS.labels(kind=request.kind).inc()
        if cancelled:
            CANCELLED.labels(kind=request.kind).inc()

    def capped(self, request: SpeechRequest) -> None:
        count_audio_cap()


class EngineCollector(Collector):
    """The engine's queue and model, read when scraped: csm_requests_active, csm_requests_waiting, csm_model_info."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.model = ""

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        active = len(engine.active) if engine is not None else 0
        waiting = max(0, engine.busy - active) if engine is not None else 0
        yield GaugeMetricFamily("csm_requests_active", "Requests being generated (rows of the batch)", value=active)
        yield GaugeMetricFamily("csm_requests_waiting", "Requests (and samples to encode) queued", value=waiting)
        info = GaugeMetricFamily(
            "csm_model_info", "The model this process serves, once loaded", labels=["model", "device", "dtype"]
        )
        if engine is not None:
            dtype = str(engine.loaded.dtype).removeprefix("torch.")
            info.add_metric([self.model, str(engine.loaded.device), dtype], 1)
        yield info


_collector = EngineCollector()
REGISTRY.register(_collector)


def watch(engine: Engine, *, model: str) -> None:
    """Makes `engine` (serving `model`) the one whose queue and model the metrics report."""
    _collector.model = model
    _collector.engine = engine
