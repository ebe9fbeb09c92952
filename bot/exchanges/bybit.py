"""Bybit v5, linear (USDT/USDC) perpetuals, unified (UTA) or classic account (ccxt id ``bybit``).

Per cycle: ``GET /v5/position/list?category=linear&settleCoin=USDT`` (one call per settle coin
in use) + ``GET /v5/account/wallet-balance`` (UNIFIED, or CONTRACT for a classic account).
Slow: ``/v5/account/info`` (account-level margin mode, UTA or classic) and
``/v5/market/risk-limit`` per symbol. Wallets: ``query-account-coins-balance?accountType=FUND``
(and SPOT for a classic account; on UTA spot funds already sit in the unified wallet).

Quirks handled here:

* ccxt never fills the unified ``marginMode``: a position is isolated when ``tradeMode`` is 1
  (classic, UTA 1.0) or the account's ``marginMode`` is ISOLATED_MARGIN (UTA 2.0, where
  ``tradeMode`` is always 0) and the row has its own ``liqPrice`` (cross rows report "");
* isolated maintenance is fixed at the ENTRY value from the risk-limit tier, and
  ``positionBalance`` is the isolated wallet: ``liquidation_model="entry_fixed"``;
* ``liqPrice`` is "" in cross mode; the account's ``accountMMRate`` is the fallback ratio;
* no unified ``add_margin``: ``POST /v5/position/add-margin``; transfers carry our client id as a
  deterministic UUID ``transferId`` (idempotent, and found again by reconcile);
* ``fetch_order`` by ``orderLinkId`` fails in ccxt (it sends orderId=None): the raw
  ``/v5/order/realtime`` then ``/v5/order/history`` are queried instead;
* no reliable margin-adjustment history: reconcile compares with the pre-state the adapter kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from bot.domain import MarginMode, Position, PositionSide, Side
from bot.errors import ActionRejected
from bot.exchanges.venue import (
    STABLES,
    FuturesState,
    Malformed,
    OrderState,
    Venue,
    account_state,
    expect_dict,
    num,
    num0,
    objects,
    positive,
    row_size,
)
from bot.risk.tiers import from_ccxt

SIDES: dict[str, Side] = {"Buy": "long", "Sell": "short"}
IDX: dict[str, PositionSide] = {"0": "both", "1": "long", "2": "short"}
SIDE_IDX = {"both": 0, "long": 1, "short": 2}
FINAL = {"Filled", "Cancelled", "Rejected", "PartiallyFilledCanceled", "Deactivated", "Expired"}
NAMESPACE = uuid.UUID("6f1c3e0a-9f3b-4d5e-8a47-0d2b8c1e5a90")


def transfer_uuid(client_id: str) -> str:
    """Bybit wants a UUID transferId: derived from our client id so a retry is idempotent."""
    return str(uuid.uuid5(NAMESPACE, client_id))


def _result(reply: Any, what: str) -> dict[str, Any]:
    body = expect_dict(reply, what)
    result = body.get("result")
    if not isinstance(result, dict):
        raise Malformed(f"{what}: reply without a result")
    return result


class Bybit(Venue):
    name = "bybit"
    dedicated = True

    def __init__(self, ex: Any, account: Any):
        super().__init__(ex, account)
        self.unified: bool | None = None
        self.account_margin_mode: str | None = None
        self.settle_coins: set[str] = {"USDT"}
        for symbol in account.symbols or []:
            if ":" in symbol:
                self.settle_coins.add(symbol.split(":", 1)[1])

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {
            "options": {
                "defaultType": "swap",
                "defaultSubType": "linear",
                "fetchMarkets": {"types": ["linear"]},
                "enableUnifiedMargin": False,
            },
            "has": {"fetchCurrencies": False},
        }

    @property
    def account_type(self) -> str:
        return "CONTRACT" if self.unified is False else "UNIFIED"

    # -- slow data ----------------------------------------------------------------------------

    async def load_modes(self) -> None:
        info = _result(await self.ex.privateGetV5AccountInfo(), "account info")
        self.account_margin_mode = str(info.get("marginMode") or "") or None
        configured = self.ex.options.get("enableUnifiedAccount")
        if configured is not None:
            self.unified = bool(configured)
        else:
            self.unified = int(num0(info.get("unifiedMarginStatus"))) >= 3
            self.ex.options["enableUnifiedAccount"] = self.unified  # spares ccxt its own probe

    async def load_tiers(self, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            rows = await self.ex.fetch_market_leverage_tiers(symbol)
            if rows:
                self.tiers[symbol] = from_ccxt(rows)

    async def fetch_wallets(self) -> dict[str, dict[str, float]]:
        fund = _result(
            await self.ex.privateGetV5AssetTransferQueryAccountCoinsBalance({"accountType": "FUND"}), "FUND balance"
        )
        wallets = {"funding": {b["coin"]: num0(b.get("transferBalance")) for b in fund.get("balance") or []}}
        if self.unified is False:
            spot = _result(await self.ex.privateGetV5AccountWalletBalance({"accountType": "SPOT"}), "SPOT balance")
            coins = (spot.get("list") or [{}])[0].get("coin") or []
            wallets["spot"] = {c["coin"]: num0(c.get("free") or c.get("walletBalance")) for c in coins}
        else:
            wallets["spot"] = {}  # UTA: spot funds are the unified wallet itself
        return wallets

    # -- the per-cycle read -------------------------------------------------------------------

    async def fetch_futures(self) -> FuturesState:
        warnings: list[str] = []
        rows: list[dict[str, Any]] | None = []
        for coin in sorted(self.settle_coins):
            try:
                rows = (rows or []) + await self._positions(coin)
            except Malformed as e:
                rows, warnings = None, [*warnings, f"{e}: positions unknown"]
                break
        wallet = _result(
            await self.ex.privateGetV5AccountWalletBalance({"accountType": self.account_type}), "wallet balance"
        )
        listed = objects(wallet.get("list"), "wallet balance")
        summary = listed[0] if listed else None
        if not isinstance(summary, dict):
            raise Malformed("wallet balance: empty account list")
        margined = {
            str(c.get("coin"))
            for c in objects(summary.get("coin"), "wallet coins")
            if num0(c.get("totalPositionIM")) > 0 or num0(c.get("totalPositionMM")) > 0
        }
        missing = margined - self.settle_coins
        if missing:  # rare: margin in a coin not queried; only coins that settle a linear market have a list
            missing &= self._linear_settle_coins()
        if missing and rows is not None:  # positions settled in a coin we did not ask for
            self.settle_coins |= missing
            for coin in sorted(missing):
                rows += await self._positions(coin)
        state = self._account(summary, rows or [])
        state.warnings = warnings
        if rows is None:
            state.margin_in_use = 0.0
            return state
        state.rows = len(rows)
        state.hedge_mode = any(str(r.get("positionIdx")) in ("1", "2") for r in rows) or self.settings.hedge_mode
        for row in rows:
            position = self._position(row, warnings)
            if position is not None and self.wanted(position.symbol):
                state.positions.append(position)
        return state

    def _linear_settle_coins(self) -> set[str]:
        """Coins that settle a loaded linear market (a wallet coin with margin in use may be
        collateral only, e.g. BTC in a unified account: there is no linear list to ask for)."""
        markets = self.ex.markets or {}
        return {str(m.get("settle")) for m in markets.values() if m.get("linear") and m.get("settle")}

    async def _positions(self, coin: str) -> list[dict[str, Any]]:
        limit = 200
        request: dict[str, Any] = {"category": "linear", "settleCoin": coin, "limit": limit}
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        seen_cursors: set[str] = set()
        for _ in range(10):
            result = _result(await self.ex.privateGetV5PositionList(request), "position list")
            if not isinstance(result.get("list"), list):
                raise Malformed("position list: no list in the result")
            page = objects(result.get("list"), "position list")
            for r in page:
                if row_size(r.get("size"), "position list"):
                    rows[(str(r.get("symbol")), str(r.get("positionIdx")))] = r  # a page repeated is no new row
            # Bybit returns a cursor even on the last page: a short page is the last one.
            cursor = result.get("nextPageCursor")
            if not cursor or len(page) < limit or cursor in seen_cursors:
                break
            seen_cursors.add(str(cursor))
            request = {**request, "cursor": cursor}
        return list(rows.values())

    def _isolated(self, row: dict[str, Any]) -> bool:
        if str(row.get("tradeMode")) == "1":
            return True
        # UTA 2.0 reports tradeMode 0 for every position and keeps the mode at account level;
        # a cross position has no liquidation price of its own ("").
        return self.account_margin_mode == "ISOLATED_MARGIN" and positive(row.get("liqPrice")) is not None

    def _position(self, row: dict[str, Any], warnings: list[str]) -> Position | None:
        market = self.market_by_id(str(row.get("symbol")))
        if market is None:
            warnings.append(f"position in unknown market {row.get('symbol')}: markets need a reload")
            return None
        symbol = market["symbol"]
        position_side = IDX.get(str(row.get("positionIdx")), "both")
        side = SIDES.get(str(row.get("side")))
        size = num0(row.get("size"))
        if side is None or size < 0:  # guessing a side would put the liquidation on the wrong side
            raise Malformed(f"position list: {symbol} has side {row.get('side')!r} and size {row.get('size')!r}")
        isolated = self._isolated(row)
        mode: MarginMode = "isolated" if isolated else "cross"
        return Position(
            symbol=symbol,
            side=side,
            contracts=size / self.contract_size(market),
            entry_price=num0(row.get("avgPrice")),
            mark_price=num0(row.get("markPrice")),
            margin_mode=mode,
            tiers=self.tiers.get(symbol),
            collateral=num(row.get("positionBalance")) if isolated else None,
            contract_size=self.contract_size(market),
            inverse=False,
            settle=str(market.get("settle") or "USDT"),
            leverage=num(row.get("leverage")),
            position_side=position_side,
            liquidation_price_reported=positive(row.get("liqPrice")),
            maintenance_margin_reported=num(row.get("positionMM")),
            unrealized_pnl_reported=num(row.get("unrealisedPnl")),
            liquidation_model="entry_fixed" if isolated else "mark_tiered",
        )

    def _account(self, summary: dict[str, Any], rows: list[dict[str, Any]]) -> FuturesState:
        isolated: dict[str, float] = {}
        for row in rows:
            if self._isolated(row):
                market = self.market_by_id(str(row.get("symbol")))
                coin = str((market or {}).get("settle") or "USDT")
                isolated[coin] = isolated.get(coin, 0.0) + num0(row.get("positionBalance"))
        cross: dict[str, float] = {}
        free: dict[str, float] = {}
        total_free = num(summary.get("totalAvailableBalance"))
        coins = objects(summary.get("coin"), "wallet coins")
        for c in coins:
            coin = str(c.get("coin"))
            cross[coin] = num0(c.get("walletBalance")) - isolated.get(coin, 0.0)
            own = num(c.get("availableToWithdraw"))
            if own is not None:
                free[coin] = max(0.0, own)
            elif coin in STABLES and total_free is not None:
                free[coin] = max(0.0, min(total_free, cross[coin]))  # UTA reports available in USD
        maintenance = num(summary.get("totalMaintenanceMargin"))
        # Unified account, cross margin: every collateral coin backs every cross position, in
        # USD (haircut-weighted); the pool without unrealised PnL is margin balance minus perp UPL.
        usd_pool = None
        if self.unified and self.account_margin_mode != "ISOLATED_MARGIN":
            margin_balance, perp_upl = num(summary.get("totalMarginBalance")), num(summary.get("totalPerpUPL"))
            if margin_balance is not None and perp_upl is not None:
                usd_pool = margin_balance - perp_upl
        in_use = max(
            maintenance or 0.0,
            max((num0(c.get("totalPositionMM")) for c in coins), default=0.0),
        )
        return account_state(
            cross_wallet=cross,
            free=free,
            usd_pool=usd_pool,
            margin_ratio=num(summary.get("accountMMRate")),
            equity=num(summary.get("totalEquity")),
            maintenance=maintenance,
            margin_in_use=in_use,
        )

    # -- money-moving calls -------------------------------------------------------------------

    async def add_margin(self, symbol: str, position_side: PositionSide, amount: float) -> str | None:
        request = {
            "category": "linear",
            "symbol": self.market(symbol)["id"],
            "margin": self.ex.number_to_string(amount),
            "positionIdx": SIDE_IDX[position_side],
        }
        _result(await self.ex.privatePostV5PositionAddMargin(request), "add margin")
        return None

    def _transfer_accounts(self, source: str) -> tuple[str, str]:
        if self.unified is False:
            routes = {"funding": ("FUND", "CONTRACT"), "spot": ("SPOT", "CONTRACT")}
        else:
            routes = {"funding": ("FUND", "UNIFIED")}
        if source not in routes:
            allowed = ", ".join(routes)
            raise ActionRejected(f"bybit {self.account_type}: no transfer from {source!r} (allowed: {allowed})")
        return routes[source]

    async def transfer(self, currency: str, amount: float, source: str, client_id: str) -> str | None:
        src, dst = self._transfer_accounts(source)
        tid = transfer_uuid(client_id)
        request = {
            "transferId": tid,
            "coin": currency,
            "amount": self.ex.number_to_string(amount),
            "fromAccountType": src,
            "toAccountType": dst,
        }
        status = str(_result(await self.ex.privatePostV5AssetTransferInterTransfer(request), "transfer").get("status"))
        if status == "FAILED":
            raise ActionRejected(f"bybit refused the transfer {src}->{dst} (status FAILED)")
        if status != "SUCCESS":
            raise Malformed(f"transfer {tid}: status {status!r}, not SUCCESS")
        return tid

    def order_params(
        self, *, margin_mode: MarginMode, position_side: PositionSide, reduce_only: bool, client_id: str
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"clientOrderId": client_id, "positionIdx": SIDE_IDX[position_side]}
        if reduce_only:
            params["reduceOnly"] = True
        return params

    # -- lookups for reconcile ----------------------------------------------------------------

    async def order_by_client_id(self, symbol: str, client_id: str) -> OrderState | None:
        market = self.market(symbol)
        request = {"category": "linear", "symbol": market["id"], "orderLinkId": client_id}
        for call in (self.ex.privateGetV5OrderRealtime, self.ex.privateGetV5OrderHistory):
            found = [o for o in _result(await call(request), "order query").get("list") or [] if isinstance(o, dict)]
            mine = [o for o in found if o.get("orderLinkId") == client_id]
            if mine:
                o = mine[0]
                status = str(o.get("orderStatus") or "")
                return OrderState(
                    order_id=str(o.get("orderId") or "") or None,
                    filled=num0(o.get("cumExecQty")) / self.contract_size(market),
                    average=positive(o.get("avgPrice")),
                    fee=num(o.get("cumExecFee")),
                    final=status in FINAL,
                    status=status,
                )
        return None

    async def transfer_done(
        self, currency: str, amount: float, source: str, client_id: str, since: float
    ) -> bool | None:
        tid = transfer_uuid(client_id)
        request = {"transferId": tid, "coin": currency, "limit": 50}
        result = _result(await self.ex.privateGetV5AssetTransferQueryInterTransferList(request), "transfer list")
        for row in result.get("list") or []:
            if row.get("transferId") == tid:
                status = str(row.get("status"))
                return True if status == "SUCCESS" else False if status == "FAILED" else None
        return False
