"""The live exchange adapter: one ccxt.async_support instance per account, venue quirks in
bot.exchanges.{binance,bybit,okx} (anything else: the generic unified-ccxt ``Venue``).

Cadence: a snapshot is the venue's per-cycle read (2 REST calls on Binance, Bybit and OKX:
positions with marks, and the futures account). Markets, maintenance tiers and account modes
are refreshed every ``poll.markets_refresh_s``; spot/funding balances every
``wallet_refresh_s`` and right after an action.

Actions and reconcile live in ``bot.exchanges.ccxt_actions`` (the ``LiveActions`` mixin).

Errors leave as ``bot.errors`` classes with secrets and query strings removed. Money-moving calls
are never retried (ccxt's ``maxRetriesOnFailure`` is forced to 0): a timeout, a dropped
connection or a 5xx is ``OutcomeUnknown``, a venue answer that refused is ``ActionRejected``
(or ``Transient`` for a rate limit, which means "not executed").
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async

from bot.domain import AccountSnapshot, Position
from bot.errors import ActionRejected, AuthFailed, BadReply, ClockSkew, GuardError, OutcomeUnknown, Transient
from bot.exchanges.binance import Binance
from bot.exchanges.bybit import Bybit
from bot.exchanges.ccxt_actions import LiveActions, to_step
from bot.exchanges.okx import Okx
from bot.exchanges.venue import FuturesState, Malformed, Venue, num
from bot.settings import AccountSettings, PollSettings

log = logging.getLogger(__name__)

__all__ = ["CcxtAdapter", "deep_merge", "to_step"]

VENUES: dict[str, type[Venue]] = {"binance": Binance, "binanceusdm": Binance, "bybit": Bybit, "okx": Okx}
FRESH_S = 5.0  # an action re-reads the account when the last snapshot is older than this
AUTH_STRIKES = 3  # "maybe a ban, maybe a revoked key" refusals in a row before the account is parked


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        nested = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = deep_merge(out[key], value) if nested else value
    return out


class CcxtAdapter(LiveActions):
    simulated = False

    def __init__(
        self,
        account: AccountSettings,
        poll: PollSettings,
        *,
        clock: Callable[[], float] = time.time,
        max_slippage_pct: float = 1.0,
        wallet_refresh_s: float = 60.0,
    ):
        self.account = account.name
        self.exchange = account.exchange
        self.settings = account
        self.poll = poll
        self.clock = clock
        self.max_slippage_pct = max_slippage_pct
        self.wallet_refresh_s = wallet_refresh_s
        venue_cls = VENUES.get(account.exchange, Venue)
        overrides = dict(account.ccxt)
        sandbox = bool(overrides.pop("sandbox", False))
        config: dict[str, Any] = {"enableRateLimit": True, "timeout": int(poll.request_timeout_s * 1000)}
        config = deep_merge(deep_merge(config, venue_cls.defaults()), overrides)
        creds = account.credentials
        self._secrets = [s.get_secret_value() for s in (creds.api_key, creds.secret, creds.password) if s is not None]
        for key, secret in (("apiKey", creds.api_key), ("secret", creds.secret), ("password", creds.password)):
            if secret is not None:
                config[key] = secret.get_secret_value()
        self._secrets += [str(config[k]) for k in ("apiKey", "secret", "password") if config.get(k)]
        self._secrets = sorted({s for s in self._secrets if len(s) >= 4}, key=len, reverse=True)
        self.ex: Any = getattr(ccxt_async, account.exchange)(config)
        if sandbox:
            self.ex.set_sandbox_mode(True)
        self.ex.options["maxRetriesOnFailure"] = 0  # never: a timed-out call may have gone through
        self.request_count = 0
        fetch = self.ex.fetch

        async def counted(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            self.request_count += 1
            return await fetch(url, method, headers, body)

        self.ex.fetch = counted
        self.venue = venue_cls(self.ex, account)
        self.venue.prepare()
        if not self.venue.dedicated:
            log.warning("%s: no venue file for %s: generic unified-ccxt adapter (see docs/exchanges.md)",
                        self.account, account.exchange)  # fmt: skip
        self.taker_fee = 0.0005
        self._static_at: float | None = None
        self._tier_tries: set[str] = set()
        self._wallets: dict[str, dict[str, float]] = {}
        self._wallets_at: float | None = None
        self._last: AccountSnapshot | None = None
        self._last_valid = False  # False after an action: the next one re-reads the account
        self._auth_strikes = 0
        self._sent: dict[str, float] = {}  # client id -> top-up amount actually sent
        self._pre: dict[str, float] = {}  # client id -> isolated wallet before an add-margin
        self._hedge_legs: dict[str, float] = {}  # position key -> contracts of hedge legs we opened

    # -- errors ---------------------------------------------------------------------------------

    def _clean(self, e: BaseException) -> str:
        text = str(e) or type(e).__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = re.sub(r"(https?://[^\s?\"']+)\?[^\s\"']*", r"\1", text)  # signed query strings
        text = re.sub(r"(?i)(signature|sign)=[^&\s\"']+", r"\1=***", text)
        # One bounded line: a venue's HTML error page is noise in a log and an alert.
        text = re.sub(r"<[^>]*>", " ", text)
        text = " ".join(text.split())
        return f"{type(e).__name__}: {text[:300]}"

    def _retry_after(self, e: Exception) -> float | None:
        headers = getattr(self.ex, "last_response_headers", None) or {}
        seconds = num(headers.get("Retry-After") or headers.get("retry-after"))
        banned = re.search(r"banned until (\d{12,})", str(e))
        if banned:
            seconds = max(seconds or 0.0, int(banned.group(1)) / 1000 - time.time())
        return seconds

    async def _translate(self, e: Exception, what: str, money: bool) -> GuardError:
        text = f"{self.account} {what}: {self._clean(e)}"
        if isinstance(e, ccxt.InvalidNonce):
            self.ex.options["adjustForTimeDifference"] = True
            with contextlib.suppress(Exception):
                await self.ex.load_time_difference()
            return ClockSkew(text + " (clock difference reloaded; not executed)")
        if isinstance(e, ccxt.AuthenticationError):
            return AuthFailed(text)
        if self.venue.auth_suspect(e):
            self._auth_strikes += 1
            if self._auth_strikes >= AUTH_STRIKES:
                return AuthFailed(f"{text} ({self._auth_strikes} times in a row)")
            return Transient(f"{text} (API key refused, {self._auth_strikes}/{AUTH_STRIKES})", self._retry_after(e))
        if isinstance(e, ccxt.DDoSProtection) or self.venue.refused_without_effect(e):
            return Transient(text + " (rate limited; not executed)", self._retry_after(e))
        if isinstance(e, ccxt.NetworkError):
            return OutcomeUnknown(text + " (may or may not have happened)") if money else Transient(text)
        if isinstance(e, Malformed | ccxt.BadResponse):
            return OutcomeUnknown(text + " (unparseable answer)") if money else BadReply(text)
        if isinstance(e, ccxt.ExchangeError):
            return ActionRejected(text) if money else Transient(text)
        if isinstance(e, ccxt.BaseError):
            return OutcomeUnknown(text) if money else Transient(text)
        log.warning("%s %s: unexpected %s", self.account, what, type(e).__name__, exc_info=True)
        if money:
            return OutcomeUnknown(f"{text} (raised after sending: may have happened)")
        return BadReply(f"{text} (reply could not be parsed)")

    @contextlib.asynccontextmanager
    async def _mapped(self, what: str, *, money: bool) -> AsyncIterator[None]:
        if money:
            self._last_valid = False  # whatever happens, the account may have changed
        try:
            yield
        except GuardError:
            raise
        except Exception as e:
            raise await self._translate(e, what, money) from None

    # -- reading ----------------------------------------------------------------------------------

    def _known_symbols(self) -> set[str]:
        symbols = set(self.settings.symbols or [])
        if self._last is not None:
            symbols |= {p.symbol for p in self._last.positions}
        return symbols | {k.split("|", 1)[0] for k in self._hedge_legs}

    async def _refresh_static(self) -> None:
        """Markets, account modes and tiers, every ``markets_refresh_s``. Only the very first
        markets load must succeed; later failures keep the cached data and retry in a minute."""
        now = self.clock()
        age = now - self._static_at if self._static_at is not None else None
        if self.ex.markets is not None and age is not None and age < self.poll.markets_refresh_s:
            return
        first = self.ex.markets is None
        self._static_at = now
        self._tier_tries.clear()
        for step in ("markets", "modes", "tiers"):
            try:
                if step == "markets":
                    await self.ex.load_markets(reload=not first)
                elif step == "modes":
                    await self.venue.load_modes()
                else:
                    await self.venue.load_tiers(self._known_symbols())
            except Exception as e:
                if first and step == "markets":
                    raise
                log.warning("%s: could not refresh %s: %s", self.account, step, self._clean(e))
                self._static_at = now - self.poll.markets_refresh_s + 60.0

    async def _read(self) -> tuple[FuturesState, float]:
        """The per-cycle read, with tiers completed for symbols seen for the first time."""
        await self._refresh_static()
        fetched_at = self.clock()
        state = await self.venue.fetch_futures()
        state.pool_cross_positions()
        missing = {p.symbol for p in state.positions if p.tiers is None and not p.inverse}
        missing = {s for s in missing - self._tier_tries if not self.venue.has_tiers(s)}
        if missing:
            self._tier_tries |= missing
            try:
                await self.venue.load_tiers(missing)
            except Exception as e:
                log.warning("%s: no tiers for %s: %s", self.account, sorted(missing), self._clean(e))
            state.positions = [
                replace(p, tiers=self.venue.tiers_for(p.symbol, p.contracts)) if p.tiers is None else p
                for p in state.positions
            ]
        if any("unknown market" in w or "unknown instrument" in w for w in state.warnings):
            self._static_at = None  # a new listing: reload the markets next time
        state.positions = [
            replace(p, is_hedge_leg=True) if self._hedge_legs.get(p.key, 0.0) > 0 else p for p in state.positions
        ]
        return state, fetched_at

    async def _refresh_wallets(self) -> None:
        if self._wallets_at is not None and self.clock() - self._wallets_at < self.wallet_refresh_s:
            return
        self._wallets_at = self.clock()
        try:
            self._wallets = await self.venue.fetch_wallets()
        except Exception as e:  # top-ups from spot/funding are simply not proposed meanwhile
            log.warning("%s: could not read spot/funding balances: %s", self.account, self._clean(e))

    async def snapshot(self) -> AccountSnapshot:
        async with self._mapped("snapshot", money=False):
            state, fetched_at = await self._read()
            await self._refresh_wallets()
        self._auth_strikes = 0
        warnings = list(state.warnings)
        if state.rows == 0 and state.margin_in_use > 0:
            warnings.append(
                f"{self.exchange} lists no open position but reports {state.margin_in_use:.6g} margin in use: "
                "the empty position list is not corroborated"
            )
        takers = [num(self.ex.markets.get(p.symbol, {}).get("taker")) for p in state.positions]
        self.taker_fee = max([t for t in takers if t], default=self.taker_fee)
        hedge_mode = state.hedge_mode if state.hedge_mode is not None else self.venue.hedge_mode
        snapshot = AccountSnapshot(
            account=self.account,
            exchange=self.exchange,
            fetched_at=fetched_at,
            positions=tuple(state.positions),
            cross_wallet=state.cross_wallet,
            available={**self._wallets, "futures": state.free},
            account_margin_ratio=state.margin_ratio,
            account_equity=state.equity,
            account_maintenance=state.maintenance,
            hedge_mode=bool(self.settings.hedge_mode if hedge_mode is None else hedge_mode),
            warnings=tuple(warnings),
        )
        self._last, self._last_valid = snapshot, True
        return snapshot

    async def _positions(self) -> tuple[Position, ...]:
        """Current positions for an action: the last snapshot if fresh and untouched since."""
        last = self._last
        if last is not None and self._last_valid and self.clock() - last.fetched_at <= FRESH_S:
            return last.positions
        async with self._mapped("position read", money=False):
            state, _ = await self._read()
        return tuple(state.positions)

    async def close(self) -> None:
        await self.ex.close()
