"""OpenTelemetry spans for extraction, pricing, drafting and posting (docs/decisions/0036), off by default.

On when the configuration's `telemetry.spans_file` or `telemetry.otlp_endpoint` is set, or the
environment's BILLBRIDGE_SPANS_FILE or OTEL_EXPORTER_OTLP_ENDPOINT (the environment wins). A file gets
one JSON object per finished span, written as the span ends; an endpoint gets OTLP over HTTP in
batches. Every span carries the billbridge trace id as `billbridge.trace_id`, and the OpenTelemetry
trace id is derived from it, so the runs of one PM change (its extraction, then its billing and
posting) are one trace in a tracing backend. Off, spans are no-ops and nothing is written.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

from rules.settings import TelemetryConfig

SPANS_FILE_ENV = "BILLBRIDGE_SPANS_FILE"
OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACE_ATTRIBUTE = "billbridge.trace_id"
SERVICE_NAME = "billbridge"

AttributeValue = str | int | float | bool


@dataclass(frozen=True)
class SpanExport:
    """Where finished spans go: a JSON-lines file, an OTLP/HTTP endpoint, both, or nowhere."""

    spans_file: str = ""
    otlp_endpoint: str = ""

    @property
    def on(self) -> bool:
        return bool(self.spans_file or self.otlp_endpoint)

    @classmethod
    def of(cls, config: TelemetryConfig, environ: Mapping[str, str] | None = None) -> SpanExport:
        """The configuration's export, the environment's variables taking precedence."""
        env = os.environ if environ is None else environ
        return cls(
            env.get(SPANS_FILE_ENV) or config.spans_file,
            env.get(OTLP_ENDPOINT_ENV) or config.otlp_endpoint,
        )


@functools.cache
def _provider(export: SpanExport) -> TracerProvider:
    """One provider per export setting in a process (runs in one process share it)."""
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    if export.spans_file:
        path = Path(export.spans_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        out = path.open("a", encoding="utf-8")  # held open for the process; each span is flushed
        exporter = ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if export.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = export.otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def otel_trace_id(trace_id: str) -> int:
    """The 128-bit OpenTelemetry trace id of a billbridge trace id (stable: the same change, one trace)."""
    return int(hashlib.sha256(trace_id.encode("utf-8")).hexdigest()[:32], 16) or 1


def _parent(trace_id: str) -> trace.Context | None:
    """The context a top-level span starts in: the trace of `trace_id`; a nested span keeps its parent."""
    if trace.get_current_span().get_span_context().is_valid:
        return None
    remote = trace.SpanContext(
        trace_id=otel_trace_id(trace_id),
        span_id=random.getrandbits(64) or 1,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(remote))


@contextmanager
def span(
    name: str, trace_id: str, config: TelemetryConfig, attributes: Mapping[str, AttributeValue] | None = None
) -> Iterator[trace.Span]:
    """A span named `name` in the trace of `trace_id` (a no-op when telemetry is off); an exception
    raised inside is recorded on it and re-raised."""
    export = SpanExport.of(config)
    if not export.on:
        yield trace.INVALID_SPAN
        return
    tracer = _provider(export).get_tracer("billbridge")
    with tracer.start_as_current_span(
        name, context=_parent(trace_id), attributes={**(attributes or {}), TRACE_ATTRIBUTE: trace_id}
    ) as current:
        yield current


def flush(config: TelemetryConfig) -> bool:
    """Export every finished span now (a batch to the endpoint is otherwise sent every few seconds and
    when the process exits); True when nothing is left waiting."""
    export = SpanExport.of(config)
    return _provider(export).force_flush() if export.on else True
