"""The 最終確認試験's items, read from items.toml (the one list the kit and the Gherkin tags share)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

PREPARED = "prepared:"  # a need met by a case sent in phase 1 (`egov final-test prepare`)
GBIZID = "gbizid:"  # a need met by a GビズID login


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    api: str
    passes_when: str
    needs: tuple[str, ...] = ()
    gbizid: bool = False

    @property
    def item_needs(self) -> tuple[str, ...]:
        """The other items this one builds on."""
        return tuple(n for n in self.needs if ":" not in n)

    @property
    def prepared_cases(self) -> tuple[str, ...]:
        return tuple(n.removeprefix(PREPARED) for n in self.needs if n.startswith(PREPARED))


@cache
def load_items() -> tuple[Item, ...]:
    raw = tomllib.loads(resources.files(__package__).joinpath("items.toml").read_text("utf-8"))
    items = tuple(Item(e["id"], e["name"], e["api"], e["pass"], tuple(e.get("needs", ())), bool(e.get("gbizid")))
                  for e in raw["item"])
    known = {i.id for i in items}
    for item in items:
        unknown = [n for n in item.item_needs if n not in known]
        if unknown:
            raise ValueError(f"item {item.id} needs unknown items {unknown}")
    return items


def run_order(items: tuple[Item, ...]) -> list[Item]:
    """File order, except that an item runs only after the items it needs (e.g. 34-1 after 36-1)."""
    done: set[str] = set()
    order: list[Item] = []
    pending = list(items)
    while pending:
        ready = next((i for i in pending if all(n in done for n in i.item_needs)), None)
        if ready is None:
            raise ValueError(f"items need each other: {[i.id for i in pending]}")
        pending.remove(ready)
        order.append(ready)
        done.add(ready.id)
    return order
