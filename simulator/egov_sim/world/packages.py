"""Complete, signed demo packages for any catalogue procedure (demo, tests, load tests).

Built with the client's own package code from the same skeleton `GET /procedure` returns.
"""

from __future__ import annotations

from egov_format.package import ApplicationPackage, Skeleton
from egov_format.signing import Signer

from ..catalogue import Catalogue
from ..catalogue.skeleton import skeleton_zip
from ..filing.pdf import text_pdf


def sample_package(catalogue: Catalogue, proc_id: str, signer: Signer | None, *, applicant_name: str = "山田　太郎",
                   applicant_kana: str = "ヤマダ　タロウ", corporation_name: str = "株式会社サンプル商事",
                   apply_type: str = "新規申請", first_arrive_id: str | None = None) -> ApplicationPackage:
    """A package with the applicant and every required form item filled, signed when a signer is given."""
    proc = catalogue.procedures[proc_id]
    package = ApplicationPackage.from_skeleton(Skeleton.from_zip(skeleton_zip(catalogue, proc)))
    package.set_apply_type(apply_type, first_arrive_id)
    person = {"name": applicant_name, "name_kana": applicant_kana, "corporation_name": corporation_name,
              "postal_code": "1000013", "address": "東京都千代田区霞が関１－２－２", "phone": "03-5253-1111",
              "email": "shinsei@example.jp"}
    package.set_applicant(**person)
    package.set_contact(**person)
    if proc.destination_required:  # the skeleton leaves 提出先情報 to the applicant
        package.set_destination(proc.destination_id, proc.destination_name)
    for form in proc.forms:
        for item in form.required:
            package.set_form_value(form.form_id, item.path, item.example or "1")
    for config in proc.configuration_files:  # 個別署名形式: an attachment to sign, each 構成情報 signed
        if config.signs == "attachment" and signer is not None:
            name = package.add_attachment("tenpu.pdf", text_pdf("添付書類", ["個別署名形式の添付書類"]), title="添付書類")
            package.sign_configuration(config.file_name, signer, target=name)
    for config in proc.configuration_files:
        if config.signs == "form" and signer is not None:
            package.sign_configuration(config.file_name, signer)
    if signer is not None:
        package.sign(signer)
    return package
