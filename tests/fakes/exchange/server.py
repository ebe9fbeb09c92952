"""Loopback fake exchange server speaking Binance USDⓈ-M / Bybit v5 / OKX v5 REST.

Usage::

    async with FakeExchangeServer("binance") as server:
        server.market.set_wallet("futures", "USDT", 10_000)
        client = ccxt.async_support.binance(server.ccxt_config())
        try:
            await client.load_markets()
        finally:
            await client.close()

Every request is recorded in :attr:`FakeExchangeServer.requests`; faults are armed via
:attr:`FakeExchangeServer.faults` (see :mod:`.faults`).  ``clock_offset_ms`` shifts the
server clock so unsynchronised clients get the venue's timestamp error.

Recommended ccxt configuration per venue (what :meth:`FakeExchangeServer.ccxt_config`
returns; every ``urls['api']`` entry is rewritten to ``http://127.0.0.1:PORT`` keeping
its path — ccxt's ``hostname`` option cannot redirect to a port/plain-HTTP host):

* binance: ``options = {defaultType: 'swap', fetchMarkets: {types: ['linear']},
  fetchCurrencies: False, fetchMargins: False}``.  ``fetchCurrencies: False`` skips the
  signed ``/sapi/v1/capital/config/getall`` at ``load_markets``; ``types: ['linear']``
  loads only ``/fapi/v1/exchangeInfo``.  ``defaultType: 'swap'`` makes ``fetch_balance()``
  hit ``/fapi/v3/account`` (``{'type': 'spot'}`` → ``/api/v3/account``,
  ``{'type': 'funding'}`` → ``POST /sapi/v1/asset/get-funding-asset``).
* bybit: ``options = {defaultType: 'swap', defaultSubType: 'linear', fetchMarkets:
  {types: ['linear']}, enableUnifiedAccount: <unified>, enableUnifiedMargin: False}`` and
  ``has = {fetchCurrencies: False}``.  The two ``enableUnified*`` options skip the
  ``/v5/user/query-api`` + ``/v5/account/info`` probe ccxt otherwise makes before
  balances/orders; ``has.fetchCurrencies=False`` skips ``/v5/asset/coin/query-info``
  (bybit has no option for it).  ``types: ['linear']`` still costs two
  ``/v5/market/instruments-info`` calls (normal + ``status=PreLaunch``).
* okx: ``options = {defaultType: 'swap', fetchMarkets: {types: ['swap']}}`` and
  ``has = {fetchCurrencies: False}`` (skips the signed ``/api/v5/asset/currencies``).
  ``password`` carries the passphrase.

All endpoints skipped by the recommended config are still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from types import TracebackType
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

from aiohttp import web

from .common import ApiRequest, Venue, VenueError
from .faults import Fault, FaultInjector, RecordedRequest, RequestLog
from .market import FakeMarket, MarketError

VenueName = Literal["binance", "bybit", "okx"]
log = logging.getLogger(__name__)

HTML_5XX = (
    "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@functools.cache
def _default_api_urls(venue: str) -> dict[str, Any]:
    import ccxt  # local import: only the tests need ccxt

    return dict(getattr(ccxt, venue)().urls["api"])


class FakeExchangeServer:
    def __init__(
        self,
        venue: VenueName,
        market: FakeMarket | None = None,
        *,
        api_key: str = "fake-api-key",
        secret: str = "fake-api-secret",
        password: str = "fake-passphrase",
        bybit_unified: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        if venue not in ("binance", "bybit", "okx"):
            raise ValueError(f"unsupported venue {venue!r}")
        self.venue_name: VenueName = venue
        self.market = market if market is not None else FakeMarket(venue)
        self.market.set_venue(venue)
        self.market.clock = self.now_ms
        self.api_key = api_key
        self.secret = secret
        self.password = password
        self.bybit_unified = bybit_unified
        self.host = host
        self.port = 0
        self.clock_offset_ms = 0
        self.requests = RequestLog()
        self.faults = FaultInjector()
        self.venue: Venue = self._make_venue(venue)
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    def _make_venue(self, venue: VenueName) -> Venue:
        if venue == "binance":
            from .binance import Binance

            return Binance(self)
        if venue == "bybit":
            from .bybit import Bybit

            return Bybit(self)
        from .okx import Okx

        return Okx(self)

    # ------------------------------------------------------------------ lifecycle
    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FakeExchangeServer:
        app = web.Application(client_max_size=1024**2)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._stopping.set()
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeExchangeServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _sleep(self, seconds: float) -> None:
        """Bounded sleep that ends early when the server stops."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=max(seconds, 0.0))

    # ------------------------------------------------------------------ ccxt config
    def ccxt_config(self, **overrides: Any) -> dict[str, Any]:
        """Constructor config for ``getattr(ccxt.async_support, venue)(config)``."""
        default_api = _default_api_urls(self.venue_name)
        api = {k: self._rewrite(v) for k, v in default_api.items() if isinstance(v, str)}
        config: dict[str, Any] = {"apiKey": self.api_key, "secret": self.secret, "urls": {"api": api}}
        if self.venue_name == "binance":
            config["options"] = {
                "defaultType": "swap",
                "fetchMarkets": {"types": ["linear"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            }
        elif self.venue_name == "bybit":
            config["options"] = {
                "defaultType": "swap",
                "defaultSubType": "linear",
                "fetchMarkets": {"types": ["linear"]},
                "enableUnifiedAccount": self.bybit_unified,
                "enableUnifiedMargin": False,
            }
            config["has"] = {"fetchCurrencies": False}
        else:
            config["password"] = self.password
            config["options"] = {"defaultType": "swap", "fetchMarkets": {"types": ["swap"]}}
            config["has"] = {"fetchCurrencies": False}
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
        return config

    def _rewrite(self, url: str) -> str:
        parts = urlsplit(url.replace("{hostname}", "placeholder.invalid"))
        return f"{self.base_url}{parts.path.rstrip('/')}"

    def install_error_routing(self, exchange: Any) -> None:
        """Binance only: ccxt picks its market-type-specific error tables (e.g. ``-2019`` →
        InsufficientFunds for fapi, ``-5013`` for sapi) by matching the request URL against
        ``https://fapi.binance.com/`` etc.  Loopback URLs match none, so those codes fall
        back to ``ExchangeError``.  This patches *the given client instance* so the lookup
        sees the production host for the same path.  Opt-in; without it you observe the raw
        loopback behaviour."""
        if self.venue_name != "binance":
            return
        original = exchange.get_exceptions_by_url
        base = self.base_url

        def routed(url: str | None, exact_or_broad: str) -> Any:
            if url is not None and url.startswith(base):
                path = url[len(base) :]
                host = "fapi" if path.startswith("/fapi") else "dapi" if path.startswith("/dapi") else "api"
                url = f"https://{host}.binance.com{path}"
            return original(url, exact_or_broad)

        exchange.get_exceptions_by_url = routed

    # ------------------------------------------------------------------ request handling
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            return await self._handle_inner(request)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _handle_inner(self, request: web.Request) -> web.StreamResponse:
        body = await request.text()
        raw_query = request.rel_url.raw_query_string
        req = ApiRequest.parse(request.method, request.path, raw_query, body, request.headers)
        record = RecordedRequest(
            req.method, req.path, dict(req.query), req.params, body, {k: v for k, v in request.headers.items()}
        )
        self.requests.append(record)
        fault = self.faults.take(req.method, req.path)
        if fault is not None:
            record.fault = fault.kind
            faulted = await self._apply_fault(fault, req, request)
            if faulted is not None:
                record.status = faulted.status
                return faulted
        if self._stopping.is_set():  # stopped while a delay was pending: apply nothing
            self._drop(request)
        status, payload = self._dispatch(req)
        if fault is not None and fault.kind == "apply_then_timeout":
            await self._sleep(fault.seconds)
            if self._stopping.is_set():
                self._drop(request)
        record.status = status
        return web.Response(
            status=status, text=json.dumps(payload, separators=(",", ":")), content_type="application/json"
        )

    def _dispatch(self, req: ApiRequest) -> tuple[int, Any]:
        venue = self.venue
        try:
            route = venue.routes.get((req.method, req.path))
            if route is None:
                raise venue.not_found(req)
            if route.private:
                venue.authenticate(req)
            return 200, route.handler(req)
        except VenueError as e:
            return e.status, e.payload
        except MarketError as e:
            err = venue.market_error(e)
            return err.status, err.payload
        except Exception as e:  # a bug in the fake: surface it loudly
            log.exception("fake exchange handler crashed")
            return 500, {"fake_exchange_error": repr(e)}

    @staticmethod
    def _drop(request: web.Request) -> NoReturn:
        """Close the TCP connection without answering."""
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # aiohttp discards the handler without writing

    async def _apply_fault(self, fault: Fault, req: ApiRequest, request: web.Request) -> web.StreamResponse | None:
        kind = fault.kind
        if kind == "delay":
            await self._sleep(fault.seconds)
            return None
        if kind == "apply_then_timeout":
            return None
        if kind == "drop_connection":
            self._drop(request)
        if kind == "http_5xx":
            return web.Response(
                status=fault.status, text=HTML_5XX.format(status=fault.status), content_type="text/html"
            )
        if kind == "malformed_json":
            if fault.apply:
                self._dispatch(req)
            return web.Response(status=200, text=self.venue.malformed_body(), content_type="application/json")
        if kind == "empty_body":
            return web.Response(status=200, text="", content_type="application/json")
        if kind == "http_429" and fault.bare:
            return web.Response(status=429, text="", content_type="text/plain")
        err = self.venue.fault_error(kind)
        return web.Response(
            status=err.status, text=json.dumps(err.payload, separators=(",", ":")), content_type="application/json"
        )
