"""Procedures as data: ids, names, forms, skeleton files and scenario timelines."""

from .catalogue import Catalogue, FormSpec, Procedure, RequiredItem, Scenario, ScenarioStep

__all__ = ["Catalogue", "FormSpec", "Procedure", "RequiredItem", "Scenario", "ScenarioStep"]
