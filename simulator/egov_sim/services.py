"""The simulator's shared services, built once per app and reachable from every blueprint."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g

from .catalogue import Catalogue
from .clock import Clock
from .idp.keys import KeyRing
from .settings import Settings
from .store import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    keys: KeyRing
    catalogue: Catalogue


WORLD = "egov_world"  # flask.g: the request's world (worlds.py sets it); absent = the default world


def services() -> Services:
    """The Services of the request's world (one routing step sets it, worlds.py), else the default one."""
    world = g.get(WORLD)
    return world.services if world is not None else current_app.extensions["egov_sim"]
