"""Real venue replies (recorded by ccxt's static response tests, or copied from the venues' API
docs) fed through the adapter's real parsing path.

A small aiohttp server on 127.0.0.1 (``Replay``) answers the per-cycle endpoints with the
recorded bodies, byte for byte as stored under ``tests/data/recorded/`` (see the README there
for where each one comes from), and forwards every other request (markets, modes, tiers,
wallets) to the loopback fake exchange. The account reaches it through its ``ccxt:`` url
passthrough, exactly as an operator would point it at a proxy.

What is asserted: nothing crashes, every open position appears with the venue's side, size,
entry and mark, ``liquidation_price_reported`` is the venue's own field (None for "" / "0"),
and, where a recording is self-consistent (the Binance pair below: one account, one instant),
our recomputed liquidation price is compared with the venue's. Docs examples and recordings
taken at different times are not self-consistent: for those only parsing and the reported
value are asserted.

Three bugs these recordings found are pinned here as fixed: the multi-collateral cross pools
(Binance Multi-Assets, OKX multi-currency; see ``Position.pool``) and Bybit's cursor on the
last page of the position list.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app import build_app
from bot.assess import AssessConfig, assess
from bot.domain import PositionRisk
from bot.exchanges.ccxt_adapter import CcxtAdapter
from bot.notify.console import ConsoleNotifier
from bot.risk.tiers import Tier, TierTable
from bot.settings import AccountSettings, PollSettings
from tests.conftest import ROOT
from tests.fakes.exchange import FakeExchangeServer, FakeMarket
from tests.fakes.exchange.market import Instrument
from tests.fakes.exchange.testing import fund
from tests.integration.exchange_support import DELEVERAGE, account_config, check_once_json, settings_for

pytestmark = pytest.mark.timeout(30)

DATA = ROOT / "tests" / "data" / "recorded"
BTC, LTC, ADA, ETH = "BTC/USDT:USDT", "LTC/USDT:USDT", "ADA/USDT:USDT", "ETH/USDT:USDT"

# The per-cycle endpoints of each venue (docs/exchanges.md) and the tier endpoint.
BINANCE_POSITIONS, BINANCE_ACCOUNT = "/fapi/v3/positionRisk", "/fapi/v3/account"
BINANCE_BRACKETS = "/fapi/v1/leverageBracket"
BYBIT_POSITIONS, BYBIT_WALLET = "/v5/position/list", "/v5/account/wallet-balance"
OKX_POSITIONS, OKX_BALANCE = "/api/v5/account/positions", "/api/v5/account/balance"


def raw(name: str) -> str:
    """A recorded body as stored (served as is: number formats, key order and "" untouched)."""
    return (DATA / name).read_text(encoding="utf-8")


def recorded(name: str) -> Any:
    return json.loads(raw(name))


class Replay:
    """Recorded bodies (JSON text) at their paths, whatever the query string; everything else is
    forwarded unchanged (signed query, headers, body) to the fake exchange."""

    def __init__(self, fake: FakeExchangeServer, bodies: dict[str, str]) -> None:
        self.fake = fake
        self.bodies = bodies
        self.hits: list[tuple[str, str, dict[str, str]]] = []  # (method, path, query) of every request
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def calls(self, path: str) -> list[dict[str, str]]:
        return [query for _, p, query in self.hits if p == path]

    async def start(self) -> Replay:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits.append((request.method, request.path, dict(request.query)))
        if request.method == "GET" and request.path in self.bodies:
            return web.Response(text=self.bodies[request.path], content_type="application/json")
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.request(
            request.method, self.fake.base_url + request.raw_path, headers=headers, data=await request.read()
        ) as reply:
            body = await reply.read()
            return web.Response(status=reply.status, body=body, content_type=reply.content_type)


def market_for(venue: str) -> FakeMarket:
    """The fake's markets plus the symbols the recordings hold (OKX LTC ctVal 0.001, as recorded)."""
    market = FakeMarket(venue, marks={BTC: 67_500.0, ETH: 3_300.0, LTC: 70.0, ADA: 0.41})
    okx = venue == "okx"
    market.add_instrument(Instrument(LTC, "LTC", "USDT", "USDT", 0.001 if okx else 1.0, 0.01, 0.001, 0.001, 100.0))
    market.add_instrument(Instrument(ADA, "ADA", "USDT", "USDT", 100.0 if okx else 1.0, 0.0001, 1.0, 1.0, 75.0))
    fund(market)
    return market


def replay_account(fake: FakeExchangeServer, replay: Replay, **extra: Any) -> dict[str, Any]:
    config = account_config(fake, **extra)
    api = config["ccxt"]["urls"]["api"]
    config["ccxt"]["urls"]["api"] = {k: v.replace(fake.base_url, replay.base_url) for k, v in api.items()}
    return config


@asynccontextmanager
async def replayed(venue: str, bodies: dict[str, str], **account: Any) -> AsyncIterator[tuple[Replay, CcxtAdapter]]:
    async with FakeExchangeServer(venue, market_for(venue)) as fake:  # type: ignore[arg-type]
        replay = await Replay(fake, bodies).start()
        adapter = CcxtAdapter(AccountSettings(**replay_account(fake, replay, **account)), PollSettings())
        try:
            yield replay, adapter
        finally:
            await adapter.close()
            await replay.stop()


async def snapshot_and_risk(
    venue: str, bodies: dict[str, str], **account: Any
) -> tuple[Any, list[PositionRisk], Replay]:
    async with replayed(venue, bodies, **account) as (replay, adapter):
        snapshot = await adapter.snapshot()
    risk = assess(snapshot, AssessConfig(), snapshot.fetched_at)
    return snapshot, list(risk.positions), replay


# -- Binance ----------------------------------------------------------------------------------

BINANCE_CCXT = {
    BINANCE_POSITIONS: raw("binance_fapi_v3_positionRisk_ccxt.json"),
    BINANCE_ACCOUNT: raw("binance_fapi_v3_account_ccxt.json"),
}
BINANCE_LIQ = 64846.98753790  # the venue's liquidationPrice in the recording


async def test_binance_recorded_cross_position_is_parsed() -> None:
    snapshot, risks, _ = await snapshot_and_risk("binance", BINANCE_CCXT)
    (p,) = snapshot.positions
    assert (p.symbol, p.side, p.position_side, p.margin_mode) == (BTC, "long", "both", "cross")
    assert p.contracts == pytest.approx(0.009) and p.contract_size == 1.0
    assert p.entry_price == 67445.9 and p.mark_price == 67502.68519858
    assert p.collateral is None  # isolatedWallet "0": cross
    assert p.liquidation_price_reported == BINANCE_LIQ
    assert p.maintenance_margin_reported == 2.43009666 and p.unrealized_pnl_reported == 0.51106678
    assert snapshot.hedge_mode is False and snapshot.warnings == ()
    assert snapshot.account_margin_ratio == pytest.approx(2.43034303 / 26.26840422)
    assert snapshot.account_equity == 26.26840422 and snapshot.account_maintenance == 2.43034303
    assert snapshot.cross_wallet == {
        **{"FDUSD": 0.0, "BTC": 0.0, "BNB": 0.0, "ETH": 0.0, "USDT": 3.72964781, "USDC": 22.0},
        "USD": 25.7261006,  # Multi-Assets mode: the whole cross wallet is one pool
    }
    assert p.pool == "USD" and p.margin_pool == "USD"
    (risk,) = risks
    assert risk.liquidation_price_reported == BINANCE_LIQ
    assert risk.liquidation_price_recomputed is not None  # tiers from the fake's leverageBracket


async def test_binance_multi_assets_pool_is_detected_from_the_totals() -> None:
    """The recording is self-consistent (positionRisk and account at the same instant). The
    venue's price is the cross formula over the WHOLE cross wallet, USDT 3.73 + USDC 22
    (Multi-Assets mode): (0.009 * 67445.9 - 25.7261006) / (0.009 * (1 - 0.004)) = 64847.2.
    The v3 account does not say which mode it is in; its totals differ from the USDT wallet,
    which in single-asset mode they are documented not to."""
    _, (risk,), _ = await snapshot_and_risk("binance", BINANCE_CCXT)
    assert risk.disagreement_pct is not None and risk.disagreement_pct < AssessConfig().disagreement_tolerance_pct
    assert not any("differ" in r for r in risk.reasons)


async def test_binance_multi_assets_recompute_matches_the_venue() -> None:
    _, (risk,), _ = await snapshot_and_risk("binance", BINANCE_CCXT)
    assert risk.liquidation_price_recomputed == pytest.approx(BINANCE_LIQ, rel=1e-4)
    assert risk.liquidation_price == pytest.approx(BINANCE_LIQ, rel=1e-4)


async def test_binance_multi_assets_paper_cycle_plans_no_reduce(tmp_path: Path) -> None:
    """The whole engine (build_app, paper mode, a deleverage rule at critical) on the recording."""
    async with FakeExchangeServer("binance", market_for("binance")) as fake:
        replay = await Replay(fake, BINANCE_CCXT).start()
        notifier = ConsoleNotifier(file=io.StringIO())
        app = build_app(settings_for(tmp_path, [replay_account(fake, replay)], rules=DELEVERAGE, mode="paper"),
                        notifier=notifier)  # fmt: skip
        notifier.store = app.store
        try:
            result = await app.engine.run_cycle("acct")
            assert result.error is None
            assert [r.kind for r in app.store.actions(account="acct")] == []
        finally:
            await app.close()
            await replay.stop()


@pytest.mark.parametrize(
    ("name", "position_side", "hedge"),
    [("binance_fapi_v3_positionRisk_docs_oneway.json", "both", False),
     ("binance_fapi_v3_positionRisk_docs_hedge_first_row.json", "long", True)],
)  # fmt: skip
async def test_binance_docs_examples_zero_liquidation_price_and_numeric_fields(
    name: str, position_side: str, hedge: bool
) -> None:
    """Docs example (made-up numbers; adl/updateTime are JSON numbers, liquidationPrice "0")."""
    bodies = {BINANCE_POSITIONS: raw(name), BINANCE_ACCOUNT: raw("binance_fapi_v3_account_ccxt.json")}
    snapshot, (risk,), _ = await snapshot_and_risk("binance", bodies)
    (p,) = snapshot.positions
    assert (p.symbol, p.side, p.position_side, p.margin_mode) == (ADA, "long", position_side, "cross")
    assert (p.contracts, p.entry_price, p.mark_price) == (30.0, 0.385, 0.4104759)
    assert p.liquidation_price_reported is None and risk.liquidation_price_reported is None  # "0": none given
    assert snapshot.hedge_mode is hedge


async def test_binance_recorded_empty_account() -> None:
    """No position, no margin in use (ccxt's recorded v2 account; v3 shares the fields we read)."""
    bodies = {BINANCE_POSITIONS: "[]", BINANCE_ACCOUNT: raw("binance_fapi_v2_account_empty_ccxt.json")}
    snapshot, risks, _ = await snapshot_and_risk("binance", bodies)
    assert snapshot.positions == () and risks == [] and snapshot.warnings == ()
    assert snapshot.cross_wallet == {"USDT": 31.022612} and snapshot.account_margin_ratio == 0.0
    assert snapshot.available["futures"] == {"USDT": 31.022612}


@pytest.mark.parametrize(
    "name", ["binance_fapi_v1_leverageBracket_docs.json", "binance_fapi_v1_leverageBracket_docs_single.json"]
)
async def test_binance_docs_leverage_brackets(name: str) -> None:
    """The docs' bracket example (JSON numbers, list or single object) is read; a symbol it does not
    cover (BTC) gets no tiers, and the venue's reported price is then used."""
    bodies = {**BINANCE_CCXT, BINANCE_BRACKETS: raw(name)}
    async with replayed("binance", bodies) as (_replay, adapter):
        snapshot = await adapter.snapshot()
        assert adapter.venue.tiers[ETH] == TierTable([Tier(0.0, 10_000.0, 0.0065, 0.0)])
        assert BTC not in adapter.venue.tiers
    (p,) = snapshot.positions
    assert p.tiers is None
    (risk,) = assess(snapshot, AssessConfig(), snapshot.fetched_at).positions
    assert risk.liquidation_price_recomputed is None and risk.liquidation_source == "reported"
    assert risk.liquidation_price == BINANCE_LIQ


# -- Bybit ------------------------------------------------------------------------------------

BYBIT_CCXT = {
    BYBIT_POSITIONS: raw("bybit_v5_position_list_ccxt.json"),
    BYBIT_WALLET: raw("bybit_v5_account_wallet_balance_ccxt.json"),
}


async def test_bybit_recorded_cross_position_is_parsed() -> None:
    """UTA cross position (liqPrice "", tradeMode "0", positionBalance set anyway). Position and
    wallet were recorded 14 months apart: parsing only."""
    snapshot, risks, _ = await snapshot_and_risk("bybit", BYBIT_CCXT)
    assert snapshot.positions
    for p in snapshot.positions:
        assert (p.symbol, p.side, p.position_side, p.margin_mode) == (LTC, "long", "both", "cross")
        assert (p.contracts, p.entry_price, p.mark_price) == (1.2, 64.59947917, 71.1)
        assert p.collateral is None and p.liquidation_price_reported is None
        assert p.maintenance_margin_reported == 0.81072399 and p.unrealized_pnl_reported == 7.800625
    for risk in risks:
        assert risk.liquidation_price_reported is None
    assert snapshot.account_margin_ratio == 0.0  # accountMMRate "0"
    assert snapshot.account_equity == 92255.96988644 and snapshot.account_maintenance == 7.38826721
    assert snapshot.cross_wallet["USDT"] == 3322.25896609
    # unified cross: every collateral coin backs the position, in USD (margin balance minus perp UPL)
    assert snapshot.cross_wallet["USD"] == pytest.approx(90042.2788482 + 21.66812467)
    assert all(p.margin_pool == "USD" for p in snapshot.positions)
    for r in risks:  # 85 USDT of LTC against a 90k USD pool: no price can liquidate this long
        assert r.liquidation_price_recomputed is None and r.tier.name == "OK", (r.liquidation_price, r.reasons)
    assert snapshot.available["futures"]["USDT"] == 3322.25896609  # availableToWithdraw "": UTA total, capped


async def test_bybit_recorded_position_appears_once() -> None:
    snapshot, risks, replay = await snapshot_and_risk("bybit", BYBIT_CCXT)
    assert len(snapshot.positions) == 1 and len(risks) == 1
    assert len(replay.calls(BYBIT_POSITIONS)) <= 2  # USDT (+ USDC, which settles linear contracts)


async def test_bybit_recorded_zero_size_row_is_skipped() -> None:
    """A closed position (size "0", side "", avgPrice "0", unrealisedPnl "") next to a wallet that
    still shows position margin: no position, the empty list is reported as not corroborated."""
    bodies = {**BYBIT_CCXT, BYBIT_POSITIONS: raw("bybit_v5_position_list_zero_size_ccxt.json")}
    snapshot, risks, _ = await snapshot_and_risk("bybit", bodies)
    assert snapshot.positions == () and risks == []
    assert any("not corroborated" in w for w in snapshot.warnings)


# -- OKX --------------------------------------------------------------------------------------

OKX_CCXT = {
    OKX_POSITIONS: raw("okx_api_v5_account_positions_ccxt.json"),
    OKX_BALANCE: raw("okx_api_v5_account_balance_ccxt.json"),
}


async def test_okx_recorded_cross_position_is_parsed() -> None:
    """long/short mode cross position (liqPx "", margin ""). Position (2024-01) and balance
    (2025-07, multi-currency account) are separate recordings: parsing only."""
    snapshot, (risk,), _ = await snapshot_and_risk("okx", OKX_CCXT)
    (p,) = snapshot.positions
    assert (p.symbol, p.side, p.position_side, p.margin_mode) == (LTC, "long", "long", "cross")
    assert (p.contracts, p.contract_size, p.entry_price, p.mark_price) == (1.0, 0.001, 68.24, 68.24)
    assert p.collateral is None and p.liquidation_price_reported is None and p.leverage == 3.0
    assert p.maintenance_margin_reported == 0.00044356 and p.unrealized_pnl_reported == 0.0
    assert snapshot.hedge_mode is True
    assert risk.liquidation_price_reported is None
    assert snapshot.account_margin_ratio == pytest.approx(1 / 15986.632239614408)
    assert snapshot.account_equity == 152550.80919105993 and snapshot.account_maintenance == 9.073149592403611
    assert snapshot.cross_wallet["USDT"] == 0.000258796 and snapshot.available["futures"]["USDT"] == 0.0


async def test_okx_multi_currency_cross_position_is_not_near_liquidation() -> None:
    """Within the position row itself (one instant) OKX reports mgnRatio 141687115 for it: equity
    is 1.4e8 times the maintenance. We recompute 68.29 against a mark of 68.24 (past liquidation,
    tier critical) from the USDT cashBal 0.00026 of the balance recording."""
    (row,) = recorded("okx_api_v5_account_positions_ccxt.json")["data"]
    assert float(row["mgnRatio"]) > 1e8
    _, (risk,), _ = await snapshot_and_risk("okx", OKX_CCXT)
    assert risk.distance_pct is None or risk.distance_pct > 50.0


# -- the CLI, as outside checks run it ---------------------------------------------------------

CLI_CASES = {
    "binance": (BINANCE_CCXT, BTC, "long", 0.009, 67445.9, 67502.68519858, BINANCE_LIQ),
    "bybit": (BYBIT_CCXT, LTC, "long", 1.2, 64.59947917, 71.1, None),
    "okx": (OKX_CCXT, LTC, "long", 1.0, 68.24, 68.24, None),
}


@pytest.mark.timeout(60)  # a real process that imports ccxt: ~3 s idle, twice that on a loaded CI box
@pytest.mark.parametrize("venue", sorted(CLI_CASES))
async def test_check_once_json_on_recorded_replies(tmp_path: Path, venue: str) -> None:
    bodies, symbol, side, contracts, entry, mark, liq = CLI_CASES[venue]
    async with FakeExchangeServer(venue, market_for(venue)) as fake:  # type: ignore[arg-type]
        replay = await Replay(fake, bodies).start()
        try:
            returncode, out, err = await check_once_json(tmp_path, [replay_account(fake, replay, name="rec")])
        finally:
            await replay.stop()
    assert returncode == 0, err.decode()
    (account,) = json.loads(out)["accounts"]
    assert account["error"] is None, account["error"]
    assert len(account["positions"]) == 1
    for position in account["positions"]:
        assert (position["symbol"], position["side"]) == (symbol, side)
        assert (position["contracts"], position["entry_price"], position["mark_price"]) == (contracts, entry, mark)
        assert position["liquidation_price_reported"] == liq
