"""A kit for e-Gov's 最終確認試験: every item (items.toml) run against a target, with its evidence.

`egov final-test prepare|run` drives it; `FinalTest` (runner.py) is the same from Python.
"""

from .items import Item, load_items
from .runner import FAIL, PASS, WAITING, FinalTest, ItemResult, summary
from .target import KitTarget, TargetNotReady, resolve

__all__ = ["FAIL", "PASS", "WAITING", "FinalTest", "Item", "ItemResult", "KitTarget", "TargetNotReady", "load_items",
           "resolve", "summary"]
