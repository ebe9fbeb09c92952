"""Confirmations: Confirm / Cancel buttons for anything that moves money, backed by the journal.

* ``create`` writes a ``Confirmation`` row: a random token (the only thing in the button's
  ``callback_data``), the pending action as JSON, ``expires_at = now + telegram.confirm_ttl_s``
  and the requester (``None`` for rule-driven ones: any allowed user may answer).
* A press goes through the authorisation gate first (strangers never get here), then
  ``store.claim_confirmation`` moves the row out of ``pending`` atomically. A press on an expired,
  already answered or someone else's confirmation changes nothing and only gets a short answer.
* A confirmed action is handed to ``engine.run_confirmed``, which runs the guard again on the
  data of now; the message is edited to show the outcome, which also removes the keyboard.
* ``sweep`` expires stale rows and edits their messages, so an old button cannot be mistaken
  for a live one.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from sqlmodel import select
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.domain import Action, ActionKind, Verdict
from bot.journal import ActionRow, CommandRow, Confirmation
from bot.messages import action_report
from bot.notify.formatting import Line, action_prompt, describe_action, paginate
from bot.risk.escalation import RiskTier
from bot.settings import Settings
from bot.store import Store

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)

CALLBACK_RE = re.compile(r"^mg:([A-Za-z0-9_-]{16,43}):([yn])$")
QUIET_AFTER_CANCEL_S = 900.0  # a cancelled rule action is not asked again at the same tier for this long


def action_to_payload(action: Action) -> str:
    data: dict[str, Any] = {f.name: getattr(action, f.name) for f in fields(Action)}
    data["kind"] = action.kind.value
    data["tier"] = action.tier.label
    return json.dumps(data, sort_keys=True)


def action_from_payload(payload: str) -> Action:
    data = json.loads(payload)
    known = {f.name for f in fields(Action)}
    data = {k: v for k, v in data.items() if k in known}
    data["kind"] = ActionKind(data["kind"])
    data["tier"] = RiskTier.parse(data["tier"])
    return Action(**data)


def keyboard(token: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Confirm", callback_data=f"mg:{token}:y"),
                InlineKeyboardButton("✖ Cancel", callback_data=f"mg:{token}:n"),
            ]
        ]
    )


def who(user: User | None) -> str:
    if user is None:
        return "unknown user"
    return f"@{user.username} ({user.id})" if user.username else f"user {user.id}"


class ConfirmationDesk:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        engine_ref: Callable[[], Engine],
        clock: Callable[[], float],
        safe: Callable[[BaseException], str],
    ):
        self.settings = settings
        self.store = store
        self.engine_ref = engine_ref
        self.clock = clock
        self.safe = safe  # exception -> text with every secret removed
        self.messages: dict[str, list[tuple[int, int]]] = {}  # token -> (chat, message) showing its buttons
        self.summaries: dict[str, str] = {}
        self._rule_pending: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._rule_key: dict[str, tuple[str, str, str]] = {}
        self._rule_quiet: dict[tuple[str, str, str], tuple[float, RiskTier]] = {}

    # -- creating ---------------------------------------------------------------------------------

    def create(
        self, kind: str, payload: str, *, user_id: int | None, chat_id: int | None, summary: str
    ) -> Confirmation:
        now = self.clock()
        row = Confirmation(
            token=secrets.token_urlsafe(16),
            created_at=now,
            expires_at=now + self.settings.telegram.confirm_ttl_s,
            user_id=user_id,
            chat_id=chat_id,
            kind=kind,
            payload=payload,
        )
        row = self.store.add_confirmation(row)
        self.summaries[row.token] = summary
        return row

    def remember(self, token: str, chat_id: int, message_id: int) -> None:
        shown = self.messages.setdefault(token, [])
        if not shown:
            try:
                self.store.set_confirmation_message(token, message_id)
            except Exception:
                log.exception("could not journal the confirmation's message id")
        shown.append((chat_id, message_id))

    def for_rule(self, verdict: Verdict, mode: str) -> tuple[Confirmation, list[Line]] | None:
        """A confirmation for a rule's ``confirm: true`` action, unless one is already waiting for
        the same position and kind (the engine asks again on every cycle until answered), or the
        trader cancelled it recently and the tier has not got worse since."""
        action, now = verdict.action, self.clock()
        key = (action.account, action.position_key, action.kind.value)
        pending = self._rule_pending.get(key)
        if pending is not None and pending[1] > now:
            return None
        quiet = self._rule_quiet.get(key)
        if quiet is not None and now < quiet[0] and action.tier <= quiet[1]:
            return None
        row = self.create(
            "action", action_to_payload(action), user_id=None, chat_id=None, summary=describe_action(action)
        )
        self._rule_pending[key] = (row.token, row.expires_at)
        self._rule_key[row.token] = key
        note = f"proposed by rule {action.rule}; any allowed user may answer"
        return row, action_prompt(action, mode=mode, expires_at=row.expires_at, note=note)

    def _settled(self, token: str, decision: str, tier: RiskTier | None = None) -> None:
        key = self._rule_key.pop(token, None)
        if key is not None:
            self._rule_pending.pop(key, None)
            if decision == "cancelled" and tier is not None:
                self._rule_quiet[key] = (self.clock() + QUIET_AFTER_CANCEL_S, tier)

    # -- answering --------------------------------------------------------------------------------

    def _lookup(self, token: str) -> Confirmation | None:
        # The store has no "get confirmation by token"; a read through its session is enough.
        with self.store.session() as s:
            return s.exec(select(Confirmation).where(Confirmation.token == token)).first()

    def _why_not(self, token: str, user_id: int, now: float) -> str:
        row = self._lookup(token)
        if row is None or row.state == "expired" or (row.state == "pending" and row.expires_at <= now):
            return "expired"
        if row.state != "pending":
            return "already handled"
        return "not yours" if row.user_id is not None and row.user_id != user_id else "already handled"

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, user = update.callback_query, update.effective_user
        match = CALLBACK_RE.match(query.data or "") if query is not None else None
        if query is None or user is None or match is None:
            return
        token, decision = match.group(1), "confirmed" if match.group(2) == "y" else "cancelled"
        now = self.clock()
        row = self.store.claim_confirmation(token, user.id, now, decision)
        if row is None:
            why = self._why_not(token, user.id, now)
            self._journal(update, f"[button] {decision}", accepted=False, outcome=f"ignored: {why}")
            await self._answer(query.answer(why))
            if why == "expired" and query.message is not None:
                await self._edit(
                    context.bot,
                    token,
                    [(query.message.chat.id, query.message.message_id)],
                    [Line("⌛ Expired: nothing was done.", "b"), Line(self.summaries.get(token, ""))],
                )
            return
        await self._answer(query.answer("Confirmed: working on it" if decision == "confirmed" else "Cancelled"))
        outcome, tier = await self._carry_out(row, decision, user.id)
        self._settled(token, decision, tier)
        self._journal(update, f"[button] {decision} {row.kind} #{row.id}", accepted=True, outcome=outcome[:200])
        verb = "✅ Confirmed" if decision == "confirmed" else "✖ Cancelled"
        text = [Line(f"{verb} by {who(user)}", "b"), Line(self.summaries.get(token, "")), Line(outcome)]
        shown = list(self.messages.pop(token, []))
        if query.message is not None and (query.message.chat.id, query.message.message_id) not in shown:
            shown.append((query.message.chat.id, query.message.message_id))
        await self._edit(context.bot, token, shown, text)

    async def _carry_out(self, row: Confirmation, decision: str, user_id: int) -> tuple[str, RiskTier | None]:
        if row.kind == "mode":
            mode = str(json.loads(row.payload).get("mode", ""))
            if decision != "confirmed":
                return "mode unchanged", None
            self.engine_ref().set_mode(mode)
            log.warning("mode switched to %s from Telegram by user %s", mode, user_id)
            return f"mode is now {mode.upper()}", None
        action = action_from_payload(row.payload)
        if decision != "confirmed":
            return "nothing was done", action.tier
        try:
            result = await self.engine_ref().run_confirmed(action, requested_by=user_id)
        except Exception as e:
            log.exception("confirmed action failed")
            return f"⚠️ error: {self.safe(e)}", action.tier
        if isinstance(result, ActionRow):
            return action_report(result).split("\n", 1)[0], action.tier
        return f"✋ not taken: {result.reason}", action.tier

    async def sweep(self, bot: Bot) -> int:
        """Expire pending confirmations past their time and edit their messages."""
        rows = self.store.expire_confirmations(self.clock())
        for row in rows:
            self._settled(row.token, "expired")
            shown = self.messages.pop(row.token, [])
            if not shown and row.chat_id is not None and row.message_id is not None:
                shown = [(row.chat_id, row.message_id)]
            await self._edit(
                bot,
                row.token,
                shown,
                [Line("⌛ Expired: nothing was done.", "b"), Line(self.summaries.pop(row.token, ""))],
            )
        return len(rows)

    # -- helpers ----------------------------------------------------------------------------------

    async def _edit(self, bot: Bot, token: str, shown: list[tuple[int, int]], text: list[Line]) -> None:
        html = paginate([line for line in text if line.text])[0]
        for chat_id, message_id in shown:
            try:  # no reply_markup: the edit removes the keyboard
                await bot.edit_message_text(html, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML)
            except BadRequest as e:
                log.debug("confirmation message %s/%s not edited: %s", chat_id, message_id, self.safe(e))
            except TelegramError as e:
                log.warning("could not update a confirmation message: %s", self.safe(e))

    async def _answer(self, call: Any) -> None:
        try:
            await call
        except TelegramError as e:
            log.debug("callback answer failed: %s", self.safe(e))

    def _journal(self, update: Update, text: str, *, accepted: bool, outcome: str) -> None:
        user, chat = update.effective_user, update.effective_chat
        try:
            self.store.record_command(
                CommandRow(
                    ts=self.clock(),
                    chat_id=chat.id if chat else None,
                    user_id=user.id if user else None,
                    username=user.username if user else None,
                    text=text,
                    accepted=accepted,
                    outcome=outcome,
                )
            )
        except Exception:
            log.exception("could not journal a button press")
