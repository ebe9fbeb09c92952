"""The Telegram console: alerts out, commands and confirmations in (python-telegram-bot 22).

The PTB ``Application`` runs inside the daemon's own event loop (``initialize`` ->
``updater.start_polling(drop_pending_updates=True)`` -> ``start``), brought up by a background
task that retries with backoff: the guard loop never waits for Telegram, at start or later.

Alerts (``submit``) only go into an in-memory queue; the engine journalled them before. A
sender task delivers them to every chat in ``telegram.chat_ids``, marks them delivered in the
journal once Telegram accepted them everywhere (``store.mark_delivered``), counts attempts
(``store.note_attempt``) and backs off exponentially (or by Telegram's ``retry_after``) while
Telegram is unreachable. After an outage, and for alerts left undelivered by a previous run
(loaded at ``start``), alerts of the same position are coalesced: the newest one in full, the
older ones as an "(earlier: ...)" digest in the same message.

Every update passes the authorisation gate first (``bot.notify.gate``, a ``TypeHandler`` in
group -1): the user AND the chat must be allow-listed; anything else is journalled and dropped
without an answer. Commands: ``bot.notify.commands``; confirmations: ``bot.notify.confirm``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import traceback
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from telegram import Bot, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.domain import Verdict
from bot.journal import Alert
from bot.logs import RedactingFilter, redact
from bot.notify import commands
from bot.notify.confirm import CALLBACK_RE, ConfirmationDesk, keyboard
from bot.notify.formatting import paginate
from bot.notify.gate import Gate
from bot.notify.outbox import MAX_PENDING, Outbox, Outgoing
from bot.settings import Settings
from bot.store import Store

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)

PLAIN_FALLBACK_LIMIT = 3500
POLLING_WARN_EVERY_S = 300.0


def _seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 warns that retry_after will become a timedelta
        value = error.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


class TelegramConsole:
    """Notifier (``start`` / ``stop`` / ``submit``) that also owns the PTB Application."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        engine_ref: Callable[[], Engine],
        *,
        clock: Callable[[], float] | None = None,
    ):
        if settings.telegram.token is None:
            raise ValueError("telegram.token is not set")
        self.settings = settings
        self.cfg = settings.telegram
        self.store = store
        self.engine_ref = engine_ref
        self.clock: Callable[[], float] = clock or store.clock
        self._token = settings.telegram.token  # SecretStr: only unwrapped to build the Application
        raw = self._token.get_secret_value()
        self._secrets = [s for s in (raw, raw.partition(":")[2]) if len(s) >= 6]
        self.desk = ConfirmationDesk(settings, store, engine_ref, self.clock, self.safe)
        self.retry_base_s = 0.5
        self.max_backoff_s = 10.0  # after an outage, queued alerts go out at most this long after Telegram is back
        self.sweep_every_s = min(5.0, max(0.25, self.cfg.confirm_ttl_s / 4))
        self.flush_on_stop_s = 3.0
        self.bot_ready = asyncio.Event()  # the Bot answered getMe: sending works
        self.ready = asyncio.Event()  # polling runs: commands are received
        self.outbox = Outbox(self.cfg.chat_ids)
        self._wake = asyncio.Event()
        self._backlog = False  # coalesce per position while catching up after an outage or a restart
        self._failures = 0
        self._retry_after = 0.0
        self._polling_warned_at: float | None = None
        self._commands_published = False
        self._tasks: list[asyncio.Task[None]] = []
        self._app: Application | None = None
        self._redactor = RedactingFilter(self._secrets)
        self._filtered: list[logging.Logger] = []
        self.gate = Gate(self.cfg, store, self.clock)

    @property
    def engine(self) -> Engine:
        return self.engine_ref()

    @property
    def queued(self) -> int:
        return len(self.outbox)

    def safe(self, error: BaseException) -> str:
        """An exception as one short line with the token removed (PTB's InvalidToken message
        contains it; a 502 error contains the whole HTML page)."""
        text = redact(" ".join(f"{type(error).__name__}: {error}".split()), self._secrets)
        return text if len(text) <= 240 else text[:239] + "…"

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self._install_redaction()
        try:
            restored = self.store.undelivered_alerts(limit=MAX_PENDING)
        except Exception:
            log.exception("could not read undelivered alerts from the journal")
            restored = []
        for alert in restored:
            self.submit(alert)
        if restored:
            self._backlog = True
            log.info("%d alert(s) from before were not delivered yet; sending them", len(restored))
        self.engine.confirmations = self._on_rule_confirmation
        self._app = self._build()
        self._tasks = [
            asyncio.create_task(coro, name=f"telegram-{name}")
            for name, coro in (("bring-up", self._bring_up()), ("sender", self._sender()), ("sweeper", self._sweeper()))
        ]

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self.engine.confirmations == self._on_rule_confirmation:
                self.engine.confirmations = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.flush_on_stop_s
        while self.outbox and self.bot_ready.is_set() and not self._failures and loop.time() < deadline:
            await asyncio.sleep(0.05)  # let what is queued go out while Telegram answers
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._app is not None:
            try:
                await asyncio.wait_for(self._shutdown(self._app), timeout=10)
            except Exception as e:
                log.warning("Telegram shutdown incomplete: %s", self.safe(e))
        if self.outbox.alerts:
            log.info("%d alert(s) not delivered; they stay in the journal for the next start", len(self.outbox.alerts))
        self._remove_redaction()

    @staticmethod
    async def _shutdown(app: Application) -> None:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        await app.bot.shutdown()  # closes the HTTP clients even when initialize() never completed

    def _build(self) -> Application:
        base = self.cfg.base_url.rstrip("/")
        builder = (
            ApplicationBuilder()
            .token(self._token.get_secret_value())
            .base_url(base)
            .rate_limiter(AIORateLimiter(max_retries=2))
            .job_queue(None)
            .concurrent_updates(True)  # a slow confirmed action must not hold up /pause
            .connect_timeout(5.0)
            .read_timeout(10.0)
            .write_timeout(20.0)
            .pool_timeout(5.0)
            .get_updates_connect_timeout(5.0)
            .get_updates_read_timeout(self.cfg.poll_timeout_s + 5.0)
        )
        if base.endswith("/bot"):
            builder = builder.base_file_url(base[: -len("/bot")] + "/file/bot")
        app = builder.build()
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        for cmd in commands.REGISTRY:
            callback = commands.callback_for(cmd, self)
            app.add_handler(CommandHandler(cmd.name, callback, filters=filters.UpdateType.MESSAGE))
        app.add_handler(CallbackQueryHandler(self.desk.on_press, pattern=CALLBACK_RE))
        app.add_handler(
            MessageHandler(
                filters.COMMAND & filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE,
                functools.partial(commands.unknown_command, self),
            )
        )
        app.add_error_handler(self._on_error)
        return app

    async def _bring_up(self) -> None:
        app = self._app
        assert app is not None and app.updater is not None
        delay = 1.0
        while True:
            try:
                await app.initialize()
                break
            except InvalidToken:
                log.error("Telegram rejected the bot token (telegram.token); alerts stay queued in the journal")
                delay = max(delay, 60.0)
            except TelegramError as e:
                log.warning("Telegram not reachable (%s); retrying in %.0fs, guarding continues", self.safe(e), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max(self.max_backoff_s, 1.0))
        self.bot_ready.set()
        self._wake.set()
        delay = 1.0
        while True:
            try:
                await app.updater.start_polling(
                    timeout=max(1, round(self.cfg.poll_timeout_s)),
                    drop_pending_updates=True,
                    allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
                    error_callback=self._polling_error,
                )
                break
            except TelegramError as e:
                log.warning("Telegram polling not started (%s); retrying in %.0fs", self.safe(e), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max(self.max_backoff_s, 1.0))
        await app.start()
        self.ready.set()
        log.info(
            "Telegram console running: %d chat(s), %d user(s) allowed", len(self.cfg.chat_ids), len(self.cfg.user_ids)
        )

    # -- alerts out -------------------------------------------------------------------------------

    def submit(self, alert: Alert) -> None:
        try:
            self.outbox.add_alert(alert)
            self._wake.set()
        except Exception:
            log.exception("could not queue an alert (it stays undelivered in the journal)")

    def _on_rule_confirmation(self, verdict: Verdict) -> None:
        """The engine's hook for ``confirm: true`` rules (called synchronously in the cycle)."""
        try:
            made = self.desk.for_rule(verdict, self.engine.mode)
            if made is None:
                return
            row, text = made
            self.outbox.add_prompt(row.token, text, row.expires_at)
            self._wake.set()
        except Exception:
            log.exception("could not ask for a confirmation")

    async def _sender(self) -> None:
        await self.bot_ready.wait()
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                ok = await self._flush()
            except Exception:
                log.exception("alert sender failed; retrying")
                ok = False
            if ok:
                if self._failures:
                    log.info("Telegram reachable again; queued alerts delivered")
                self._failures = 0
                continue
            self._failures += 1
            backoff = min(self.max_backoff_s, self.retry_base_s * 2 ** min(self._failures - 1, 12))
            delay, self._retry_after = max(self._retry_after, backoff), 0.0
            await asyncio.sleep(delay)
            self._wake.set()

    async def _flush(self) -> bool:
        """One pass over the queue, chat by chat. False: Telegram is unreachable, try later."""
        assert self._app is not None
        self.outbox.drop_expired_prompts(self.clock())
        for chat in self.cfg.chat_ids:
            for out in self.outbox.batch_for(chat, coalesce=self._backlog):
                try:
                    await self._deliver(self._app.bot, chat, out)
                except RetryAfter as e:
                    self._retry_after = _seconds(e)
                    self._outage(e)
                    return False
                except (Forbidden, BadRequest, ChatMigrated) as e:  # this chat will not take it: do not loop
                    log.error("Telegram refused a message for chat %s (%s); not retrying it there", chat, self.safe(e))
                    self._settle(chat, out, sent=False)
                    continue
                except TelegramError as e:  # network, timeouts, 5xx: keep everything, retry later
                    self._outage(e)
                    return False
                self._settle(chat, out, sent=True)
        if not self.outbox:
            self._backlog = False
        if not self._commands_published:
            try:  # the menu of commands in Telegram's UI, from the same registry as /help
                await self._app.bot.set_my_commands(commands.bot_commands())
            except BadRequest as e:
                log.error("Telegram refused the command list: %s", self.safe(e))
            except TelegramError as e:
                self._outage(e)
                return False
            self._commands_published = True
        return True

    async def _deliver(self, bot: Bot, chat: int, out: Outgoing) -> None:
        ids = out.journal_ids
        if ids:
            try:
                self.store.note_attempt(ids)
            except Exception:
                log.warning("could not count a delivery attempt in the journal")
        markup = keyboard(out.prompt.token) if out.prompt is not None else None
        try:
            parts, parse_mode = paginate(out.lines), ParseMode.HTML
            sent = [
                await bot.send_message(
                    chat,
                    part,
                    parse_mode=parse_mode,
                    disable_notification=not out.loud,
                    reply_markup=markup if i == len(parts) - 1 else None,
                )
                for i, part in enumerate(parts)
            ]
        except BadRequest as e:
            if "parse entities" not in str(e).lower() and "too long" not in str(e).lower():
                raise
            log.error("Telegram refused our HTML (%s); sending the alert as plain text", self.safe(e))
            parts = paginate(out.lines, PLAIN_FALLBACK_LIMIT, as_html=False)
            sent = [
                await bot.send_message(
                    chat, part, disable_notification=not out.loud, reply_markup=markup if i == len(parts) - 1 else None
                )
                for i, part in enumerate(parts)
            ]
        if out.prompt is not None and sent:
            self.desk.remember(out.prompt.token, chat, sent[-1].message_id)

    def _settle(self, chat: int, out: Outgoing, *, sent: bool) -> None:
        done = self.outbox.settle(chat, out, sent=sent)
        if done:
            try:
                self.store.mark_delivered(done, self.clock())
            except Exception:
                log.warning("could not mark %d alert(s) delivered in the journal", len(done))

    def _outage(self, error: TelegramError) -> None:
        self._backlog = True
        if self._failures == 0:
            log.warning(
                "Telegram unreachable (%s): %d alert(s) queued, retrying with backoff",
                self.safe(error),
                len(self.outbox.alerts),
            )
        else:
            log.debug("Telegram still unreachable: %s", self.safe(error))

    async def _sweeper(self) -> None:
        await self.bot_ready.wait()
        assert self._app is not None
        while True:
            await asyncio.sleep(self.sweep_every_s)
            try:
                await self.desk.sweep(self._app.bot)
            except Exception:
                log.exception("could not expire confirmations")

    # -- updates in -------------------------------------------------------------------------------

    def _polling_error(self, error: TelegramError) -> None:
        """PTB's updater retries getUpdates by itself (backoff up to 30 s); we only log, once
        every few minutes at WARNING, so an outage does not flood the log."""
        now = self.clock()
        if self._polling_warned_at is None or now - self._polling_warned_at > POLLING_WARN_EVERY_S:
            self._polling_warned_at = now
            log.warning("Telegram polling failed (%s); commands wait until it is back", self.safe(error))
        else:
            log.debug("Telegram polling still failing: %s", self.safe(error))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        if error is None:
            return
        detail = redact("".join(traceback.format_exception(error)), self._secrets)
        log.error("error while handling a Telegram update: %s\n%s", self.safe(error), detail)

    # -- secrets never in logs --------------------------------------------------------------------

    def _install_redaction(self) -> None:
        """httpx logs request URLs (which contain the token) at INFO, and PTB puts the token in
        InvalidToken's message: scrub it on those loggers, whatever the logging setup is."""
        names = {"httpx", "httpcore", "telegram"} | {
            n for n in logging.Logger.manager.loggerDict if n.startswith(("httpx", "httpcore", "telegram"))
        }
        for name in sorted(names):
            logger = logging.getLogger(name)
            logger.addFilter(self._redactor)
            self._filtered.append(logger)

    def _remove_redaction(self) -> None:
        for logger in self._filtered:
            logger.removeFilter(self._redactor)
        self._filtered = []
