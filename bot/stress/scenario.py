"""What a replay stresses: one position and its wallets, and the settings the engine runs with.

The rules, guard caps, escalation thresholds and volatility settings are the trader's own
(from the configuration, for the chosen account). The replay changes only what belongs to
the daemon's plumbing, not to its decisions:

* ``mode: paper`` and one paper account holding the scenario's position (tiers from the
  bundled Binance table), with the journal in a temporary SQLite file;
* the kill-switch file, heartbeat file and Telegram are off (a ``marginguard.pause`` in the
  current directory must not pause a replay);
* re-alert cadences are off and risk samples are journalled only on tier changes (the
  replay keeps its own per-bar trace; both only write messages, they decide nothing);
* the mark-jump filter (``escalation.max_mark_jump_pct``) is off: it rejects venue data that
  moved more between two 10-second polls than a mark can, while replay polls are a whole
  bar apart on validated data (a 1h mark bar moved 21 % on Black Thursday).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.domain import MarginMode, Side
from bot.settings import (
    AccountSettings,
    DatabaseSettings,
    HealthSettings,
    PaperPosition,
    PaperSettings,
    PricePath,
    Settings,
    TelegramSettings,
)
from bot.stress.prices import Series

TIER_TABLE = "binance-usdm-2024-02"
ACCOUNT = "stress"
NO_JUMP_FILTER_PCT = 1e9


@dataclass(frozen=True)
class Scenario:
    symbol: str
    side: Side = "long"
    leverage: float = 10.0
    notional: float | None = 10_000.0  # settlement currency at entry; or give contracts
    contracts: float | None = None
    entry: float | None = None  # None: the first bar's open
    margin_mode: MarginMode = "isolated"
    wallet: float = 5_000.0  # futures wallet: free balance beside an isolated position, the pool of a cross one
    spot: float = 0.0
    funding: float = 0.0
    currency: str = "USDT"
    delay_bars: int = 1
    hedge_mode: bool = False
    taker_fee: float = 0.0004
    stop_buffer: float = 0.05
    auto_add_trigger: float = 1.0  # margin ratio at which auto-add-margin replenishes

    def __post_init__(self) -> None:
        if self.notional is None and self.contracts is None:
            raise ValueError("a scenario needs a notional or a number of contracts")
        if not self.leverage > 0:
            raise ValueError("leverage must be positive")
        if self.delay_bars < 0:
            raise ValueError("delay_bars must be 0 or more")
        if min(self.wallet, self.spot, self.funding) < 0:
            raise ValueError("wallet balances cannot be negative")

    def entry_price(self, series: Series) -> float:
        return self.entry if self.entry is not None else series.open[0]

    def size(self, series: Series) -> float:
        """Contracts (base units) held."""
        if self.contracts is not None:
            return self.contracts
        assert self.notional is not None
        return self.notional / self.entry_price(series)

    def as_json(self, series: Series) -> dict[str, Any]:
        data = asdict(self)
        entry = self.entry_price(series)
        data.update(entry=entry, contracts=self.size(series), notional=self.size(series) * entry)
        return data


def source_account(settings: Settings, name: str | None = None) -> AccountSettings | None:
    """The configured account whose rules are stressed: ``name``, else the first enabled one."""
    if name is not None:
        return settings.account(name)
    return next((a for a in settings.accounts if a.enabled), settings.accounts[0] if settings.accounts else None)


def config_position(account: AccountSettings | None, asset: str) -> PaperPosition | None:
    """The paper position of ``account`` in ``asset`` (by base coin), else its first one."""
    if account is None or account.paper is None or not account.paper.positions:
        return None
    base = asset.upper()
    for p in account.paper.positions:
        if p.symbol.split("/")[0].upper() == base:
            return p
    return account.paper.positions[0]


def replay_settings(base: Settings, source: AccountSettings | None, scenario: Scenario, series: Series,
                    journal: Path, *, with_rules: bool = True) -> Settings:
    """Settings for one replay: the trader's rules and caps on one paper account (see module doc)."""
    rules = (base.rules_for(source) if source is not None else base.rules) if with_rules else []
    guard = (base.guard_for(source) if source is not None else base.guard).model_copy(update={"kill_switch_file": None})
    esc = base.escalation_for(source) if source is not None else base.escalation
    esc = esc.model_copy(update={
        "max_mark_jump_pct": NO_JUMP_FILTER_PCT,
        "realert_every_s": {tier: 0.0 for tier in ("watch", "warning", "danger", "critical")},
    })
    ccy = scenario.currency
    position = PaperPosition(
        symbol=scenario.symbol, side=scenario.side, contracts=scenario.size(series),
        entry_price=scenario.entry_price(series), margin_mode=scenario.margin_mode, leverage=scenario.leverage,
        position_side=scenario.side if scenario.hedge_mode else "both",
    )
    paper = PaperSettings(
        wallet={"futures": {ccy: scenario.wallet}, "spot": {ccy: scenario.spot}, "funding": {ccy: scenario.funding}},
        positions=[position],
        price_path=PricePath(kind="flat", start={scenario.symbol: series.open[0]}, step_s=series.interval_s),
        tiers=TIER_TABLE,
        taker_fee=scenario.taker_fee,
    )
    account = AccountSettings(
        name=ACCOUNT, exchange="paper", hedge_mode=scenario.hedge_mode, rules=rules, guard=guard, escalation=esc,
        paper=paper,
    )
    return base.model_copy(update={
        "mode": "paper",
        "accounts": [account],
        "rules": rules,
        "guard": guard,
        "escalation": esc,
        "database": DatabaseSettings(path=journal, sample_every_s=1e12),
        "health": HealthSettings(heartbeat_file=None),
        "telegram": TelegramSettings(),
    })
