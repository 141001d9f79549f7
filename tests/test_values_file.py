"""`egov submit --values`: the documented example fills a package; a mistake names the part of the file to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from egov_client.compose import fill, load_values
from egov_client.errors import PackageError
from egov_format.package import ApplicationPackage, Skeleton
from egov_sim.catalogue import Catalogue
from egov_sim.catalogue.skeleton import skeleton_zip

ROOT = Path(__file__).resolve().parent.parent
PROC = "950A010700005000"


@pytest.fixture(scope="module")
def skeleton() -> Skeleton:
    catalogue = Catalogue.load()
    return Skeleton.from_zip(skeleton_zip(catalogue, catalogue.procedures[PROC]))


def test_the_example_values_file_fills_every_required_item(skeleton: Skeleton) -> None:
    package = ApplicationPackage.from_skeleton(skeleton)
    fill(package, load_values(ROOT / "examples/values.json"))
    assert package.missing_required() == [] and package.check() == []


@pytest.mark.parametrize(("change", "named"), [
    (lambda v: v["forms"]["950A01070000500001"].update({"被保険者/氏名/x": "a"}),
     'forms."950A01070000500001"."被保険者/氏名/x"'),
    (lambda v: v["forms"].update({"9999": {"a": "b"}}), 'forms."9999"'),
    (lambda v: v["applicant"].update({"nam": "x"}), "の applicant に誤りがあります: unknown field(s) ['nam']"),
    (lambda v: v.update({"form": {}}), "不明なキーがあります: form"),
    (lambda v: v.update({"attachments": [{"path": "nowhere.pdf"}]}), "attachments[0]"),
])
def test_a_mistake_names_the_path_to_fix(skeleton: Skeleton, tmp_path: Path, change, named: str) -> None:
    values = json.loads((ROOT / "examples/values.json").read_text(encoding="utf-8"))
    change(values)
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(values, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(PackageError) as raised:
        fill(ApplicationPackage.from_skeleton(skeleton), load_values(path))
    assert raised.value.message.startswith("値ファイル(mine.json)") and named in raised.value.message
