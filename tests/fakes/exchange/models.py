"""Data model of the fake exchange account: instruments, positions, orders, fills, transfers,
margin changes, liquidations, the action log and the error reasons venues translate."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal

Side = Literal["long", "short"]
PositionSide = Literal["both", "long", "short"]
MarginMode = Literal["cross", "isolated"]
Account = Literal["futures", "spot", "funding"]
ACCOUNTS: tuple[Account, ...] = ("futures", "spot", "funding")
EPS = 1e-9


class Reason(enum.Enum):
    INSUFFICIENT_MARGIN = "insufficient_margin"  # order / add margin beyond available
    INSUFFICIENT_BALANCE = "insufficient_balance"  # transfer beyond balance
    INSUFFICIENT_ISOLATED = "insufficient_isolated"  # reduce margin beyond removable
    REDUCE_ONLY_REJECTED = "reduce_only_rejected"
    POSITION_SIDE_MISMATCH = "position_side_mismatch"
    NO_POSITION = "no_position"
    NOT_ISOLATED = "not_isolated"
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    ORDER_NOT_FOUND = "order_not_found"
    UNKNOWN_SYMBOL = "unknown_symbol"
    BAD_QUANTITY = "bad_quantity"
    MODE_CHANGE_REJECTED = "mode_change_rejected"
    NO_CHANGE = "no_change"


class MarketError(Exception):
    def __init__(self, reason: Reason, message: str = "") -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


@dataclass
class Instrument:
    symbol: str  # "BTC/USDT:USDT"
    base: str
    quote: str
    settle: str
    contract_size: float = 1.0
    tick_size: float = 0.1
    lot_size: float = 0.001
    min_qty: float = 0.001
    max_leverage: float = 125.0


@dataclass
class Position:
    symbol: str
    side: Side
    contracts: float
    entry_price: float
    margin_mode: MarginMode = "cross"
    leverage: float = 10.0
    position_side: PositionSide = "both"
    isolated_margin: float = 0.0  # the isolated wallet of the position
    realized_pnl: float = 0.0
    created_ms: int = 0
    updated_ms: int = 0
    position_id: int = 0

    @property
    def key(self) -> tuple[str, PositionSide]:
        return (self.symbol, self.position_side)


@dataclass
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    order_type: Literal["market", "limit"]
    contracts: float
    price: float | None
    reduce_only: bool
    position_side: PositionSide
    time_in_force: str
    status: Literal["new", "filled", "canceled", "rejected"] = "new"
    filled: float = 0.0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    fee: float = 0.0
    created_ms: int = 0
    updated_ms: int = 0
    margin_mode: MarginMode = "cross"
    leverage: float = 10.0


@dataclass
class Fill:
    trade_id: int
    order_id: int
    symbol: str
    side: Literal["buy", "sell"]
    contracts: float
    price: float
    fee: float
    realized_pnl: float
    maker: bool
    position_side: PositionSide
    time_ms: int


@dataclass
class Transfer:
    transfer_id: int
    currency: str
    amount: float
    from_account: Account
    to_account: Account
    time_ms: int
    venue_type: str = ""  # e.g. MAIN_UMFUTURE / FUND->UNIFIED / 6->18
    client_id: str = ""


@dataclass
class MarginChange:
    change_id: int
    symbol: str
    position_side: PositionSide
    amount: float
    kind: Literal["add", "reduce"]
    time_ms: int


@dataclass
class Liquidation:
    symbol: str
    side: Side
    contracts: float
    entry_price: float
    liquidation_price: float | None
    mark_price: float
    margin_mode: MarginMode
    loss: float
    time_ms: int


@dataclass
class Action:
    """Log entry of a money-moving call (applied or rejected)."""

    kind: Literal["order", "margin", "transfer", "liquidation", "mode"]
    params: dict[str, Any]
    applied: bool
    result: Any = None
    error: str | None = None
    time_ms: int = 0


@dataclass
class AccountState:
    cross_wallet: float
    isolated_wallet: float
    wallet_balance: float
    unrealized_pnl: float
    cross_unrealized_pnl: float
    margin_balance: float
    maint_margin: float
    position_initial_margin: float
    cross_initial_margin: float
    order_initial_margin: float
    available: float


def default_instruments(venue: str | None) -> list[Instrument]:
    okx = venue == "okx"
    return [
        Instrument(
            "BTC/USDT:USDT",
            "BTC",
            "USDT",
            "USDT",
            0.01 if okx else 1.0,
            0.1,
            0.01 if okx else 0.001,
            0.01 if okx else 0.001,
            100.0 if okx else 125.0,
        ),
        Instrument(
            "ETH/USDT:USDT",
            "ETH",
            "USDT",
            "USDT",
            0.1 if okx else 1.0,
            0.01,
            0.01 if okx else 0.001,
            0.01 if okx else 0.001,
            100.0 if okx else 125.0,
        ),
    ]
