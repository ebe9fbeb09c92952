"""Binance USDⓈ-M futures (ccxt ids ``binance``, ``binanceusdm``).

Per cycle: ``GET /fapi/v3/positionRisk`` (mark, entry, liquidation price, isolated wallet,
maintenance per position) + ``GET /fapi/v3/account`` (cross wallet, available balance,
totalMaintMargin / totalMarginBalance). Slow: ``/fapi/v1/leverageBracket`` (all symbols in one
call; ``cum`` is the maintenance amount) and ``/fapi/v1/positionSide/dual``. Wallets: spot
``/api/v3/account`` and ``POST /sapi/v1/asset/get-funding-asset``.

Quirks handled here:

* v3 rows carry no ``marginType``: a position is isolated iff its ``isolatedWallet`` > 0;
* ``liquidationPrice`` "0" means no positive liquidation price exists;
* per-market error codes (-2019 margin insufficient, -2022 reduce-only rejected, ...) come out
  as plain ExchangeError unless ccxt matches the request host; the ``linear`` table is merged
  into the instance's exact table so they map the same against any host (testnet, proxy);
* a ``-2015`` after a successful call is raised by ccxt as DDoSProtection (a temporary ban
  per ccxt; also a revoked key): the adapter parks the account only if it persists;
* transfers use explicit types (``MAIN_UMFUTURE`` / ``FUNDING_UMFUTURE``): ccxt's
  ``transfer(..., 'future')`` silently becomes an isolated-margin transfer;
* hedge mode: ``positionSide`` + ``reduceOnly`` is rejected (-1106), so a closing order in hedge
  mode carries ``positionSide`` only (the side itself makes it close).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ccxt

from bot.domain import MarginMode, Position, PositionSide
from bot.errors import ActionRejected
from bot.exchanges.venue import (
    FuturesState,
    Malformed,
    OrderState,
    Venue,
    account_state,
    expect_dict,
    expect_list,
    num,
    num0,
    objects,
    order_state,
    positive,
    row_size,
    side_of,
)
from bot.risk.tiers import Tier, TierTable

SLACK_MS = 60_000  # history lookups start this long before the intent (clock differences)
TRANSFER_TYPES = {"spot": "MAIN_UMFUTURE", "funding": "FUNDING_UMFUTURE"}


class Binance(Venue):
    name = "binance"
    dedicated = True

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {
            "options": {
                "defaultType": "swap",
                "fetchMarkets": {"types": ["linear"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            }
        }

    def prepare(self) -> None:
        exceptions = dict(self.ex.exceptions)
        linear = exceptions.get("linear", {}).get("exact", {})
        exceptions["exact"] = {**exceptions.get("exact", {}), **linear}
        self.ex.exceptions = exceptions

    def auth_suspect(self, error: Exception) -> bool:
        return "-2015" in str(error)

    # -- slow data ----------------------------------------------------------------------------

    async def load_modes(self) -> None:
        dual = expect_dict(await self.ex.fapiPrivateGetPositionSideDual(), "positionSide/dual")
        self.hedge_mode = bool(dual.get("dualSidePosition"))

    async def load_tiers(self, symbols: Iterable[str]) -> None:
        """All symbols in one call (``symbols`` is ignored)."""
        reply = await self.ex.fapiPrivateGetLeverageBracket()
        rows = [reply] if isinstance(reply, dict) else expect_list(reply, "leverageBracket")
        tiers: dict[str, TierTable] = {}
        for row in rows:
            market = self.market_by_id(str(row.get("symbol")))
            brackets = row.get("brackets") or []
            if market is None or not brackets:
                continue
            tiers[market["symbol"]] = TierTable(
                Tier(
                    num0(b.get("notionalFloor")),
                    num(b.get("notionalCap")) or float("inf"),
                    num0(b.get("maintMarginRatio")),
                    num0(b.get("cum")),
                )
                for b in brackets
            )
        self.tiers.update(tiers)

    async def fetch_wallets(self) -> dict[str, dict[str, float]]:
        spot = expect_dict(await self.ex.privateGetAccount(), "spot account")
        funding = expect_list(await self.ex.sapiPostAssetGetFundingAsset(), "funding assets")
        return {
            "spot": {b["asset"]: num0(b.get("free")) for b in spot.get("balances") or [] if num(b.get("free"))},
            "funding": {b["asset"]: num0(b.get("free")) for b in funding if num(b.get("free"))},
        }

    # -- the per-cycle read -------------------------------------------------------------------

    async def fetch_futures(self) -> FuturesState:
        warnings: list[str] = []
        try:
            rows: list[Any] | None = expect_list(await self.ex.fapiPrivateV3GetPositionRisk(), "positionRisk")
        except Malformed as e:
            rows, warnings = None, [f"{e}: positions unknown"]
        account = expect_dict(await self.ex.fapiPrivateV3GetAccount(), "futures account")
        state = self._account(account)
        state.warnings = warnings
        if rows is None:
            state.margin_in_use = 0.0  # nothing to corroborate: the list itself is missing
            return state
        open_rows = [r for r in objects(rows, "positionRisk") if row_size(r.get("positionAmt"), "positionRisk")]
        state.rows = len(open_rows)
        sides = {str(r.get("positionSide") or "BOTH").upper() for r in open_rows}
        state.hedge_mode = bool(sides - {"BOTH"}) if sides else self.hedge_mode
        for row in open_rows:
            position = self._position(row, warnings)
            if position is not None and self.wanted(position.symbol):
                state.positions.append(position)
        return state

    def _position(self, row: dict[str, Any], warnings: list[str]) -> Position | None:
        market = self.market_by_id(str(row.get("symbol")))
        if market is None:
            warnings.append(f"position in unknown market {row.get('symbol')}: markets need a reload")
            return None
        symbol = market["symbol"]
        pside = str(row.get("positionSide") or "BOTH").lower()
        position_side: PositionSide = "long" if pside == "long" else "short" if pside == "short" else "both"
        amount = num0(row.get("positionAmt"))
        wallet = num(row.get("isolatedWallet")) or 0.0
        isolated = wallet > 0.0
        mode: MarginMode = "isolated" if isolated else "cross"
        return Position(
            symbol=symbol,
            side=side_of(position_side, amount),
            contracts=abs(amount) / self.contract_size(market),
            entry_price=num0(row.get("entryPrice")),
            mark_price=num0(row.get("markPrice")),
            margin_mode=mode,
            tiers=self.tiers.get(symbol),
            collateral=wallet if isolated else None,
            contract_size=self.contract_size(market),
            inverse=False,
            settle=str(row.get("marginAsset") or market.get("settle") or "USDT"),
            leverage=num(row.get("leverage")),
            position_side=position_side,
            liquidation_price_reported=positive(row.get("liquidationPrice")),
            maintenance_margin_reported=num(row.get("maintMargin")),
            unrealized_pnl_reported=num(row.get("unRealizedProfit")),
            liquidation_model="mark_tiered",
        )

    def _account(self, account: dict[str, Any]) -> FuturesState:
        maintenance = num(account.get("totalMaintMargin"))
        balance = num(account.get("totalMarginBalance"))
        ratio = None
        if maintenance is not None and balance is not None:
            ratio = maintenance / balance if balance > 0 else (float("inf") if maintenance > 0 else None)
        position_im = num(account.get("totalPositionInitialMargin"))
        if position_im is None:
            position_im = num0(account.get("totalInitialMargin")) - num0(account.get("totalOpenOrderInitialMargin"))
        cross: dict[str, float] = {}
        free: dict[str, float] = {}
        for asset in objects(account.get("assets"), "futures account assets"):
            ccy = str(asset.get("asset"))
            cross[ccy] = num0(asset.get("crossWalletBalance"))
            free[ccy] = max(0.0, num0(asset.get("availableBalance")))
        return account_state(
            usd_pool=num(account.get("totalCrossWalletBalance")) if _multi_assets(account, cross) else None,
            cross_wallet=cross,
            free=free,
            margin_ratio=ratio,
            equity=balance,
            maintenance=maintenance,
            margin_in_use=max(position_im, maintenance or 0.0),
        )

    # -- money-moving calls -------------------------------------------------------------------

    async def add_margin(self, symbol: str, position_side: PositionSide, amount: float) -> str | None:
        request: dict[str, Any] = {"symbol": self.market(symbol)["id"], "amount": self.ex.number_to_string(amount)}
        request["type"] = 1
        if position_side != "both":
            request["positionSide"] = position_side.upper()
        reply = expect_dict(await self.ex.fapiPrivatePostPositionMargin(request), "positionMargin")
        if str(reply.get("code")) != "200":
            raise Malformed(f"positionMargin: unexpected reply code {reply.get('code')!r}")
        return None

    async def transfer(self, currency: str, amount: float, source: str, client_id: str) -> str | None:
        kind = TRANSFER_TYPES.get(source)
        if kind is None:
            raise ActionRejected(f"binance: no transfer from {source!r} into USD-M futures (allowed: spot, funding)")
        request = {"type": kind, "asset": currency, "amount": self.ex.number_to_string(amount)}
        reply = expect_dict(await self.ex.sapiPostAssetTransfer(request), "asset transfer")
        if reply.get("tranId") in (None, ""):
            raise Malformed("asset transfer: no tranId in the reply")
        return str(reply["tranId"])

    def order_params(
        self, *, margin_mode: MarginMode, position_side: PositionSide, reduce_only: bool, client_id: str
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"clientOrderId": client_id}
        if position_side != "both":
            params["positionSide"] = position_side.upper()  # hedge mode: no reduceOnly (-1106)
        elif reduce_only:
            params["reduceOnly"] = True
        return params

    # -- lookups for reconcile ----------------------------------------------------------------

    async def order_by_client_id(self, symbol: str, client_id: str) -> OrderState | None:
        try:
            order = await self.ex.fetch_order(None, symbol, {"origClientOrderId": client_id})
        except ccxt.OrderNotFound:
            return None
        return order_state(order)

    async def margin_added(self, symbol: str, position_side: PositionSide, amount: float, since: float) -> bool | None:
        request = {"symbol": self.market(symbol)["id"], "type": 1, "startTime": int(since * 1000) - SLACK_MS}
        rows = expect_list(await self.ex.fapiPrivateGetPositionMarginHistory(request), "positionMargin/history")
        for row in rows:
            same_side = str(row.get("positionSide") or "BOTH").lower() == position_side
            if same_side and abs(num0(row.get("amount")) - amount) <= 1e-6 * max(1.0, amount):
                return True
        return False

    async def transfer_done(
        self, currency: str, amount: float, source: str, client_id: str, since: float
    ) -> bool | None:
        kind = TRANSFER_TYPES.get(source)
        if kind is None:
            return False
        request = {"type": kind, "startTime": int(since * 1000) - SLACK_MS, "size": 100}
        reply = expect_dict(await self.ex.sapiGetAssetTransfer(request), "transfer history")
        for row in reply.get("rows") or []:
            if row.get("asset") == currency and abs(num0(row.get("amount")) - amount) <= 1e-6 * max(1.0, amount):
                status = str(row.get("status") or "CONFIRMED").upper()
                return True if status == "CONFIRMED" else None if status == "PENDING" else False
        return False


def _multi_assets(account: dict[str, Any], cross: dict[str, float]) -> bool:
    """Multi-Assets mode: every USDⓈ-M cross position shares one pool, valued in USD.

    The v2 account says so (``multiAssetsMargin``); the v3 one does not, but in single-asset mode
    its totals are documented as USDT-only, so a total cross wallet that differs from the USDT
    cross wallet can only be the multi-asset pool. (With nothing but USDT in the wallet the two
    modes give the same pool for USDT-margined positions.)"""
    flag = account.get("multiAssetsMargin")
    if isinstance(flag, bool):
        return flag
    total = num(account.get("totalCrossWalletBalance"))
    if total is None:
        return False
    usdt = cross.get("USDT", 0.0)
    return abs(total - usdt) > 1e-6 * max(1.0, abs(total))
