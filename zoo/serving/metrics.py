"""Prometheus metrics with TF Serving's names, and its monitoring config file.

TF Serving exports (at `prometheus_config.path`, default `/monitoring/prometheus/metrics`):

  :tensorflow:serving:request_count{model_name, status}               requests, by status code
  :tensorflow:serving:request_latency{model_name, API, entrypoint}    latency histogram, in us

(its exporter turns the metric path `/tensorflow/serving/request_count` into the Prometheus name).
The monitoring config is a `MonitoringConfig` text proto:

  prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }
"""

from __future__ import annotations

import threading
from collections import defaultdict
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from zoo.serving.text_proto import parse_text_proto

DEFAULT_PATH = "/monitoring/prometheus/metrics"
# TF Serving's request_latency buckets: exponential, 10 us x 1.8^i, 33 of them.
LATENCY_BUCKETS_US = [10.0 * 1.8**i for i in range(33)]


class ServingMetrics:
    """Request counts and latency histograms per model, exposed in Prometheus' text format."""

    CONTENT = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = defaultdict(int)
        self._latency: dict[tuple[str, str, str], list] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def record(self, model: str, api: str, entrypoint: str, status: str, seconds: float) -> None:
        """Count one request; successful ones also add their latency (as TF Serving does)."""
        with self._lock:
            self._counts[(model, status)] += 1
            if status != "OK":
                return
            key = (model, api, entrypoint)
            buckets = self._latency.setdefault(key, [[0] * len(LATENCY_BUCKETS_US), 0.0, 0])
            micros = seconds * 1e6
            for i, bound in enumerate(LATENCY_BUCKETS_US):
                if micros <= bound:
                    buckets[0][i] += 1
            buckets[1] += micros
            buckets[2] += 1

    def collect(self):
        with self._lock:
            counts = dict(self._counts)
            latency = {k: (list(v[0]), v[1], v[2]) for k, v in self._latency.items()}
        count = GaugeMetricFamily(
            ":tensorflow:serving:request_count",
            "The total number of requests.",
            labels=["model_name", "status"],
        )
        for (model, status), value in sorted(counts.items()):
            count.add_metric([model, status], value)
        yield count
        histogram = HistogramMetricFamily(
            ":tensorflow:serving:request_latency",
            "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
            labels=["model_name", "API", "entrypoint"],
        )
        for (model, api, entrypoint), (cumulative, total, n) in sorted(latency.items()):
            buckets = [(repr(b), c) for b, c in zip(LATENCY_BUCKETS_US, cumulative, strict=True)]
            buckets.append(("+Inf", n))
            histogram.add_metric([model, api, entrypoint], buckets, total)
        yield histogram

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def read_monitoring_config(path: str | Path) -> str | None:
    """The Prometheus path a `--monitoring_config_file` enables, or None when it is disabled."""
    config = parse_text_proto(Path(path).read_text(), path=str(path))
    unknown = set(config) - {"prometheus_config"}
    if unknown:
        raise ValueError(
            f"`monitoring_config_file` {path}: only `prometheus_config` is supported. "
            f"Received: {sorted(unknown)}"
        )
    prometheus = (config.get("prometheus_config") or [{}])[-1]
    unknown = set(prometheus) - {"enable", "path"}
    if unknown:
        raise ValueError(
            f"`monitoring_config_file` {path}: `prometheus_config` takes `enable` and `path`. "
            f"Received: {sorted(unknown)}"
        )
    if not (prometheus.get("enable") or [False])[-1]:
        return None
    route = (prometheus.get("path") or [DEFAULT_PATH])[-1] or DEFAULT_PATH
    if not str(route).startswith("/"):
        raise ValueError(f"`prometheus_config.path` must start with '/'. Received: {route!r}")
    return str(route)
