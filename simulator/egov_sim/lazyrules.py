"""URL rules whose URL builders are compiled on first use instead of at registration.

werkzeug compiles two Python functions per rule (`_build`, `_build_unknown`: ast + compile) when the
rule is added to the map; with ~260 rules that is most of `create_app`, paid by the server's main
process and again by every worker, though a worker builds URLs for a handful of endpoints (if any).
Matching is untouched: the rule's regex and parts are made by werkzeug's own `compile` as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule


class LazyBuilderRule(Rule):
    """A werkzeug Rule that compiles each URL builder the first time it builds a URL."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compile_now = super()._compile_builder
        built: list[Callable[..., tuple[str, str]]] = []

        def build(rule: Rule, **values: Any) -> tuple[str, str]:
            if not built:  # two threads may both compile: the same function, harmless
                built.append(compile_now(append_unknown).__get__(rule, None))
            return built[0](**values)

        return build
