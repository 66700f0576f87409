"""A small client for the Prometheus HTTP API (``/api/v1/query``, ``/api/v1/query_range``).

Standard library only (urllib): the report runs on an administrator's machine against a site
Prometheus, a central one or a Thanos Querier, and needs nothing more than these two calls.
Every failure becomes a :class:`PrometheusError` whose message a person can act on.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from govmilter.errors import GovmilterError


class PrometheusError(GovmilterError):
    """Prometheus could not be reached or refused the query."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One series of an instant query: its labels and value."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a range query: its labels and (unix time, value) points."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


def _number(text: Any) -> float:
    value = float(text)
    return value if math.isfinite(value) else math.nan


class PrometheusClient:
    """Queries one Prometheus-compatible server (Prometheus, Thanos Querier, Mimir)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise PrometheusError(f"not an http(s) URL: {base_url!r} "
                                  "(expected e.g. http://127.0.0.1:9090)")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def query(self, expr: str, at: float) -> list[Sample]:
        """Evaluate ``expr`` at unix time ``at``; a scalar result is one sample without labels."""
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        if data["resultType"] == "scalar":
            return [Sample({}, _number(data["result"][1]))]
        if data["resultType"] != "vector":
            raise PrometheusError(f"expected an instant vector for {expr!r}, "
                                  f"got {data['resultType']}")
        return [Sample(item["metric"], _number(item["value"][1])) for item in data["result"]]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """Evaluate ``expr`` every ``step`` seconds from ``start`` to ``end``."""
        data = self._get("/api/v1/query_range", {
            "query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}",
        })
        return [Series(item["metric"],
                       tuple((float(t), _number(v)) for t, v in item["values"]))
                for item in data["result"]]

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            # Prometheus answers 400/422/503 with a JSON body naming the problem.
            detail = _error_detail(exc.read()) or exc.reason
            raise PrometheusError(f"{self.base_url} refused the query ({exc.code}): "
                                  f"{detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PrometheusError(f"cannot reach Prometheus at {self.base_url}: "
                                  f"{reason}") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise PrometheusError(f"{self.base_url}{path} did not answer with JSON: "
                                  "is this a Prometheus server?") from None
        if not isinstance(document, dict) or document.get("status") != "success":
            detail = _error_detail(body) or "unexpected answer"
            raise PrometheusError(f"{self.base_url} refused the query: {detail}")
        data: dict[str, Any] = document["data"]
        return data


def _error_detail(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict) and document.get("error"):
        return f"{document.get('errorType', 'error')}: {document['error']}"
    return None
