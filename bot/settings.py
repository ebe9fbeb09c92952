"""Configuration: one YAML file (or the embedded default), overridden by ``MARGINGUARD__*``
environment variables with ``__`` for nesting (``MARGINGUARD__TELEGRAM__TOKEN``).

Any string value written as ``${NAME}`` is read from the environment variable NAME at load
time, so API keys can live in the environment or a Docker secret instead of the YAML file.

Per-account ``escalation`` and ``guard`` blocks are merged over the global ones key by key;
a per-account ``rules`` list replaces the global list. Secrets are ``SecretStr`` and never
printed, not even in validation errors (``hide_input_in_errors``).
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.risk.escalation import RiskTier

ENV_PREFIX = "MARGINGUARD__"
DEFAULT_CONFIG = Path(__file__).with_name("default_config.yaml")
TierName = Literal["ok", "watch", "warning", "danger", "critical"]
WalletName = Literal["futures", "spot", "funding"]


def _tier_floats(values: dict[TierName, float]) -> dict[TierName, float]:
    return values


_SECRET_KEYS = {"api_key", "secret", "password", "token", "uid", "private_key", "wallet_address"}


class ConfigError(Exception):
    """A configuration problem, already phrased for the trader: key, what is wrong, the fix."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, validate_default=True)


class TierValues(_Model):
    """A threshold per escalation tier; a tier left out is not entered by this signal."""

    watch: float | None = None
    warning: float | None = None
    danger: float | None = None
    critical: float | None = None

    def as_map(self) -> dict[RiskTier, float]:
        return {RiskTier.parse(k): v for k, v in self.model_dump().items() if v is not None}


class DatabaseSettings(_Model):
    path: Path = Field(Path("marginguard.db"), description="SQLite file; its folder must be writable")
    sample_every_s: float = Field(60.0, ge=0, description="seconds between journalled risk samples per position")
    busy_timeout_ms: int = Field(3000, ge=0, le=60000, description="how long a write waits for a locked journal")


class PollSettings(_Model):
    interval_s: float = Field(10.0, ge=1, le=3600, description="seconds between snapshots of each account")
    misfire_grace_s: float = Field(30.0, ge=1, description="a poll that starts this late still runs (once)")
    max_snapshot_age_s: float = Field(60.0, ge=1, description="older data is alerted on, never acted on")
    markets_refresh_s: float = Field(3600.0, ge=60, description="seconds between market/tier reloads")
    request_timeout_s: float = Field(10.0, gt=0, le=120, description="per-request exchange timeout")


class VolatilitySettings(_Model):
    horizon_s: float = Field(3600.0, gt=0, description="horizon of distance_sigma and touch probability")
    default_annual: float = Field(0.8, gt=0, le=10, description="annualised volatility until enough samples exist")
    min_annual: float = Field(0.3, ge=0, le=10, description="realised volatility is never taken below this")
    window_s: float = Field(86400.0, gt=0, description="how much mark history the realised estimate uses")


class EscalationSettings(_Model):
    distance_pct: TierValues = Field(
        default_factory=lambda: TierValues(watch=15, warning=10, danger=6, critical=3),
        description="tier entered at or below this distance to liquidation, in percent of mark",
    )
    sigma: TierValues = Field(
        default_factory=lambda: TierValues(watch=15, warning=12, danger=3, critical=2),
        description="tier entered at or below this many sigmas over volatility.horizon_s",
    )
    margin_ratio: TierValues = Field(
        default_factory=lambda: TierValues(watch=0.3, warning=0.5, danger=0.7, critical=0.85),
        description="tier entered at or above this maintenance/equity ratio (1.0 = liquidation)",
    )
    hysteresis_pct: float = Field(1.0, ge=0, description="percentage points a distance must recover to leave a tier")
    hysteresis_sigma: float = Field(0.25, ge=0)
    hysteresis_margin_ratio: float = Field(0.05, ge=0)
    realert_every_s: dict[TierName, float] = Field(
        default_factory=lambda: _tier_floats({"watch": 0, "warning": 3600, "danger": 900, "critical": 300}),
        description="re-send the alert while a position stays in a tier (0 = never)",
    )
    loud_from: TierName = Field("danger", description="alerts at or above this tier notify with sound")
    unknown_tier: TierName = Field("warning", description="tier used when a position cannot be assessed")
    disagreement_tolerance_pct: float = Field(0.5, ge=0, description="flag reported vs recomputed liquidation gaps")
    max_mark_jump_pct: float = Field(20.0, gt=0, description="a bigger mark jump between polls is not acted on")

    @model_validator(mode="after")
    def _ordered(self) -> EscalationSettings:
        for name, values, decreasing in (
            ("distance_pct", self.distance_pct, True),
            ("sigma", self.sigma, True),
            ("margin_ratio", self.margin_ratio, False),
        ):
            seq = [v for v in (values.watch, values.warning, values.danger, values.critical) if v is not None]
            ok = all(a > b for a, b in pairwise(seq)) if decreasing else all(a < b for a, b in pairwise(seq))
            if not ok:
                order = "decrease" if decreasing else "increase"
                raise ValueError(f"{name}: thresholds must strictly {order} from watch to critical")
        return self


StrategyName = Literal["alert", "top_up", "deleverage", "hedge"]


class RuleSettings(_Model):
    name: str = Field("", description="label used in the journal and alerts (defaults to strategy@tier)")
    strategy: StrategyName = Field(description="alert | top_up | deleverage | hedge")
    at: TierName = Field("danger", description="fires while a position is at this tier or worse")
    enabled: bool = True
    target_distance_pct: float | None = Field(
        None, gt=0, lt=100, description="top_up/deleverage: distance to liquidation to restore, percent of mark"
    )
    target_distance_sigma: float | None = Field(
        None,
        gt=0,
        le=50,
        description="top_up/deleverage: restore at least this many sigmas of the mark's realised volatility "
        "over volatility.horizon_s when that is further than target_distance_pct",
    )
    target_distance_max_pct: float = Field(
        30.0, gt=0, lt=100, description="top_up/deleverage: a target_distance_sigma target never goes beyond this"
    )
    source: list[WalletName] = Field(
        default_factory=lambda: list[WalletName](["futures", "spot"]),
        description="top_up: wallets to draw collateral from, in order (futures = free futures balance; "
        "spot/funding = transfer into futures first)",
    )
    target_net_exposure_pct: float | None = Field(
        None, ge=0, lt=100, description="hedge: percent of the position's exposure left unhedged"
    )
    unwind_at: TierName | None = Field(None, description="hedge: close the hedge leg once back at this tier or better")
    confirm: bool = Field(False, description="live mode: ask on Telegram (inline button) before acting")

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _complete(self) -> RuleSettings:
        if not self.name:
            self.name = f"{self.strategy}@{self.at}"
        if self.strategy in ("top_up", "deleverage") and self.target_distance_pct is None:
            raise ValueError(f"{self.strategy} needs target_distance_pct (e.g. 12)")
        if (
            self.target_distance_sigma is not None
            and self.target_distance_pct is not None
            and self.target_distance_max_pct < self.target_distance_pct
        ):
            raise ValueError("target_distance_max_pct must not be below target_distance_pct")
        if self.strategy == "hedge":
            if self.target_net_exposure_pct is None:
                raise ValueError("hedge needs target_net_exposure_pct (e.g. 50)")
            if self.unwind_at is None:
                self.unwind_at = "ok"
            if RiskTier.parse(self.unwind_at) >= RiskTier.parse(self.at):
                raise ValueError("hedge unwind_at must be a calmer tier than 'at'")
        return self


def _default_rules() -> list[RuleSettings]:
    # Deleverage early (warning -> 15 %, or 15 sigmas of realised volatility up to 30 % when the
    # market is that wild), top up as the fallback (danger -> 15 %): replayed through real crashes
    # at 1h this survives more episodes than top-up-first, adds no collateral, and loses the least
    # against holding (docs/stress.md).
    return [
        RuleSettings(
            name="deleverage", strategy="deleverage", at="warning", target_distance_pct=15, target_distance_sigma=15
        ),
        RuleSettings(name="top-up", strategy="top_up", at="danger", target_distance_pct=15),
    ]


class GuardSettings(_Model):
    max_action_quote: float = Field(
        1000.0, gt=0, description="cap per action, settlement currency (top-up or order notional)"
    )
    max_daily_quote_per_account: float = Field(3000.0, gt=0, description="cap per account per UTC day")
    max_daily_quote_global: float = Field(5000.0, gt=0, description="cap over all accounts per UTC day")
    min_action_quote: float = Field(5.0, ge=0, description="smaller actions are skipped (dust)")
    max_reduce_pct_per_action: float = Field(
        50.0, gt=0, le=100, description="reduce at most this share of a position at once"
    )
    cooldown_s: float = Field(300.0, ge=0, description="minimum seconds between actions on the same position")
    max_consecutive_failures: int = Field(3, ge=1, description="failed actions in a row before the breaker opens")
    max_slippage_pct: float = Field(1.0, gt=0, le=20, description="reduce orders: worst price vs mark")
    kill_switch_file: Path | None = Field(
        Path("marginguard.pause"), description="if this file exists, no action is taken (alerts continue)"
    )


class TelegramSettings(_Model):
    token: SecretStr | None = Field(None, description="bot token from @BotFather; unset = console notifier")
    base_url: str = Field("https://api.telegram.org/bot", description="Bot API base (local Bot API server, tests)")
    chat_ids: list[int] = Field(default_factory=list, description="chats that receive alerts and may send commands")
    user_ids: list[int] = Field(default_factory=list, description="users allowed to command the bot")
    command_max_age_s: float = Field(120.0, gt=0, description="older commands are ignored (queued while offline)")
    confirm_ttl_s: float = Field(120.0, gt=0, description="confirmation buttons expire after this")
    preauthorized: list[Literal["topup", "reduce", "hedge"]] = Field(
        default_factory=list, description="manual commands that act without a confirmation button"
    )
    allow_live_switch: bool = Field(False, description="may /mode switch paper -> live (always with confirmation)")
    poll_timeout_s: float = Field(20.0, gt=0, le=60)

    @model_validator(mode="after")
    def _has_recipients(self) -> TelegramSettings:
        if self.token is not None and not self.chat_ids:
            raise ValueError("a token is set but chat_ids is empty: add the chat id that should get alerts")
        return self


class HealthSettings(_Model):
    heartbeat_file: Path | None = Field(Path("marginguard.heartbeat"), description="touched after each good cycle")
    max_cycle_age_s: float = Field(120.0, gt=0, description="dead-man alert / unhealthy after this without progress")
    ping_url: str | None = Field(None, description="optional URL (healthchecks.io style) GET after good cycles")


class PaperPosition(_Model):
    symbol: str = Field(description="unified symbol, e.g. BTC/USDT:USDT")
    side: Literal["long", "short"]
    contracts: float = Field(gt=0)
    entry_price: float = Field(gt=0)
    margin_mode: Literal["isolated", "cross"] = "isolated"
    leverage: float | None = Field(None, gt=0, le=200, description="isolated: collateral = notional / leverage")
    collateral: float | None = Field(None, gt=0, description="isolated: the position's margin (overrides leverage)")
    contract_size: float = Field(1.0, gt=0)
    inverse: bool = False
    position_side: Literal["both", "long", "short"] = "both"

    @model_validator(mode="after")
    def _margin(self) -> PaperPosition:
        if self.margin_mode == "isolated" and self.leverage is None and self.collateral is None:
            raise ValueError("an isolated paper position needs leverage or collateral")
        return self


class PricePath(_Model):
    kind: Literal["flat", "scripted", "random_walk"] = "random_walk"
    # scripted: one multiplier of the starting mark per step, per symbol ("*" for all symbols)
    steps: dict[str, list[float]] = Field(default_factory=dict)
    start: dict[str, float] = Field(default_factory=dict, description="starting mark per symbol (default: entry)")
    volatility_annual: float = Field(0.6, ge=0, le=10)
    step_s: float = Field(10.0, gt=0, description="simulated seconds per step (random walk scaling)")
    seed: int | None = 7


class PaperSettings(_Model):
    wallet: dict[WalletName, dict[str, float]] = Field(
        default_factory=lambda: dict[WalletName, dict[str, float]](
            {"futures": {"USDT": 2000.0}, "spot": {"USDT": 5000.0}}
        )
    )
    positions: list[PaperPosition] = Field(default_factory=list)
    price_path: PricePath = Field(default_factory=PricePath)
    tiers: str | dict[str, list[tuple[float, float, float, float]]] = Field(
        "binance-usdm-2024-02", description="bundled table name, or symbol -> [[min, max, rate, amount], ...]"
    )
    taker_fee: float = Field(0.0004, ge=0, le=0.01)


class Credentials(_Model):
    api_key: SecretStr | None = None
    secret: SecretStr | None = None
    password: SecretStr | None = Field(None, description="OKX passphrase")

    def complete(self) -> bool:
        return bool(self.api_key and self.secret and self.api_key.get_secret_value() and self.secret.get_secret_value())


class AccountSettings(_Model):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    exchange: str = Field(description="ccxt id (binanceusdm, bybit, okx, ...) or 'paper'")
    enabled: bool = True
    margin_mode: Literal["isolated", "cross"] | None = Field(None, description="hint when the venue does not say")
    hedge_mode: bool = Field(False, description="the account trades in hedge (dual-side) position mode")
    credentials: Credentials = Field(default_factory=Credentials)
    ccxt: dict[str, Any] = Field(
        default_factory=dict, description="passed to the ccxt constructor (urls, options, proxy)"
    )
    symbols: list[str] | None = Field(None, description="only guard these symbols (default: every open position)")
    hedge_account: str | None = Field(None, description="name of the account that takes hedge legs")
    rules: list[RuleSettings] | None = None
    escalation: EscalationSettings | None = None
    guard: GuardSettings | None = None
    paper: PaperSettings | None = None

    @field_validator("exchange")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.strip().lower()

    @property
    def is_paper_exchange(self) -> bool:
        return self.exchange == "paper"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        hide_input_in_errors=True,
        validate_default=True,
    )
    _yaml_data: ClassVar[dict[str, Any]] = {}

    mode: Literal["paper", "live"] = Field(
        "paper", description="paper (default) simulates every action; live sends them"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    poll: PollSettings = Field(default_factory=PollSettings)
    volatility: VolatilitySettings = Field(default_factory=VolatilitySettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    rules: list[RuleSettings] = Field(default_factory=_default_rules)
    guard: GuardSettings = Field(default_factory=GuardSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    accounts: list[AccountSettings] = Field(min_length=1, description="at least one account to guard")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init kwargs carry the YAML (already merged), and the environment overrides it.
        return (env_settings, init_settings)

    @model_validator(mode="before")
    @classmethod
    def _merge_account_overrides(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        accounts = data.get("accounts")
        if not isinstance(accounts, list):
            return data
        merged = []
        for acc in accounts:
            if isinstance(acc, dict):
                acc = dict(acc)
                for block in ("escalation", "guard"):
                    if isinstance(acc.get(block), dict):
                        base = data.get(block)
                        base = base.model_dump() if isinstance(base, BaseModel) else dict(base or {})
                        acc[block] = _deep_merge(base, acc[block])
            merged.append(acc)
        return {**data, "accounts": merged}

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        names = [a.name for a in self.accounts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"account names must be unique: {', '.join(dupes)}")
        for a in self.accounts:
            if a.hedge_account is not None and a.hedge_account not in names:
                raise ValueError(f"account {a.name!r}: hedge_account {a.hedge_account!r} is not a configured account")
        return self

    def account(self, name: str) -> AccountSettings:
        for a in self.accounts:
            if a.name == name:
                return a
        raise KeyError(name)

    def rules_for(self, account: AccountSettings) -> list[RuleSettings]:
        return account.rules if account.rules is not None else self.rules

    def escalation_for(self, account: AccountSettings) -> EscalationSettings:
        return account.escalation or self.escalation

    def guard_for(self, account: AccountSettings) -> GuardSettings:
        return account.guard or self.guard


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def _interpolate(node: Any, path: str, problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else str(k), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, f"{path}.{i}", problems) for i, v in enumerate(node)]
    if isinstance(node, str):
        m = _ENV_REF.match(node.strip())
        if m:
            value = os.environ.get(m.group(1))
            if value is None:
                problems.append(f"{path}: environment variable {m.group(1)} is not set. Fix: export {m.group(1)}=...")
                return None
            return value
    return node


# A bare ${NAME} is not valid YAML inside {...} or [...]; quote such references before parsing
# so that `credentials: {api_key: ${KEY}}` works as people write it.
_BARE_ENV_REF = re.compile(r"(^|[:\[,{]\s*|-\s+)(\$\{[A-Za-z_][A-Za-z0-9_]*\})(?=\s*(?:[,\]}#]|$))", re.MULTILINE)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = _BARE_ENV_REF.sub(lambda m: f'{m.group(1)}"{m.group(2)}"', path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"config file {path} does not exist. Fix: pass --config with an existing file"]) from None
    except OSError as e:
        raise ConfigError([f"config file {path} cannot be read ({e.strerror}). Fix: check its permissions"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError([f"{path}: {problem}{where}. Fix: correct the YAML syntax there"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of keys (mode, accounts, ...)"])
    return data


def config_warnings(path: Path | None, settings: Settings) -> list[str]:
    """Non-fatal findings worth telling the trader (e.g. a world-readable file with secrets)."""
    warnings: list[str] = []
    if path is not None and path.exists():
        has_secrets = any(a.credentials.complete() for a in settings.accounts) or settings.telegram.token is not None
        raw = path.read_text(encoding="utf-8", errors="replace")
        literal_secret = re.search(
            r"(?:^|[{,\s])(api_key|secret|password|token)\s*:\s*(?![\"']?\$\{)(?!null\b)[^\s#,}]", raw, re.MULTILINE
        )
        mode = path.stat().st_mode
        if has_secrets and literal_secret and mode & (stat.S_IROTH | stat.S_IRGRP):
            warnings.append(
                f"{path} holds secrets and is readable by other users (mode {oct(mode & 0o777)}). "
                f"Fix: chmod 600 {path}, or use ${{ENV_VAR}} references"
            )
    if settings.mode == "live" and all(a.is_paper_exchange for a in settings.accounts):
        warnings.append("mode is live but every account is on the paper exchange: nothing real will move")
    return warnings


def _describe(err: Mapping[str, Any], model: type[BaseModel]) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc) or "(top level)"
    msg = err["msg"]
    fix = _hint(err, loc, model)
    return f"{key}: {msg}. Fix: {fix}" if fix else f"{key}: {msg}"


def _field_at(model: type[BaseModel], loc: list[str]) -> tuple[type[BaseModel] | None, str | None]:
    """Walk the model tree along loc; return (model owning the last key, last key)."""
    current: Any = model
    owner: type[BaseModel] | None = None
    last: str | None = None
    for part in loc:
        if part.isdigit():
            continue  # a list index: the element has the same model
        if isinstance(current, type) and issubclass(current, BaseModel):
            if part not in current.model_fields:
                return current, part
            owner, last = current, part
            current = _inner_model(current.model_fields[part].annotation)
        else:
            return owner, part
    return owner, last


def _inner_model(annotation: Any) -> Any:
    import typing

    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for a in args:
        found = _inner_model(a)
        if found is not None:
            return found
    return None


def _hint(err: Mapping[str, Any], loc: list[str], model: type[BaseModel]) -> str:
    owner, key = _field_at(model, loc)
    if err["type"] == "extra_forbidden" and owner is not None and key is not None:
        close = difflib.get_close_matches(key, list(owner.model_fields), n=1)
        known = ", ".join(owner.model_fields)
        return f"did you mean {close[0]!r}?" if close else f"remove it; known keys here: {known}"
    if err["type"] == "missing":
        return "add this key (see config/example.yaml)"
    if owner is not None and key in owner.model_fields:
        desc = owner.model_fields[key].description
        if err["type"] == "literal_error":
            return f"use one of the values listed ({desc})" if desc else "use one of the values listed"
        if desc:
            return desc
    return "see config/example.yaml for an annotated example"


def load_settings(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate. Raises ConfigError listing every problem; touches nothing else."""
    source = path if path is not None else DEFAULT_CONFIG
    problems: list[str] = []
    data = _interpolate(read_yaml(source), "", problems)
    if problems:
        raise ConfigError(problems)
    env_backup = None
    if environ is not None:
        env_backup = dict(os.environ)
        os.environ.clear()
        os.environ.update(environ)
    try:
        settings = Settings(**data)
    except ValidationError as e:
        raise ConfigError([_describe(err, Settings) for err in e.errors()]) from None
    finally:
        if env_backup is not None:
            os.environ.clear()
            os.environ.update(env_backup)
    problems.extend(_semantic_problems(settings))
    if problems:
        raise ConfigError(problems)
    return settings


def _semantic_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    real = [a for a in settings.accounts if not a.is_paper_exchange]
    if real:
        import ccxt  # slow import: only when a real exchange is configured

        for i, a in enumerate(settings.accounts):
            if a.is_paper_exchange:
                if a.paper is None or not a.paper.positions:
                    problems.append(
                        f"accounts.{i}.paper: a paper account needs paper.positions. Fix: add at least one position"
                    )
                continue
            if a.exchange not in ccxt.exchanges:
                close = difflib.get_close_matches(a.exchange, ccxt.exchanges, n=3)
                hint = f"did you mean {', '.join(close)}?" if close else "use a ccxt exchange id or 'paper'"
                problems.append(f"accounts.{i}.exchange: unknown exchange {a.exchange!r}. Fix: {hint}")
            if not a.credentials.complete():
                problems.append(
                    f"accounts.{i}.credentials: {a.exchange} needs api_key and secret to read positions "
                    f"(even in paper mode). Fix: set them, e.g. api_key: ${{BINANCE_KEY}}"
                )
            if a.exchange.startswith("okx") and a.credentials.complete() and a.credentials.password is None:
                problems.append(f"accounts.{i}.credentials.password: OKX needs the API passphrase. Fix: set password")
    else:
        for i, a in enumerate(settings.accounts):
            if a.paper is None or not a.paper.positions:
                problems.append(
                    f"accounts.{i}.paper: a paper account needs paper.positions. Fix: add at least one position"
                )
    return problems


def redacted_dump(settings: Settings) -> dict[str, Any]:
    """The effective configuration with every secret replaced, for `config check --show`."""
    data = settings.model_dump(mode="json")

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: ("********" if k in _SECRET_KEYS and v not in (None, "") else scrub(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        return node

    scrubbed: dict[str, Any] = scrub(data)
    return scrubbed
