"""top_up: add collateral until the liquidation price is ``target_distance_pct`` away.

The amount is the closed form of ``bot.risk.collateral_to_target``. It is drawn from the
rule's ``source`` wallets in order: ``futures`` (the free futures balance, added to an
isolated position's margin), then ``spot`` / ``funding`` (transferred into futures first).
A cross position's collateral already is the futures wallet, so only transfers top it up.
One action per wallet used; each passes the guard on its own.
"""

from __future__ import annotations

from typing import ClassVar

from bot.domain import Action, ActionKind, PositionRisk
from bot.risk.sizing import collateral_to_target, collateral_to_target_entry_fixed
from strategies.base import PlanContext, base_action_fields, short_of_target


class TopUp:
    name: ClassVar[str] = "top_up"
    # Proposes nothing until its rule fires: the engine does not ask it before then.
    silent_until_fired: ClassVar[bool] = True

    def decide(self, risk: PositionRisk, ctx: PlanContext) -> list[Action]:
        rule, p = ctx.rule, ctx.position
        inputs = short_of_target(risk, ctx, "top-up")
        if inputs is None:
            return []
        target, terms = inputs.target_distance_pct, inputs.terms
        if p.liquidation_model == "entry_fixed":
            need = collateral_to_target_entry_fixed(
                p.side,
                p.contracts,
                p.entry_price,
                terms.wallet,
                inputs.tiers,
                p.mark_price,
                target,
                contract_size=p.contract_size,
                inverse=p.inverse,
            )
        else:
            need = collateral_to_target(
                p.side,
                p.contracts,
                p.entry_price,
                terms.wallet,
                inputs.tiers,
                p.mark_price,
                target,
                contract_size=p.contract_size,
                inverse=p.inverse,
                other_maintenance=terms.other_maintenance,
                other_unrealized_pnl=terms.other_unrealized_pnl,
            )
        actions: list[Action] = []
        for source in rule.source:
            if need <= 0.0:
                break
            if p.margin_mode == "cross" and source == "futures":
                continue  # a cross position's collateral already is the futures wallet
            available = ctx.snapshot.free(source, p.settle)
            amount = min(need, available)
            if amount <= 0.0:
                continue
            short = "" if amount >= need else f" ({need:.2f} needed; {available:.2f} {p.settle} free in {source})"
            actions.append(
                Action(
                    kind=ActionKind.TOP_UP,
                    amount=amount,
                    currency=p.settle,
                    source=source,
                    target_distance_pct=target,
                    reason=f"add {amount:.2f} {p.settle} from {source}: liquidation to {target:g}% from mark{short}",
                    **base_action_fields(risk, ctx, self.name),  # type: ignore[arg-type]
                )
            )
            need -= amount
        if need > 0.0 and not actions:
            ctx.note(f"a top-up of {need:.2f} {p.settle} is needed but no wallet in {rule.source} has funds")
        return actions
