"""The simulator's shared services, built once per app and reachable from every blueprint."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

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


def services() -> Services:
    return current_app.extensions["egov_sim"]
