"""A small sync client of the legacy 外部連携API (`/shinsei/1`), as the recorded clients spoke it:
authentication bodies XMLDSig-signed (PKCS#12, as for v2) with the Signature beside ApplData,
access calls with `X-eGovAPI-SoftwareID` and `X-eGovAPI-AccessKey`, uploads in 60-column base64."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from egov_format.errors import EgovError
from egov_format.package import ApplicationPackage
from egov_format.safexml import parse_xml
from egov_format.signing import Signer, sign_sibling
from egov_format.zipsafe import read_zip, write_zip
from lxml import etree

WITHDRAWAL_PROC_ID = "9990000000000008"  # 取下げ申請, the legacy API's withdrawal (v2's 取下げ依頼 is 9990000000000003)
WITHDRAWAL_FORM_FILE = "torisageshinsei.xml"


class LegacyApiError(EgovError):
    """Code 1: the server's Japanese Message, the HTTP status and the answer's ApplData."""

    def __init__(self, status: int, message: str, appl: etree._Element | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.appl = appl


@dataclass
class Answer:
    status: int
    appl: etree._Element

    def text(self, path: str) -> str:
        return self.appl.findtext(path) or ""


def encode64(data: bytes) -> str:
    """Ruby's Base64.encode64: a line break every 60 characters."""
    text = base64.b64encode(data).decode()
    return "".join(text[i:i + 60] + "\n" for i in range(0, len(text), 60))


def _cert_b64(cert: x509.Certificate) -> str:
    return encode64(cert.public_bytes(serialization.Encoding.DER))


def _appl(children: list[tuple[str, Any]]) -> etree._Element:
    root = etree.Element("DataRoot")
    appl = etree.SubElement(root, "ApplData", Id="ApplData")

    def build(parent: etree._Element, items: list[tuple[str, Any]]) -> None:
        for tag, value in items:
            el = etree.SubElement(parent, tag)
            if isinstance(value, list):
                build(el, value)
            else:
                el.text = str(value)

    build(appl, children)
    return root


def upload(*packages: bytes) -> bytes:
    """Package zips (each rooted at its 手続ID) as one legacy upload: a `{手続ID}({n})/` folder each."""
    files = {}
    for n, raw in enumerate(packages, 1):
        for name, data in read_zip(raw).items():
            proc, rest = name.split("/", 1)
            files[f"{proc}({n})/{rest}"] = data
    return write_zip(files)


def _era(day: date) -> tuple[str, int]:
    """The Japanese era and year of a date (提出年月日 is written as 年号 / 年)."""
    if day >= date(2019, 5, 1):
        return "令和", day.year - 2018
    if day >= date(1989, 1, 8):
        return "平成", day.year - 1988
    return "昭和", day.year - 1925


def build_withdrawal_application(*, target_arrive_id: str, proc_id: str, proc_name: str, applicant_name: str,
                                 reason: str, submitted: date, destination: str = "", address: str = "",
                                 contact: str = "", note: str = "",
                                 applicant: Mapping[str, object] | None = None) -> ApplicationPackage:
    """A 取下げ申請 package (手続ID 9990000000000008, kousei.xml + torisageshinsei.xml) for the case
    `target_arrive_id` of procedure `proc_id`; sign it, then send `upload(package.to_zip())`.
    `applicant` takes the keys of ApplicationPackage.set_applicant (the contact is the applicant)."""
    data = resources.files("egov_client").joinpath("data", "legacy")
    package = ApplicationPackage(WITHDRAWAL_PROC_ID, data.joinpath("kousei.xml").read_bytes(),
                                 {WITHDRAWAL_FORM_FILE: data.joinpath(WITHDRAWAL_FORM_FILE).read_bytes()})
    package.set_apply_type("取下げ申請", target_arrive_id)
    package.set_procedure_name(proc_name)
    person = {"name": applicant_name, **({"address": address} if address else {}), **(applicant or {})}
    package.set_applicant(**person)
    package.set_contact(**person)
    if destination:
        package.set_destination("", destination)
    era, year = _era(submitted)
    package.set_form_values(WITHDRAWAL_FORM_FILE, {
        "提出年月日/年号": era, "提出年月日/年": year, "提出年月日/月": submitted.month, "提出年月日/日": submitted.day,
        "提出先": destination, "申請者氏名": applicant_name, "申請者住所": address, "連絡先": contact,
        "手続名称": proc_name, "手続ID": proc_id, "到達番号": target_arrive_id, "理由": reason, "備考": note})
    return package


class LegacyClient:
    def __init__(self, base_url: str, software_id: str, *, http: httpx.Client | None = None) -> None:
        self.http = http or httpx.Client(base_url=base_url, timeout=60)
        self.software_id = software_id
        self.access_key = ""

    # --- transport ---------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: bytes | None = None) -> Answer:
        headers = {"X-eGovAPI-SoftwareID": self.software_id}
        if path.startswith("/shinsei/1/access/"):
            headers["X-eGovAPI-AccessKey"] = self.access_key
        resp = self.http.request(method, path, content=body, headers=headers)
        root = parse_xml(resp.content, what="応答")
        appl = root.find("ApplData")
        if root.findtext("Result/Code") != "0":
            raise LegacyApiError(resp.status_code, root.findtext("Result/Message") or "", appl)
        assert appl is not None
        return Answer(resp.status_code, appl)

    def _signed(self, path: str, signer: Signer, children: list[tuple[str, Any]]) -> Answer:
        root = _appl(children)
        sign_sibling(root, "ApplData", signer, signature_id=f"{datetime.now():%Y%m%d%H%M%S}")
        return self._call("POST", path, b'<?xml version="1.0" encoding="UTF-8"?>' + etree.tostring(root))

    def _access(self, method: str, path: str, children: list[tuple[str, Any]] | None = None) -> Answer:
        body = None
        if children is not None:
            body = b'<?xml version="1.0"?>\n' + etree.tostring(_appl(children), pretty_print=True)
        return self._call(method, f"/shinsei/1/access/{path}", body)

    # --- the authentication family ---------------------------------------------------------------------

    def register(self, user_id: str, signer: Signer) -> Answer:
        return self._signed("/shinsei/1/authentication/user", signer, [("UserID", user_id)])

    def login(self, user_id: str, signer: Signer) -> Answer:
        answer = self._signed("/shinsei/1/authentication/login", signer, [("UserID", user_id)])
        self.access_key = answer.text("AccessKey")
        return answer

    def append_certificate(self, user_id: str, signer: Signer, new: x509.Certificate) -> Answer:
        return self._signed("/shinsei/1/authentication/certificate/append", signer,
                            [("UserID", user_id), ("AddX509Certificate", _cert_b64(new))])

    def update_certificate(self, user_id: str, new_signer: Signer, old: x509.Certificate) -> Answer:
        return self._signed("/shinsei/1/authentication/certificate/update", new_signer,
                            [("UserID", user_id), ("X509Certificate", _cert_b64(old))])

    def delete_certificate(self, user_id: str, signer: Signer, cert: x509.Certificate) -> Answer:
        return self._signed("/shinsei/1/authentication/certificate/delete", signer,
                            [("UserID", user_id), ("DelX509Certificate", _cert_b64(cert))])

    # --- the access family -------------------------------------------------------------------------------

    def apply(self, file_name: str, zip_data: bytes) -> Answer:
        return self._access("POST", "apply", [("Upload", [("FileName", file_name), ("FileData", encode64(zip_data))])])

    def sended_applications_by_id(self, send_number: str) -> Answer:
        return self._access("GET", f"apply;id={send_number}")

    def sended_applications_by_date(self, date_from: str, date_to: str) -> Answer:
        return self._access("GET", f"apply;date={date_from}-{date_to}")

    def arrived_applications(self, send_number: str) -> Answer:
        return self._access("GET", f"apply/{send_number}")

    def reference(self, arrive_id: str) -> Answer:
        return self._access("GET", f"reference/{arrive_id}")

    def withdraw(self, arrive_id: str, zip_data: bytes) -> Answer:
        return self._access("POST", "withdrawal", [("ArriveID", arrive_id), ("Upload", [("FileData", encode64(zip_data))])])

    def amends(self, arrive_id: str) -> Answer:
        return self._access("GET", f"amend/{arrive_id}")

    def reamend(self, arrive_id: str, zip_data: bytes) -> Answer:
        return self._access("POST", "reamend", [("ArriveID", arrive_id), ("Upload", [("FileData", encode64(zip_data))])])

    def partamend(self, arrive_id: str, basic: bool, attached: bool, zip_data: bytes) -> Answer:
        return self._access("POST", "partamend", [
            ("ArriveID", arrive_id), ("Target", [("BasicFormFlag", int(basic)), ("AttachedFlag", int(attached))]),
            ("Upload", [("FileData", encode64(zip_data))])])

    def amendapply(self, arrive_id: str, zip_data: bytes) -> Answer:
        return self._access("POST", "amendapply", [("ArriveID", arrive_id),
                                                   ("Upload", [("FileData", encode64(zip_data))])])

    def notices(self, arrive_id: str) -> Answer:
        return self._access("GET", f"notice/{arrive_id}")

    def officialdocument(self, arrive_id: str, sub: int) -> Answer:
        return self._access("GET", f"officialdocument/{arrive_id}/{sub}")

    def done_officialdocument(self, arrive_id: str, sub: int) -> Answer:
        return self._access("PUT", "officialdocument", [("ArriveID", arrive_id), ("NoticeSubID", sub)])

    def verify_officialdocument(self, arrive_id: str, file_name: str, zip_data: bytes, sig_xml: str) -> Answer:
        return self._access("POST", "officialdocument/verify", [("ArriveID", arrive_id), ("Upload", [
            ("FileName", file_name), ("FileData", encode64(zip_data)), ("SigVerificationXMLFileName", sig_xml)])])

    def comment(self, arrive_id: str, sub: int) -> Answer:
        return self._access("GET", f"comment/{arrive_id}/{sub}")

    def done_comment(self, arrive_id: str, sub: int) -> Answer:
        return self._access("PUT", "comment", [("ArriveID", arrive_id), ("NoticeSubID", sub)])

    def banks(self) -> Answer:
        return self._access("GET", "bank")

    def payments(self, arrive_id: str) -> Answer:
        return self._access("GET", f"payment/{arrive_id}")
