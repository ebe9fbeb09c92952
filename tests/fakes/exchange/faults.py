"""Fault injection and request recording for the fake exchange server.

Arm a fault for a path glob (matched with :func:`fnmatch.fnmatchcase` against the
request path, e.g. ``"/fapi/v3/positionRisk"`` or ``"*/order*"``) and a number of
times::

    server.faults.arm("/fapi/v1/order", "apply_then_timeout", seconds=5)
    server.faults.arm("*", "http_429", times=3)

Kinds:

``delay``               sleep ``seconds`` (capped) then handle normally
``http_429``            HTTP 429 with the venue's rate-limit JSON body
                        (``bare=True``: empty body, so only the status is seen)
``http_418``            HTTP 418 IP-ban (Binance semantics)
``http_5xx``            ``status`` (default 502) with an HTML body, nothing applied
``malformed_json``      HTTP 200, truncated JSON, nothing applied (``apply=True`` applies first)
``empty_body``          HTTP 200 with an empty body, nothing applied
``auth_error``          the venue's invalid-API-key error
``nonce_error``         the venue's timestamp/recvWindow error
``apply_then_timeout``  perform the call (state changes) then hang ``seconds`` (default 30,
                        capped) before answering, so the client times out
``drop_connection``     close the TCP connection without answering, nothing applied
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal[
    "delay",
    "http_429",
    "http_418",
    "http_5xx",
    "malformed_json",
    "empty_body",
    "auth_error",
    "nonce_error",
    "apply_then_timeout",
    "drop_connection",
]
FAULT_KINDS: tuple[str, ...] = (
    "delay",
    "http_429",
    "http_418",
    "http_5xx",
    "malformed_json",
    "empty_body",
    "auth_error",
    "nonce_error",
    "apply_then_timeout",
    "drop_connection",
)
MAX_DELAY_SECONDS = 60.0


@dataclass
class Fault:
    path_glob: str
    kind: FaultKind
    times: int = 1  # remaining triggers; -1 = forever
    method: str | None = None
    seconds: float = 0.0
    status: int = 502
    bare: bool = False
    apply: bool = False
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times == 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path_glob)


class FaultInjector:
    def __init__(self) -> None:
        self.armed: list[Fault] = []

    def arm(
        self,
        path_glob: str,
        kind: FaultKind,
        times: int = 1,
        *,
        method: str | None = None,
        seconds: float | None = None,
        status: int = 502,
        bare: bool = False,
        apply: bool = False,
    ) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        if seconds is None:
            seconds = 30.0 if kind == "apply_then_timeout" else 1.0
        fault = Fault(path_glob, kind, times, method, min(float(seconds), MAX_DELAY_SECONDS), status, bare, apply)
        self.armed.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """First armed fault matching the request; consumes one trigger."""
        for fault in self.armed:
            if fault.matches(method, path):
                if fault.times > 0:
                    fault.times -= 1
                fault.fired += 1
                return fault
        return None

    def clear(self) -> None:
        self.armed.clear()


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    params: dict[str, Any]  # query + parsed body (form or JSON object)
    body: str
    headers: dict[str, str]
    time: float = field(default_factory=time.time)
    status: int | None = None
    fault: str | None = None

    @property
    def json_body(self) -> Any:
        import json

        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


class RequestLog(list[RecordedRequest]):
    """Every request the server received, in arrival order."""

    def count(self, path_glob: str | None = None, method: str | None = None) -> int:  # type: ignore[override]
        return len(self.matching(path_glob, method))

    def matching(self, path_glob: str | None = None, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self
            if (path_glob is None or fnmatch.fnmatchcase(r.path, path_glob))
            and (method is None or r.method.upper() == method.upper())
        ]

    def last(self, path_glob: str | None = None, method: str | None = None) -> RecordedRequest:
        found = self.matching(path_glob, method)
        if not found:
            raise LookupError(f"no request matching {path_glob!r}")
        return found[-1]

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self]
