"""The authorisation gate every Telegram update passes before any handler (a PTB
``TypeHandler`` in group -1, because ``CallbackQueryHandler`` cannot filter by user).

Deny by default: the user must be in ``telegram.user_ids`` AND the chat in
``telegram.chat_ids``. Anything else stops there (``ApplicationHandlerStop``), gets no answer
at all, and is journalled as a rejected command (rate-limited per sender, so a stranger cannot
fill the disk) and logged with the ids, which is also how a trader finds theirs.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.journal import CommandRow
from bot.settings import TelegramSettings
from bot.store import Store

log = logging.getLogger(__name__)

REJECTED_JOURNAL_MAX = 20  # rejected updates journalled per sender per window
REJECTED_WINDOW_S = 600.0
MAX_SENDERS_TRACKED = 1000


class Gate:
    def __init__(self, cfg: TelegramSettings, store: Store, clock: Callable[[], float]):
        self.users = frozenset(cfg.user_ids)
        self.chats = frozenset(cfg.chat_ids)
        self.store = store
        self.clock = clock
        self._rejected: dict[int | None, deque[float]] = {}

    def allows(self, update: Update) -> bool:
        user, chat = update.effective_user, update.effective_chat
        return user is not None and chat is not None and user.id in self.users and chat.id in self.chats

    async def __call__(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            if self.allows(update):
                return
            self._journal(update)
        raise ApplicationHandlerStop

    def _journal(self, update: Update) -> None:
        user, chat, msg = update.effective_user, update.effective_chat, update.effective_message
        now, key = self.clock(), user.id if user is not None else None
        recent = self._rejected.setdefault(key, deque())
        while recent and now - recent[0] > REJECTED_WINDOW_S:
            recent.popleft()
        if len(recent) >= REJECTED_JOURNAL_MAX:
            return
        if len(self._rejected) > MAX_SENDERS_TRACKED:
            self._rejected = {key: recent}
        recent.append(now)
        text = "[button]" if update.callback_query is not None else (msg.text or "[message]") if msg else "[update]"
        chat_id = chat.id if chat is not None else None
        log.warning("ignored an update from user %s in chat %s: not allow-listed", key, chat_id)
        try:
            self.store.record_command(
                CommandRow(
                    ts=now,
                    chat_id=chat_id,
                    user_id=key,
                    username=user.username if user else None,
                    text=text[:200],
                    accepted=False,
                    outcome="rejected: not allow-listed",
                )
            )
        except Exception:
            log.exception("could not journal a rejected update")
