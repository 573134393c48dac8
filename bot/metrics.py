"""Prometheus text exposition for GET /metrics, without a client library.

Deliveries and acknowledgement latency are this process' own (the web process answers them);
job counters come from the shared store, so any web process shows the whole cluster's jobs.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter

# seconds; GitHub gives up after 10 s, we aim for well under 50 ms
KNOWN_EVENTS = frozenset({"pull_request", "check_run", "check_suite", "installation", "installation_repositories",
                          "ping", "unknown"})
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    esc = lambda v: str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in sorted(labels.items())) + "}"


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.deliveries: Counter[tuple[str, str]] = Counter()   # (event, result) -> count
        self.ack_counts = [0] * len(ACK_BUCKETS)
        self.ack_sum = 0.0
        self.ack_total = 0

    def delivery(self, event: str, result: str, seconds: float) -> None:
        # the event header is the sender's to choose (no signature needed): one series per known event
        event = event if event in KNOWN_EVENTS else "other"
        with self._lock:
            self.deliveries[(event, result)] += 1
            index = bisect.bisect_left(ACK_BUCKETS, seconds)
            if index < len(ACK_BUCKETS):
                self.ack_counts[index] += 1
            self.ack_sum += seconds
            self.ack_total += 1

    def render(self, job_counters: dict[str, int], gauges: dict[str, float]) -> str:
        out = ["# HELP alembic_review_webhook_deliveries_total Webhook deliveries received, by event and result.",
               "# TYPE alembic_review_webhook_deliveries_total counter"]
        with self._lock:
            for (event, result), n in sorted(self.deliveries.items()):
                out.append(f"alembic_review_webhook_deliveries_total{_labels(event=event, result=result)} {n}")
            out += ["# HELP alembic_review_webhook_ack_seconds Time from request to the 202 (or error) answer.",
                    "# TYPE alembic_review_webhook_ack_seconds histogram"]
            running = 0
            for bound, n in zip(ACK_BUCKETS, self.ack_counts):
                running += n
                out.append(f'alembic_review_webhook_ack_seconds_bucket{{le="{bound:g}"}} {running}')
            out.append(f'alembic_review_webhook_ack_seconds_bucket{{le="+Inf"}} {self.ack_total}')
            out.append(f"alembic_review_webhook_ack_seconds_sum {self.ack_sum:.6f}")
            out.append(f"alembic_review_webhook_ack_seconds_count {self.ack_total}")
        out += ["# HELP alembic_review_jobs_total Review jobs, all workers together, by outcome "
                "(enqueued, completed, failed, dropped).",
                "# TYPE alembic_review_jobs_total counter"]
        for name, n in sorted(job_counters.items()):
            if name.startswith("jobs:"):
                out.append(f"alembic_review_jobs_total{_labels(outcome=name[5:])} {n}")
        for name, value in sorted(gauges.items()):
            out += [f"# TYPE alembic_review_{name} gauge", f"alembic_review_{name} {value:g}"]
        return "\n".join(out) + "\n"
