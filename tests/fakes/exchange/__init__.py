"""Loopback fake exchange (Binance USDⓈ-M, Bybit v5, OKX v5) for driving real ccxt clients.

See :mod:`tests.fakes.exchange.server` for usage and the recommended ccxt config.
"""

from .faults import FAULT_KINDS, Fault, FaultInjector, RecordedRequest, RequestLog
from .market import (
    Account,
    Action,
    FakeMarket,
    Instrument,
    Liquidation,
    MarketError,
    Order,
    Position,
    Reason,
    Transfer,
)
from .server import FakeExchangeServer
from .tiers import Tier, TierTable

__all__ = [
    "FAULT_KINDS",
    "Account",
    "Action",
    "FakeExchangeServer",
    "FakeMarket",
    "Fault",
    "FaultInjector",
    "Instrument",
    "Liquidation",
    "MarketError",
    "Order",
    "Position",
    "Reason",
    "RecordedRequest",
    "RequestLog",
    "Tier",
    "TierTable",
    "Transfer",
]
