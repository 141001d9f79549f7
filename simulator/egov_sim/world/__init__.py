"""The demo world: a registered software, accounts, companies and test certificates."""

from .demo import DemoWorld, ensure_world, reset_world, world_id

__all__ = ["DemoWorld", "ensure_world", "reset_world", "world_id"]
