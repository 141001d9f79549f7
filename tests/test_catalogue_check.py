"""`egov-sim catalogue check` and the catalogue's strict loading: typos are refused, named with file and key."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from egov_sim.catalogue import CatalogueError
from egov_sim.catalogue.catalogue import parse_procedure, scenario_sets
from egov_sim.cli import main

PROC_TOML = resources.files("egov_sim.catalogue") / "procedures" / "950A010700005000.toml"


def _copy(tmp_path: Path, old: str, new: str) -> Path:
    text = PROC_TOML.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "procedures" / "typo.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_every_packaged_procedure_passes() -> None:
    result = CliRunner().invoke(main, ["catalogue", "check"])
    assert result.exit_code == 0, result.output
    assert "catalogue ok" in result.output


@pytest.mark.parametrize(("old", "new", "named"), [
    ("fee = 0", "feee = 0", "unknown key 'feee'"),
    ('{ after = "PT2H", status = "審査中" }', '{ after = "PT2H", stauts = "審査中" }', "scenarios.default.steps[1]"),
    ("pay_days = 7", "pay_day = 7", "steps[0].payment: unknown key 'pay_day'"),
    ('description = "報酬月額（合計）が未入力"', 'descripton = "x"', "auto_return.missing_salary"),
])
def test_a_typo_is_reported_with_its_file_and_key_and_fails_the_check(tmp_path: Path, old: str, new: str,
                                                                       named: str) -> None:
    path = _copy(tmp_path, old, new)
    result = CliRunner().invoke(main, ["catalogue", "check", str(path)])
    assert result.exit_code == 1
    assert str(path) in result.output and named in result.output


def test_loading_refuses_unknown_keys() -> None:
    import tomllib

    data = tomllib.loads(PROC_TOML.read_text(encoding="utf-8"))
    data["forms"][0]["required"][0]["max_lenght"] = 3
    with pytest.raises(CatalogueError, match=r"x\.toml: forms\[0\]\.required\[0\]: unknown key 'max_lenght'"):
        parse_procedure(data, "x.toml", scenario_sets())
