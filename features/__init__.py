"""Acceptance scenarios (Gherkin, Japanese). A package so its conftest does not shadow tests/conftest.py."""
