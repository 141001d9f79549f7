"""Every .feature file in this folder, run by pytest-bdd against the chosen target (--egov-target)."""

from pytest_bdd import scenarios

scenarios(".")
