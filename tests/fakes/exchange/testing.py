"""Helpers for tests that drive a real ccxt client against :class:`FakeExchangeServer`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import ccxt.async_support as ccxt_async

from .market import FakeMarket
from .server import FakeExchangeServer, VenueName


@asynccontextmanager
async def fake_venue(
    venue: VenueName,
    market: FakeMarket | None = None,
    config: dict[str, Any] | None = None,
    **server_kwargs: Any,
) -> AsyncIterator[tuple[FakeExchangeServer, Any]]:
    """Start a fake server and a ccxt async client pointed at it; always closes both.

    ``config`` entries are merged into :meth:`FakeExchangeServer.ccxt_config` (dicts merge
    one level deep, e.g. ``{"options": {"recvWindow": 5000}}``).  ccxt's client-side rate
    limiter is off unless ``config={"enableRateLimit": True}``: its weight-based sleeps
    (e.g. ~0.5 s per sapi transfer) would only slow the tests down.
    """
    server = FakeExchangeServer(venue, market, **server_kwargs)
    await server.start()
    client = None
    try:
        client = getattr(ccxt_async, venue)(server.ccxt_config(**{"enableRateLimit": False, **(config or {})}))
        yield server, client
    finally:
        if client is not None:
            await client.close()
        await server.stop()


def fund(market: FakeMarket, futures: float = 10_000.0, spot: float = 1_000.0, funding: float = 500.0) -> None:
    """Give the account USDT in each wallet."""
    market.set_wallet("futures", "USDT", futures)
    market.set_wallet("spot", "USDT", spot)
    market.set_wallet("funding", "USDT", funding)
