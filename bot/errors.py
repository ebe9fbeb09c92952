"""What can go wrong at the edges, sorted by what the engine does about it.

Exchange adapters translate venue/ccxt exceptions into these, so the engine's behaviour is
one table instead of scattered ``except`` clauses:

    Transient      -> back off this account, keep guarding the others, tell the trader if it lasts
    AuthFailed     -> mark the account broken, tell the trader once, stop polling it (no spin)
    ClockSkew      -> resync the time difference and retry next cycle
    BadReply       -> the venue answered something unparseable: treat the data as untrusted
    ActionRejected -> the venue refused an action (insufficient funds, invalid order): journal
                      it failed and escalate
    OutcomeUnknown -> a money-moving call may or may not have happened (timeout, dropped
                      connection): never retry blindly, reconcile against the venue first
    JournalUnavailable -> the intent could not be written (locked database): nothing is sent
"""

from __future__ import annotations


class GuardError(Exception):
    """Base class. Messages must never contain secrets."""


class Transient(GuardError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class AuthFailed(GuardError):
    pass


class ClockSkew(Transient):
    pass


class BadReply(GuardError):
    pass


class ActionRejected(GuardError):
    pass


class OutcomeUnknown(GuardError):
    pass


class JournalUnavailable(GuardError):
    """The journal could not take an intent, so nothing was sent."""
