"""Protective strategies, one file each. The registry maps a rule's ``strategy:`` to a class."""

from strategies.alert import Alert
from strategies.base import PlanContext, Strategy, rule_fires
from strategies.deleverage import Deleverage
from strategies.hedge import Hedge
from strategies.top_up import TopUp

REGISTRY: dict[str, Strategy] = {s.name: s for s in (Alert(), TopUp(), Deleverage(), Hedge())}

__all__ = ["REGISTRY", "Alert", "Deleverage", "Hedge", "PlanContext", "Strategy", "TopUp", "rule_fires"]
