"""Shared plumbing for the venue emulations: parsed request, routing, errors, formatting."""

from __future__ import annotations

import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .market import FakeMarket, MarketError

if TYPE_CHECKING:
    from .server import FakeExchangeServer


@dataclass
class ApiRequest:
    method: str
    path: str
    raw_query: str  # exactly as received on the wire
    body: str
    headers: Mapping[str, str]
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    json: Any = None

    @classmethod
    def parse(cls, method: str, path: str, raw_query: str, body: str, headers: Mapping[str, str]) -> ApiRequest:
        req = cls(method.upper(), path, raw_query, body, headers)
        req.query = dict(parse_qsl(raw_query, keep_blank_values=True))
        ctype = headers.get("Content-Type", "")
        if body:
            if "json" in ctype or body.lstrip()[:1] in ("{", "["):
                try:
                    req.json = json.loads(body)
                except ValueError:
                    req.json = None
            elif "form" in ctype or "=" in body:
                req.form = dict(parse_qsl(body, keep_blank_values=True))
        return req

    @property
    def params(self) -> dict[str, Any]:
        merged: dict[str, Any] = dict(self.query)
        merged.update(self.form)
        if isinstance(self.json, dict):
            merged.update(self.json)
        return merged


class VenueError(Exception):
    """A ready-to-send venue error response."""

    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(f"{status} {payload}")
        self.status = status
        self.payload = payload


Handler = Callable[[ApiRequest], Any]


@dataclass
class Route:
    handler: Handler
    private: bool


class Venue(ABC):
    name: str = ""

    def __init__(self, server: FakeExchangeServer) -> None:
        self.server = server
        self.routes: dict[tuple[str, str], Route] = {}
        self.register()

    @property
    def market(self) -> FakeMarket:
        return self.server.market

    def now(self) -> int:
        return self.server.now_ms()

    def route(self, method: str, path: str, handler: Handler, private: bool = False) -> None:
        self.routes[(method.upper(), path)] = Route(handler, private)

    @abstractmethod
    def register(self) -> None: ...

    @abstractmethod
    def authenticate(self, req: ApiRequest) -> None:
        """Raise :class:`VenueError` unless key, signature and timestamp are valid."""

    @abstractmethod
    def market_error(self, err: MarketError) -> VenueError: ...

    @abstractmethod
    def fault_error(self, kind: str) -> VenueError:
        """Venue body for ``http_429`` / ``http_418`` / ``auth_error`` / ``nonce_error``."""

    @abstractmethod
    def not_found(self, req: ApiRequest) -> VenueError: ...

    @abstractmethod
    def bad_request(self, message: str) -> VenueError: ...

    def malformed_body(self) -> str:
        return '{"code":0,"data":[{"symbol":"BTCUSDT","positionAmt":"0.0'

    # helpers ---------------------------------------------------------------
    def hmac_hex(self, payload: str) -> str:
        return hmac.new(self.server.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    def require(self, params: Mapping[str, Any], *names: str) -> list[Any]:
        missing = [n for n in names if params.get(n) in (None, "")]
        if missing:
            raise self.bad_request(f"Mandatory parameter '{missing[0]}' was not sent, was empty/null, or malformed.")
        return [params[n] for n in names]

    def num(self, value: Any, name: str) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise self.bad_request(
                f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]+$'."
            ) from None


def fnum(x: float | None, dp: int = 8) -> str:
    """Fixed decimals (Binance style)."""
    return "0" if x is None else f"{x:.{dp}f}"


def tnum(x: float | None, dp: int = 8) -> str:
    """Trimmed decimals (Bybit / OKX style), ``""`` for None."""
    if x is None:
        return ""
    s = f"{x:.{dp}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def flag(value: Any) -> bool:
    return str(value).lower() in ("true", "1")
