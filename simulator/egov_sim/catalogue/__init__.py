"""Procedures as data: ids, names, forms, skeleton files and scenario timelines — typed (catalogue.py,
steps.py), unknown keys refused at load."""

from .catalogue import (
    AutoReturnCase,
    Catalogue,
    FormSpec,
    MessageSpec,
    PreprintData,
    Procedure,
    RequiredItem,
)
from .steps import Scenario, ScenarioOptions, ScenarioStep, TimelineStep
from .tables import CatalogueError

__all__ = ["AutoReturnCase", "Catalogue", "CatalogueError", "FormSpec", "MessageSpec", "PreprintData", "Procedure",
           "RequiredItem", "Scenario", "ScenarioOptions", "ScenarioStep", "TimelineStep"]
