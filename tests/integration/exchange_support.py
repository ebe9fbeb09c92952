"""Helpers for driving the engine and the live adapter against the loopback fake exchange.

The daemon's pieces are built exactly as in production (``build_app`` -> ``make_adapter`` ->
``CcxtAdapter``); only the account's ``ccxt:`` passthrough points the urls at the fake. The real
clock is used because venue timestamps (margin and transfer history) are real time.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from bot.app import App, build_app
from bot.engine import CycleResult
from bot.journal import ActionRow
from bot.notify.console import ConsoleNotifier
from bot.settings import Settings
from tests.conftest import ROOT
from tests.fakes.exchange import FakeExchangeServer, FakeMarket
from tests.fakes.exchange.testing import fund

VENUES = ("binance", "bybit", "okx")
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
ONE_BTC = {"binance": 1.0, "bybit": 1.0, "okx": 100.0}  # contracts (OKX ctVal 0.01 BTC)
POSITIONS = {"binance": "/fapi/v3/positionRisk", "bybit": "/v5/position/list", "okx": "/api/v5/account/positions"}
MARGIN = {"binance": "/fapi/v1/positionMargin", "bybit": "/v5/position/add-margin", "okx": "*/position/margin-balance"}
ORDER = {"binance": "/fapi/v1/order", "bybit": "/v5/order/create", "okx": "/api/v5/trade/*order*"}
TRANSFER = {"binance": "/sapi/v1/asset/transfer", "bybit": "*/inter-transfer", "okx": "/api/v5/asset/transfer"}
# What carries our client id at each venue's order endpoint.
CLIENT_ID_FIELD = {"binance": "newClientOrderId", "bybit": "orderLinkId", "okx": "clOrdId"}


def market_for(venue: str, *, futures: float = 10_000.0, spot: float = 5_000.0, funding: float = 5_000.0) -> FakeMarket:
    market = FakeMarket(venue, marks={BTC: 60_000.0, ETH: 3_000.0})
    fund(market, futures=futures, spot=spot, funding=funding)
    return market


def account_config(server: FakeExchangeServer, name: str = "acct", **extra: Any) -> dict[str, Any]:
    """The account as a trader would write it: credentials apart, ccxt urls/options passed through."""
    # ccxt's client-side rate limiter (on by default in the adapter) would only slow the tests
    config = server.ccxt_config(enableRateLimit=False)
    credentials = {"api_key": config.pop("apiKey"), "secret": config.pop("secret")}
    if "password" in config:
        credentials["password"] = config.pop("password")
    return {"name": name, "exchange": server.venue_name, "credentials": credentials, "ccxt": config, **extra}


def settings_for(
    tmp_path: Path,
    accounts: list[dict[str, Any]],
    *,
    rules: list[dict[str, Any]],
    mode: str = "live",
    guard: dict[str, Any] | None = None,
    request_timeout_s: float = 2.0,
) -> Settings:
    return Settings(
        mode=mode,
        database={"path": str(tmp_path / "journal.db")},
        health={"heartbeat_file": str(tmp_path / "hb")},
        poll={"interval_s": 5, "request_timeout_s": request_timeout_s},
        guard={
            "kill_switch_file": str(tmp_path / "pause"),
            "cooldown_s": 0,
            "max_action_quote": 100_000,
            "max_daily_quote_per_account": 1_000_000,
            "max_daily_quote_global": 1_000_000,
            "max_reduce_pct_per_action": 100,
            **(guard or {}),
        },
        rules=rules,
        accounts=accounts,
    )  # type: ignore[arg-type]


@asynccontextmanager
async def live_app(
    tmp_path: Path,
    market: FakeMarket,
    venue: str,
    *,
    rules: list[dict[str, Any]],
    account: dict[str, Any] | None = None,
    **settings_kw: Any,
) -> AsyncIterator[tuple[FakeExchangeServer, App]]:
    """A running fake venue and the app guarding one account on it; both always closed."""
    server = FakeExchangeServer(venue, market)  # type: ignore[arg-type]
    await server.start()
    app: App | None = None
    try:
        acct = account_config(server, **(account or {}))
        settings = settings_for(tmp_path, [acct], rules=rules, **settings_kw)
        notifier = ConsoleNotifier(file=io.StringIO())
        app = build_app(settings, notifier=notifier)
        notifier.store = app.store
        yield server, app
    finally:
        if app is not None:
            await app.close()
        await server.stop()


async def cycle_at(app: App, market: FakeMarket, price: float | None, account: str = "acct") -> CycleResult:
    if price is not None:
        market.set_mark(BTC, price)
    return await app.engine.run_cycle(account)


def only_action(app: App, account: str = "acct") -> ActionRow:
    rows = app.store.actions(account=account)
    assert len(rows) == 1, [(r.kind, r.status, r.error) for r in rows]
    return rows[0]


def money_posts(server: FakeExchangeServer) -> list[str]:
    venue = server.venue_name
    globs = (MARGIN[venue], ORDER[venue], TRANSFER[venue])
    return [f"{r.method} {r.path}" for g in globs for r in server.requests.matching(g, "POST")]


TOP_UP = [
    {"strategy": "alert", "at": "watch"},
    {"name": "top-up", "strategy": "top_up", "at": "danger", "target_distance_pct": 12, "source": ["futures"]},
]
DELEVERAGE = [
    {"strategy": "alert", "at": "watch"},
    {"name": "deleverage", "strategy": "deleverage", "at": "critical", "target_distance_pct": 8},
]


async def check_once_json(
    tmp_path: Path, accounts: list[dict[str, Any]], timeout: float = 45.0
) -> tuple[int, bytes, bytes]:
    """``marginguard check --once --json`` as a real process on a config of ``accounts`` (and a
    journal in ``tmp_path``), as outside checks run it. Returns (exit code, stdout, stderr)."""
    config = {"database": {"path": str(tmp_path / "journal.db")}, "accounts": accounts}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARGINGUARD")}
    env["PYTHONPATH"] = str(ROOT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "check", "--once", "--json", "--config", str(path),
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out, err
