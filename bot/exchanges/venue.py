"""Venue quirks behind one small interface, and the generic fallback for other ccxt ids.

``CcxtAdapter`` (bot.exchanges.ccxt_adapter) owns the ccxt instance, error mapping, rounding and
the action flow; a ``Venue`` knows one exchange's endpoints and field names:

* ``fetch_futures``: the per-cycle read (positions + futures account, marks inside the position
  rows), parsed into ``Position`` objects and account figures;
* ``load_modes`` / ``load_tiers``: what changes slowly (position/margin mode, maintenance tiers),
  refreshed on ``poll.markets_refresh_s``; ``fetch_wallets``: spot/funding balances (slower cadence);
* the money-moving calls (``add_margin``, ``transfer``) and order parameters, and the lookups
  ``reconcile`` needs (order by client id, margin and transfer history).

Replies that are not what the venue documents raise ``Malformed`` (ccxt returns a bare string
for an HTTP 200 with a truncated or empty body instead of raising).

The generic ``Venue`` uses unified ccxt calls only. It is a best effort for ids without a
quirk file: positions and balances come from ccxt's unified structures, isolated collateral
is not known reliably (so liquidation is not recomputed), and transfers are refused because
no account-name whitelist has been verified for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.domain import MarginMode, Position, PositionSide, Side
from bot.errors import ActionRejected
from bot.risk.tiers import TierTable, from_ccxt
from bot.settings import AccountSettings

STABLES = frozenset({"USDT", "USDC", "USD", "FDUSD", "BUSD", "DAI", "TUSD"})


class Malformed(Exception):
    """The venue answered, but not with the documented structure (treated as unparseable)."""


def num(value: Any) -> float | None:
    """A venue number ("", None and non-finite values are "not given")."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON integer beyond float range
        return None
    return x if math.isfinite(x) else None


def num0(value: Any) -> float:
    x = num(value)
    return 0.0 if x is None else x


def positive(value: Any) -> float | None:
    """Reported prices: 0, "" and None all mean "none given"."""
    x = num(value)
    return x if x is not None and x > 0.0 else None


def expect_dict(reply: Any, what: str) -> dict[str, Any]:
    if not isinstance(reply, dict):
        raise Malformed(f"{what}: unparseable reply ({type(reply).__name__})")
    return reply


def expect_list(reply: Any, what: str) -> list[Any]:
    if not isinstance(reply, list):
        raise Malformed(f"{what}: unparseable reply ({type(reply).__name__})")
    return reply


def row_size(value: Any, what: str) -> float:
    """A position row's size: 0.0 for an empty slot ("0", "" or missing). Anything else that is
    not a finite number is not the documented structure: dropping the row as if it were closed
    would silently stop guarding an open position."""
    if value is None or value == "":
        return 0.0
    x = num(value)
    if x is None:
        raise Malformed(f"{what}: a position size of {str(value)[:20]!r} is not a number")
    return x


def objects(value: Any, what: str) -> list[dict[str, Any]]:
    """A documented list of objects (rows, assets, coins); missing is empty, anything else in
    its place is not the documented structure."""
    if value is None or value == "":
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Malformed(f"{what}: not a list of objects")
    return value


def account_state(**figures: Any) -> FuturesState:
    """The account-level figures of a read, refused as Malformed unless every one is finite
    (finite venue numbers can still overflow when combined, e.g. 1e308 - -1e308)."""
    state = FuturesState(positions=[], rows=0, **figures)
    values = [*state.cross_wallet.values(), *state.free.values(), state.margin_in_use]
    values += [x for x in (state.equity, state.maintenance, state.usd_pool) if x is not None]
    ratio_ok = state.margin_ratio is None or state.margin_ratio == math.inf or math.isfinite(state.margin_ratio)
    if not ratio_ok or not all(math.isfinite(x) for x in values):  # a ratio of +inf: equity gone
        raise Malformed("account figures: not finite")
    return state


@dataclass
class FuturesState:
    """What one cycle's futures read tells about the account."""

    positions: list[Position]
    rows: int  # open position rows the venue listed (before the symbols filter)
    cross_wallet: dict[str, float] = field(default_factory=dict)
    free: dict[str, float] = field(default_factory=dict)  # free futures balance per currency
    margin_ratio: float | None = None
    equity: float | None = None
    maintenance: float | None = None
    margin_in_use: float = 0.0  # > 0: the account says positions exist (corroborates an empty list)
    hedge_mode: bool | None = None
    warnings: list[str] = field(default_factory=list)
    # Multi-collateral account (Binance Multi-Assets, Bybit unified cross, OKX multi-currency or
    # portfolio margin): the USD value of the shared cross pool, excluding unrealised PnL. Every
    # stablecoin-margined linear cross position draws on it instead of its settle coin's wallet.
    usd_pool: float | None = None

    def pool_cross_positions(self) -> None:
        """Point stablecoin-margined linear cross positions at the shared USD pool, if any."""
        if self.usd_pool is None:
            return
        self.cross_wallet = {**self.cross_wallet, "USD": self.usd_pool}
        self.positions = [
            replace(p, pool="USD") if p.margin_mode == "cross" and not p.inverse and p.settle in STABLES else p
            for p in self.positions
        ]


@dataclass
class OrderState:
    order_id: str | None
    filled: float  # contracts
    average: float | None
    fee: float | None  # settlement currency, positive = paid
    final: bool  # no more fills will come (filled, cancelled, expired, rejected)
    status: str = ""


class Venue:
    """Generic fallback: unified ccxt calls only (see the module docstring for its limits)."""

    name = "generic"
    supports_ioc = True
    dedicated = False  # True in the venue files (binance.py, bybit.py, okx.py)

    def __init__(self, ex: Any, account: AccountSettings):
        self.ex = ex
        self.settings = account
        self.tiers: dict[str, TierTable] = {}
        self.hedge_mode: bool | None = None

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """ccxt constructor config this venue wants (the account's ``ccxt:`` merges over it)."""
        return {"enableLastJsonResponse": True}  # to tell "no positions" from an unparseable reply

    def prepare(self) -> None:
        """Adjust the ccxt instance after construction."""

    # -- helpers ------------------------------------------------------------------------------

    def market(self, symbol: str) -> dict[str, Any]:
        market: dict[str, Any] = self.ex.market(symbol)
        return market

    def market_by_id(self, market_id: str, market_type: str = "swap") -> dict[str, Any] | None:
        market = self.ex.safe_market(market_id, None, None, market_type)
        if not isinstance(market, dict) or market.get("symbol") in (None, market_id):
            return None
        return market

    def wanted(self, symbol: str) -> bool:
        only = self.settings.symbols
        return only is None or symbol in only

    def margin_hint(self) -> MarginMode:
        return self.settings.margin_mode or "cross"

    @staticmethod
    def contract_size(market: Mapping[str, Any]) -> float:
        return num(market.get("contractSize")) or 1.0

    # -- slow data ----------------------------------------------------------------------------

    def has_tiers(self, symbol: str) -> bool:
        return symbol in self.tiers

    def tiers_for(self, symbol: str, contracts: float) -> TierTable | None:
        return self.tiers.get(symbol)

    async def load_modes(self) -> None:
        """Account configuration that changes rarely (position mode, account margin mode)."""

    async def load_tiers(self, symbols: Iterable[str]) -> None:
        """Maintenance tiers for these symbols (a venue may load all of them at once)."""
        wanted = [s for s in symbols if s not in self.tiers]
        if not wanted or not self.ex.has.get("fetchLeverageTiers"):
            return
        found = await self.ex.fetch_leverage_tiers(wanted)
        for symbol, rows in (found or {}).items():
            if rows:
                self.tiers[symbol] = from_ccxt(rows)

    def auth_suspect(self, error: Exception) -> bool:
        """A rate-limit-family error that may really be a revoked key (see binance.py)."""
        return False

    async def fetch_wallets(self) -> dict[str, dict[str, float]]:
        spot = await self.ex.fetch_balance({"type": "spot"})
        return {"spot": _free(spot)}

    # -- the per-cycle read -------------------------------------------------------------------

    async def fetch_futures(self) -> FuturesState:
        rows = await self.ex.fetch_positions()
        # ccxt answers [] for an HTTP 200 with a truncated or empty body: look at what it parsed
        unparseable = not isinstance(self.ex.last_json_response, dict | list)
        balance = await self.ex.fetch_balance()
        positions: list[Position] = []
        for row in [] if unparseable else rows:
            contracts = num(row.get("contracts"))
            symbol = row.get("symbol")
            if not contracts or not symbol or not self.wanted(symbol):
                continue
            market = self.market(symbol)
            mode: MarginMode = "isolated" if row.get("marginMode") == "isolated" else self.margin_hint()
            if row.get("marginMode") == "cross":
                mode = "cross"
            side: Side = "short" if row.get("side") == "short" else "long"
            positions.append(
                Position(
                    symbol=symbol,
                    side=side,
                    contracts=abs(contracts),
                    entry_price=num0(row.get("entryPrice")),
                    mark_price=num0(row.get("markPrice")),
                    margin_mode=mode,
                    tiers=self.tiers.get(symbol),
                    collateral=None,  # ccxt's unified "collateral" is not the isolated wallet everywhere
                    contract_size=self.contract_size(market),
                    inverse=bool(market.get("inverse")),
                    settle=market.get("settle") or "USDT",
                    leverage=num(row.get("leverage")),
                    position_side=side if row.get("hedged") else "both",
                    liquidation_price_reported=positive(row.get("liquidationPrice")),
                    maintenance_margin_reported=num(row.get("maintenanceMargin")),
                    unrealized_pnl_reported=num(row.get("unrealizedPnl")),
                )
            )
        upnl: dict[str, float] = {}
        for p in positions:
            if p.margin_mode == "cross":
                upnl[p.settle] = upnl.get(p.settle, 0.0) + (p.unrealized_pnl_reported or 0.0)
        totals = balance.get("total") or {}
        used = balance.get("used") or {}
        return FuturesState(
            positions=positions,
            rows=len(rows),
            # unified "total" includes unrealised PnL on most venues: take the cross part out
            cross_wallet={c: num0(v) - upnl.get(c, 0.0) for c, v in totals.items() if num(v)},
            free=_free(balance),
            margin_in_use=0.0 if unparseable else sum(num0(v) for v in used.values()),
            warnings=["positions: unparseable reply: positions unknown"] if unparseable else [],
        )

    # -- money-moving calls -------------------------------------------------------------------

    async def add_margin(self, symbol: str, position_side: PositionSide, amount: float) -> str | None:
        params = {} if position_side == "both" else {"positionSide": position_side.upper()}
        result = await self.ex.add_margin(symbol, amount, params)
        return str((result or {}).get("id") or "") or None

    async def transfer(self, currency: str, amount: float, source: str, client_id: str) -> str | None:
        raise ActionRejected(f"{self.ex.id}: transfers are not enabled (no verified account names for this venue)")

    def order_params(
        self, *, margin_mode: MarginMode, position_side: PositionSide, reduce_only: bool, client_id: str
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"clientOrderId": client_id}
        if position_side != "both":
            params["hedged"] = True
        if reduce_only:
            params["reduceOnly"] = True
        return params

    # -- lookups for reconcile ----------------------------------------------------------------

    async def order_by_client_id(self, symbol: str, client_id: str) -> OrderState | None:
        """None: the venue does not know this client id."""
        orders = await self.ex.fetch_orders(symbol, None, 50)
        for o in orders or []:
            if o.get("clientOrderId") == client_id:
                return order_state(o)
        return None

    async def margin_added(self, symbol: str, position_side: PositionSide, amount: float, since: float) -> bool | None:
        """Did an add-margin of ``amount`` happen since ``since`` (unix s)? None: cannot tell."""
        return None

    async def transfer_done(
        self, currency: str, amount: float, source: str, client_id: str, since: float
    ) -> bool | None:
        return None

    def refused_without_effect(self, error: Exception) -> bool:
        """A network-family error that certainly means "not executed" (e.g. a bare HTTP 429)."""
        return False


def _free(balance: Mapping[str, Any]) -> dict[str, float]:
    free = balance.get("free") or {}
    return {c: num0(v) for c, v in free.items() if num(v)}


def order_state(o: Mapping[str, Any]) -> OrderState:
    """From a unified ccxt order."""
    status = str(o.get("status") or "")
    fee = o.get("fee") or {}
    return OrderState(
        order_id=str(o.get("id")) if o.get("id") is not None else None,
        filled=num0(o.get("filled")),
        average=num(o.get("average")),
        fee=abs(num0(fee.get("cost"))) if isinstance(fee, dict) and num(fee.get("cost")) is not None else None,
        final=status in ("closed", "canceled", "expired", "rejected"),
        status=status,
    )


def side_of(position_side: PositionSide, signed_size: float) -> Side:
    if position_side == "long":
        return "long"
    if position_side == "short":
        return "short"
    return "short" if signed_size < 0 else "long"
