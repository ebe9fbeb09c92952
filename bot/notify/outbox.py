"""What the Telegram console still has to send, per chat: alerts and confirmation prompts.

Pure bookkeeping, no I/O: the console's sender asks :meth:`Outbox.batch_for` what to send to a
chat, sends it, and reports back with :meth:`Outbox.settle`, which says which journal ids are
now delivered everywhere. An alert leaves the outbox once every chat either took it or refused
it for good; it counts as delivered only if at least one chat took it.

Normally every alert is its own message, in order. While catching up (after an outage, or with
alerts a previous run left undelivered) alerts of the same position are coalesced: the newest
in full, the older ones as a digest. Alerts without a position are never merged.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

from bot.journal import Alert
from bot.notify.formatting import Line, alert_lines, coalesced_lines

log = logging.getLogger(__name__)

MAX_PENDING = 5000  # alerts held in memory; beyond that the oldest wait in the journal for the next start


@dataclass
class Queued:
    alert: Alert
    key: int  # the journal id (negative when the journal write failed)
    seq: int
    remaining: set[int]  # chats that still have to get it
    accepted: bool = False  # at least one chat took it


@dataclass
class Prompt:
    token: str
    lines: list[Line]
    expires_at: float
    seq: int
    remaining: set[int]


@dataclass
class Outgoing:
    """One message (possibly split into parts) for one chat."""

    lines: list[Line]
    loud: bool
    order: int
    alerts: list[Queued] = field(default_factory=list)
    prompt: Prompt | None = None

    @property
    def journal_ids(self) -> list[int]:
        return [q.key for q in self.alerts if q.key > 0]


class Outbox:
    def __init__(self, chat_ids: list[int]):
        self.chat_ids = list(chat_ids)
        self.alerts: dict[int, Queued] = {}
        self.prompts: dict[str, Prompt] = {}
        self._seq = itertools.count()
        self._synthetic = itertools.count(-1, -1)

    def __len__(self) -> int:
        return len(self.alerts) + len(self.prompts)

    def add_alert(self, alert: Alert) -> None:
        key = alert.id if alert.id is not None else next(self._synthetic)
        if key in self.alerts:
            return
        if len(self.alerts) >= MAX_PENDING:
            oldest = min(self.alerts.values(), key=lambda q: q.seq)
            del self.alerts[oldest.key]
            log.warning("alert queue full: alert #%s waits in the journal for the next start", oldest.key)
        self.alerts[key] = Queued(alert, key, next(self._seq), set(self.chat_ids))

    def add_prompt(self, token: str, lines: list[Line], expires_at: float) -> None:
        self.prompts[token] = Prompt(token, lines, expires_at, next(self._seq), set(self.chat_ids))

    def drop_expired_prompts(self, now: float) -> None:
        for token in [t for t, p in self.prompts.items() if p.expires_at <= now]:
            del self.prompts[token]

    def batch_for(self, chat: int, *, coalesce: bool) -> list[Outgoing]:
        queued = sorted((q for q in self.alerts.values() if chat in q.remaining), key=lambda q: q.seq)
        groups: list[list[Queued]] = []
        by_position: dict[tuple[str | None, str], list[Queued]] = {}
        for q in queued:
            if coalesce and q.alert.position_key:
                by_position.setdefault((q.alert.account, q.alert.position_key), []).append(q)
            else:
                groups.append([q])
        groups.extend(by_position.values())
        out = [
            Outgoing(
                coalesced_lines([q.alert for q in g]) if len(g) > 1 else alert_lines(g[0].alert),
                loud=any(q.alert.loud for q in g),
                order=g[-1].seq,
                alerts=g,
            )
            for g in groups
        ]
        out.extend(
            Outgoing(p.lines, loud=True, order=p.seq, prompt=p) for p in self.prompts.values() if chat in p.remaining
        )
        return sorted(out, key=lambda o: o.order)

    def settle(self, chat: int, out: Outgoing, *, sent: bool) -> list[int]:
        """``out`` went to ``chat`` (or was refused there for good). Returns the journal ids that
        are now delivered to every chat."""
        done: list[int] = []
        for q in out.alerts:
            q.remaining.discard(chat)
            q.accepted = q.accepted or sent
            if not q.remaining:
                self.alerts.pop(q.key, None)
                if q.accepted and q.key > 0:  # refused everywhere: stays undelivered in the journal
                    done.append(q.key)
        if out.prompt is not None:
            out.prompt.remaining.discard(chat)
            if not out.prompt.remaining:
                self.prompts.pop(out.prompt.token, None)
        return done
