"""Journal tables (sqlmodel on SQLite). Schema changes go through Alembic (bot/migrations).

Money columns are REAL: the values are float64 in memory (see bot.domain), and SQLite stores
float64 exactly, so nothing is lost on the way in or out.

sqlmodel table models do not validate their input; every row is built by ``bot.store`` from
already-validated domain objects.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class RiskSample(SQLModel, table=True):
    __tablename__ = "risk_sample"
    id: int | None = Field(default=None, primary_key=True)
    ts: float = Field(index=True)
    account: str = Field(index=True)
    symbol: str
    side: str
    position_side: str = "both"
    contracts: float
    mark_price: float
    liquidation_price: float | None = None
    liquidation_price_reported: float | None = None
    liquidation_price_recomputed: float | None = None
    distance_pct: float | None = None
    distance_sigma: float | None = None
    margin_ratio: float | None = None
    tier: str


class Alert(SQLModel, table=True):
    __tablename__ = "alert"
    id: int | None = Field(default=None, primary_key=True)
    ts: float = Field(index=True)
    account: str | None = Field(default=None, index=True)
    symbol: str | None = None
    position_key: str | None = None
    # escalation | deescalation | realert | gone | action | failure | notice | system
    kind: str
    tier: str | None = None
    previous_tier: str | None = None
    text: str  # plain text; the notifier formats it
    loud: bool = False
    delivered_at: float | None = None
    attempts: int = 0


class ActionRow(SQLModel, table=True):
    __tablename__ = "action"
    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(unique=True, index=True)  # our idempotency key, sent to the venue
    created_at: float = Field(index=True)
    updated_at: float
    account: str = Field(index=True)
    symbol: str
    side: str
    position_side: str = "both"
    position_key: str = Field(index=True)
    kind: str
    amount: float
    quote_value: float
    currency: str | None = None
    source: str | None = None
    margin_mode: str = "isolated"
    retain_margin: bool = False
    collateral_before: float | None = None
    hedge_account: str | None = None
    rule: str
    origin: str = "rule"
    requested_by: int | None = None
    reason: str
    tier: str
    mode: str  # paper | live
    # intent -> done | failed | unknown ; unknown -> done | failed (reconciled)
    status: str = Field(index=True)
    distance_before: float | None = None
    target_distance_pct: float | None = None
    expected_distance_after: float | None = None
    distance_after: float | None = None
    mark_price: float = 0.0
    contract_size: float = 1.0
    inverse: bool = False
    exchange_ref: str | None = None
    filled: float | None = None
    error: str | None = None
    error_kind: str | None = None
    details: str | None = None  # JSON


class CommandRow(SQLModel, table=True):
    __tablename__ = "command"
    id: int | None = Field(default=None, primary_key=True)
    ts: float = Field(index=True)
    chat_id: int | None = None
    user_id: int | None = None
    username: str | None = None
    text: str
    accepted: bool
    outcome: str = ""


class Confirmation(SQLModel, table=True):
    __tablename__ = "confirmation"
    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(unique=True, index=True)
    created_at: float
    expires_at: float
    user_id: int | None = None  # who asked; only they may confirm (None: any allowed user)
    chat_id: int | None = None
    message_id: int | None = None
    kind: str  # action | mode
    payload: str  # JSON of the pending action / mode change
    state: str = "pending"  # pending | confirmed | cancelled | expired
    decided_at: float | None = None
    decided_by: int | None = None


class PositionState(SQLModel, table=True):
    """Last tier per position, so hysteresis and re-alert cadence survive restarts."""

    __tablename__ = "position_state"
    account: str = Field(primary_key=True)
    position_key: str = Field(primary_key=True)
    tier: str
    since: float
    last_alert_at: float
    acked_tier: str | None = None
    updated_at: float


class KeyValue(SQLModel, table=True):
    __tablename__ = "kv"
    key: str = Field(primary_key=True)
    value: str
    updated_at: float
