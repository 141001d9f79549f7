"""The access family (申請データ送信 … 電子納付), each view parse → FilingBackend → legacy shape."""

from __future__ import annotations

import base64
import html
import io
import zipfile
from typing import Any

from flask import request

from ...services import services
from ..bulk import Send
from ..documents import VALID
from . import NO_CASE, authorized, bp, legacy_settings, parse, skeleton
from .envelope import Node, day, respond, stamp
from .errors import SYSTEM_ERROR, LegacyError

STATUS = {"手続完了": "手続終了", "手続終了(取下げ済み)": "手続終了", "取下げ処理中": "到達（取下げ処理中）"}
RECEIPT = ("ArriveID", "ProcName", "ArriveDate", "NewArriveID", "ArriveResult", "ApplyType", "MinistryName",
           "ReceptionDesk", "ApplicantName", "ApplyForm", "ApplyFile", "OrgDistFileSend")
RECEPTION_DESK = "総務省,行政管理局,API"


def _status(value: str) -> str:
    return STATUS.get(value, value)


def _apply(no: int, a: dict[str, Any]) -> Node:
    notices = a.get("notice_list", [])
    docs = a.get("official_list", [])
    comments = [n for n in notices if n.get("notice_data_type") != "補正"]
    unread = [n for n in comments if n["notice_sub_id"] not in a.get("read_notice_ids", [])]
    open_amend = any(n.get("notice_data_type") == "補正" and "correct_completed_date" not in n for n in notices)
    return ("Apply", [
        ("No", no), ("ArriveID", a["arrive_id"]), ("MinistryName", a.get("ministry_name", "")),
        ("ProcName", a["proc_name"]), ("ProcFolderName", a.get("folder_name", "")),
        ("ApplicantName", a["applicant_name"]), ("CorporationtName", a["corporation_name"]),  # sic, on the wire
        ("DepartmentName", a.get("submission_destination", "")), ("Status", _status(a["status"])),
        ("StatusDate", stamp(a.get("status_date") or a.get("arrive_date"))),  # the last change of Status
        ("PayStatus", "-" if a["pay_status"] == "なし" else a["pay_status"]), ("PayWaitCount", a.get("pay_wait_count", 0)),
        ("CorrectStatus", "あり" if open_amend else "なし"), ("CommentCountNotRead", len(unread)),
        ("CommentCount", len(comments)),
        ("DocCountNotDownload", sum(1 for d in docs if "doc_download_date" not in d)), ("DocCount", len(docs))])


def _error_file(errors: list[dict[str, Any]]) -> str:
    """A base64 HTML error report (seed 001's table: 項番, 種別名, 項目名, エラー詳細)."""
    if not errors:
        return ""
    rows = "".join(f"<tr><td>{i}</td><td>{html.escape(e.get('proc_name', ''))}（{html.escape(e['folder_name'])}）</td>"
                   f"<td>{html.escape(r.get('item', '-'))}</td><td>{html.escape(r.get('content', ''))}</td></tr>"
                   for i, (e, r) in enumerate(((e, r) for e in errors for r in e["report_list"]), 1))
    page = ("<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"UTF-8\"><title>エラー一覧</title></head><body>"
            f"<table><tr><th>項番</th><th>種別名</th><th>項目名</th><th>エラー詳細</th></tr>{rows}</table></body></html>")
    return base64.b64encode(page.encode()).decode()


def _package_apply(no: int, s: Send) -> Node:
    return ("PackageApply", [
        ("No", no), ("SendNumber", s.send_number), ("SendDate", stamp(s.send_at)),
        ("WorkStatus", "処理待ち" if s.pending else ""), ("NormalCount", len(s.applications)),
        ("AllCount", s.apply_count), ("SupplementaryMessage", ""), ("ErrorCount", len(s.errors)),
        ("ErrorFile", _error_file(s.errors)), ("ApplyCount", len(s.applications)),
        *(_apply(i, a) for i, a in enumerate(s.applications, 1))])


# --- 申請データ送信 / 送信案件一覧 / 申請案件一覧 ------------------------------------------------------------

@bp.post("/access/apply")
@skeleton("SendNumber", "SendDate", "SendFileName", "SendApplyCount", "ErrorCount")
def apply() -> Any:
    with authorized() as (caller, b):
        root = parse.body()
        file_name = parse.text(root, "Upload/FileName")
        raw = parse.b64(parse.text(root, "Upload/FileData"))
        sent = b.bulk_apply(caller, file_name, raw, scenario=request.headers.get("X-Sandbox-Scenario"))
    # processed later (WorkStatus 処理待ち): errors are told by the lists, not here
    return respond([("SendNumber", sent["send_number"]), ("SendDate", stamp(sent["send_date"])),
                    ("SendFileName", sent["file_name"]), ("SendApplyCount", sent["apply_count"]),
                    ("ErrorCount", 0)], 202)


@bp.get("/access/apply;<param>")
@skeleton("SendNumber", "SendDateFrom", "SendDateTo", "PackageApplyCount")
def sended_applications(param: str) -> Any:
    key, _, value = param.partition("=")
    if key == "id":
        number, period, echo = parse.send_number(value), None, {"SendNumber": value}
    elif key == "date":
        number, period = None, parse.date_range(value)
        echo = {"SendDateFrom": value[:8], "SendDateTo": value[9:]}
    else:
        raise LegacyError("送信番号(id)または取得対象期間(date)を指定してください。")
    with authorized() as (caller, b):
        sends = b.list_sends(caller, send_number=number, sent=period)
    echo["PackageApplyCount"] = "0"
    if not sends:
        raise LegacyError("該当する申請情報が存在しません。指定した取得対象期間を確認してください。" if period else NO_CASE,
                          echo=echo)
    limit = legacy_settings().list_limit
    if len(sends) > limit:
        raise LegacyError(f"取得件数が上限（{limit}件）を超えています。取得対象期間を短くして再度取得してください。",
                          legacy_settings().list_limit_status, echo=echo)
    return respond([("SendNumber", number or ""), ("SendDateFrom", day(period[0]) if period else ""),
                    ("SendDateTo", day(period[1]) if period else ""), ("PackageApplyCount", len(sends)),
                    *(_package_apply(i, s) for i, s in enumerate(sends, 1))])


@bp.get("/access/apply/<send_number>")
@skeleton("SendNumber", "ErrorCount", "ErrorFile", "ApplyCount")
def arrived_applications(send_number: str) -> Any:
    parse.send_number(send_number)
    with authorized() as (caller, b):
        sends = b.list_sends(caller, send_number=send_number)
    if not sends:
        raise LegacyError(NO_CASE, echo={"SendNumber": send_number})
    s = sends[0]
    return respond([("SendNumber", s.send_number), ("ErrorCount", len(s.errors)), ("ErrorFile", _error_file(s.errors)),
                    ("ApplyCount", len(s.applications)), *(_apply(i, a) for i, a in enumerate(s.applications, 1))])


# --- 状況照会 -----------------------------------------------------------------------------------------------

@bp.get("/access/reference/<arrive_id>")
@skeleton("ArriveID", "ProcName", "AmendMessage", "CommentMessage", "DocumentMessage", "PayMessage", "Status",
          "ArriveDate", "ExamStartDate", "ExamEndDate", "ProcEndDate", "WithdrawFlag", "WithdrawType",
          "ReintroductionFlag")
def reference(arrive_id: str) -> Any:
    parse.arrive_id(arrive_id)
    with authorized() as (caller, b):
        a = b.get_application(caller, arrive_id)
    notices = a.get("notice_list", [])
    amends = [n for n in notices if n.get("notice_data_type") == "補正" and "correct_completed_date" not in n]
    comments = [n for n in notices if n.get("notice_data_type") != "補正"]
    docs = a.get("official_list", [])
    status = _status(a["status"])
    history: list[Node] = [("ApplyHistory", [("ApplyHistorySubID", 1), ("RegDate", stamp(a["arrive_date"])),
                                             ("OperatorType", "送信"), ("ProcessType", "新規申請"),
                                             ("ApplyStatus", "到達"), ("PayNumber", ""), ("PayStatus", ""),
                                             ("TotalFee", ""), ("PayExpiredDate", "")])]
    for n in notices:
        if n.get("notice_data_type") == "補正":
            history.append(("ApplyHistory", [("ApplyHistorySubID", len(history) + 1), ("RegDate", stamp(n["issue_date"])),
                                             ("OperatorType", "受信"), ("ProcessType", "補正指示通知"),
                                             ("ApplyStatus", "審査中（補正待ち）"), ("PayNumber", ""), ("PayStatus", ""),
                                             ("TotalFee", ""), ("PayExpiredDate", "")]))
    return respond([
        ("ArriveID", a["arrive_id"]), ("ProcName", a["proc_name"]),
        ("AmendMessage", f"補正待ちの補正通知が{len(amends)}件あります。補正情報を確認し、補正を行ってください。"
         if amends else ""),
        ("CommentMessage", f"コメントが{len(comments)}件あります。" if comments else ""),
        ("DocumentMessage", f"公文書が{len(docs)}件あります。" if docs else ""),
        ("PayMessage", "納付待ちの納付情報があります。" if a["pay_status"] == "納付待ち" else ""),
        ("Status", status), ("ArriveDate", stamp(a["arrive_date"])), ("ExamStartDate", ""), ("ExamEndDate", ""),
        ("ProcEndDate", ""), ("WithdrawFlag", "1" if a["withdraw_flag"] else "0"), ("WithdrawType", "0"),
        ("ReintroductionFlag", "0"), *history])


# --- 取下げ / 補正 -------------------------------------------------------------------------------------------

def _upload(root: Any) -> tuple[str, bytes]:
    return parse.one_application(parse.b64(parse.text(root, "Upload/FileData")), services().settings.max_file_bytes)


def _receipt(arrive_id: str, case: dict[str, Any], new_arrive_id: str, apply_type: str) -> Any:
    forms = case.get("apply_form", {}).get("form", [])
    files = case.get("apply_form", {}).get("attached_file", [])
    return respond([
        ("ArriveID", arrive_id), ("ProcName", case["proc_name"]), ("ArriveDate", stamp(case.get("arrive_date"))),
        ("NewArriveID", new_arrive_id), ("ArriveResult", "到達"), ("ApplyType", apply_type),
        ("MinistryName", case.get("ministry_name", "")), ("ReceptionDesk", RECEPTION_DESK),
        ("ApplicantName", case["applicant_name"]), ("ApplyForm", [("FormName", f["form_name"]) for f in forms]),
        ("ApplyFile", [("FileName", f["attached_file_name"]) for f in files]), ("OrgDistFileSend", "")], 202)


@bp.post("/access/withdrawal")
@skeleton(*RECEIPT)
def withdraw() -> Any:
    with authorized() as (caller, b):
        root = parse.body()
        arrive_id = parse.arrive_id_in(root)
        _proc_id, package = _upload(root)
        done = b.withdraw_by_application(caller, arrive_id, package)  # 取下げ申請 (9990000000000008) only
    forms = [{"form_name": name} for name in done["form_names"]]
    return _receipt(arrive_id, {**done, "apply_form": {"form": forms}}, done["new_arrive_id"], "取下げ")


def _resubmit(*, finished_is_system_error: bool) -> Any:
    with authorized() as (caller, b):
        root = parse.body()
        arrive_id = parse.arrive_id_in(root)
        proc_id, package = _upload(root)
        if finished_is_system_error and _status(b.get_application(caller, arrive_id)["status"]) == "手続終了":
            raise LegacyError(SYSTEM_ERROR, 500)  # as recorded: amendapply on a case in 手続終了
        new = b.apply(caller, proc_id, f"{proc_id}.zip", package)
    return _receipt(arrive_id, new, new["arrive_id"], "補正")


@bp.post("/access/reamend")
@skeleton(*RECEIPT)
def reamend() -> Any:
    return _resubmit(finished_is_system_error=False)


@bp.post("/access/amendapply")
@skeleton(*RECEIPT)
def amendapply() -> Any:
    return _resubmit(finished_is_system_error=True)


@bp.post("/access/partamend")
@skeleton(*RECEIPT)
def partamend() -> Any:
    with authorized() as (caller, b):
        root = parse.body()
        arrive_id = parse.arrive_id_in(root)
        if not (parse.flag(root, "Target/BasicFormFlag") | parse.flag(root, "Target/AttachedFlag")):
            raise LegacyError("補正対象（BasicFormFlag, AttachedFlag）のいずれかに1を指定してください。")
        proc_id, package = _upload(root)
        b.amend(caller, arrive_id, f"{proc_id}.zip", package)
        case = b.get_application(caller, arrive_id)
    return _receipt(arrive_id, case, "", "補正")  # 部分補正 keeps its 到達番号: NewArriveID empty


@bp.get("/access/amend/<arrive_id>")
@skeleton("ArriveID", "ProcName", "CorrectType", "AmendDocType")
def amends(arrive_id: str) -> Any:
    parse.arrive_id(arrive_id)
    with authorized() as (caller, b):
        a = b.get_application(caller, arrive_id)
        official: list[Node] = []
        for n in (n for n in a.get("notice_list", []) if n.get("notice_data_type") == "補正"):
            detail = b.get_notice(caller, arrive_id, n["notice_sub_id"])["notice"]
            files = {"hoseitsuuchi.xml": _doc_xml(detail["notice_title"], detail["notice_sentence"])}
            official.append(("Official", [
                ("NoticeSubID", n["notice_sub_id"]), ("CorrectRequestedDate", stamp(n["issue_date"])),
                ("CorrectExpiredDate", day(n.get("correct_expired_date"))),
                ("CorrectCompletedDate", stamp(n.get("correct_completed_date"))), ("DocTitle", n["notice_title"]),
                ("FileData", base64.b64encode(_zip(files)).decode()),
                ("File", [("FileName", name) for name in files])]))
    return respond([("ArriveID", a["arrive_id"]), ("ProcName", a["proc_name"]), ("CorrectType", "0"),
                    ("AmendDocType", "4"), *official])


# --- 公文書・コメント --------------------------------------------------------------------------------------

def _doc_xml(title: str, sentence: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<DOC VERSION="1.0"><FRONT><TITLE>'
            f"{html.escape(title)}</TITLE></FRONT><BODY><MAINTXT>{html.escape(sentence)}</MAINTXT></BODY></DOC>\n"
            ).encode()


class _ShiftJisName(zipfile.ZipInfo):
    """An entry name in Shift_JIS without the UTF-8 flag, as the real server wrote Japanese names."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        try:
            return self.filename.encode("ascii"), self.flag_bits
        except UnicodeEncodeError:
            return self.filename.encode("cp932"), self.flag_bits & ~0x800


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(_ShiftJisName(name, date_time=(2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _reencoded(raw: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return _zip({i.filename: z.read(i) for i in z.infolist() if not i.is_dir()})


@bp.get("/access/notice/<arrive_id>")
@skeleton("ArriveID", "ProcName")
def notices(arrive_id: str) -> Any:
    parse.arrive_id(arrive_id)
    with authorized() as (caller, b):
        a = b.get_application(caller, arrive_id)
        read = b.notices_read(caller, arrive_id)
    comments = [("Comment", [("NoticeSubID", n["notice_sub_id"]), ("IssueDate", stamp(n["issue_date"])),
                             ("DocTitle", n["notice_title"]), ("File", [("FileName", "comment.xml")]),
                             ("Reading", "既読" if n["notice_sub_id"] in read else "未読")])
                for n in a.get("notice_list", []) if n.get("notice_data_type") != "補正"]
    official = [("Official", [("NoticeSubID", d["notice_sub_id"]), ("IssueDate", stamp(d["allowed_date"])),
                              ("DocTitle", d["doc_title"]), ("DownloadDate", stamp(d.get("doc_download_date")))])
                for d in a.get("official_list", [])]
    return respond([("ArriveID", a["arrive_id"]), ("ProcName", a["proc_name"]), *comments, *official])


@bp.get("/access/officialdocument/<arrive_id>/<sub>")
@skeleton("ArriveID", "NoticeSubID", "Download")
def officialdocument(arrive_id: str, sub: str) -> Any:
    parse.arrive_id(arrive_id)
    with authorized() as (caller, b):
        doc = b.get_official_document(caller, arrive_id, parse.notice_sub_id(sub))
    data = _reencoded(base64.b64decode(doc["file_data"]))
    return respond([("ArriveID", arrive_id), ("NoticeSubID", sub),
                    ("Download", [("FileData", base64.b64encode(data).decode())])])


def _done_shape(done: dict[str, Any], title: str, date: str, files: list[str]) -> Any:
    return respond([("ArriveID", done["arrive_id"]), ("NoticeSubID", done["notice_sub_id"]),
                    ("ProcName", done["proc_name"]), ("DocTitle", title), ("DownloadDate", stamp(date)),
                    ("File", [("FileName", n) for n in files])])


@bp.put("/access/officialdocument")
@skeleton("ArriveID", "NoticeSubID", "ProcName", "DocTitle", "DownloadDate", "File")
def done_officialdocument() -> Any:
    with authorized() as (caller, b):
        root = parse.body()
        arrive_id, sub = parse.notice_in(root)
        names = [f["file_name"] for f in b.get_official_document(caller, arrive_id, sub)["file_name_list"]]
        done = b.complete_official_document(caller, arrive_id, sub)
        doc = next(d for d in b.get_application(caller, arrive_id).get("official_list", [])
                   if d["notice_sub_id"] == sub)
    return _done_shape(done, doc["doc_title"], doc.get("doc_download_date", ""), names)


@bp.post("/access/officialdocument/verify")
@skeleton("ArriveID", "ErrorCount", "DocumentFileName", "AttachedFileName", "VerifyResult")
def verify_officialdocument() -> Any:
    with authorized() as (caller, b):
        root = parse.body()
        arrive_id = parse.arrive_id_in(root)
        raw = parse.b64(parse.text(root, "Upload/FileData"))
        xml_name = parse.text(root, "Upload/SigVerificationXMLFileName")
        b.get_application(caller, arrive_id)  # the caller's own case
        result = b.verify_official_document(raw, xml_name)
    entry = result["verify_result"][0]
    official = entry["official"]
    return respond([("ArriveID", arrive_id), ("ErrorCount", 0 if official["validation_result"] == VALID else 1),
                    ("DocumentFileName", xml_name), ("AttachedFileName", result.get("attached_file_name", "")),
                    ("VerifyResult", [("Official", _camel({**official, "validation_result": "正常です。"}
                                                          if official["validation_result"] == VALID else official)),
                                      *(("Government", _camel(g)) for g in entry.get("government", []))])])


def _camel(d: dict[str, Any]) -> list[Node]:
    """validation_result → ValidationResult, the legacy spelling of the same items."""
    return [("".join(p.capitalize() for p in k.split("_")).replace("Dn", "DN"), v) for k, v in d.items()]


@bp.get("/access/comment/<arrive_id>/<sub>")
@skeleton("ArriveID", "NoticeSubID", "Download")
def comment(arrive_id: str, sub: str) -> Any:
    parse.arrive_id(arrive_id)
    with authorized() as (caller, b):
        n = b.get_notice(caller, arrive_id, parse.notice_sub_id(sub))["notice"]
    data = _zip({"comment.xml": _doc_xml(n["notice_title"], n["notice_sentence"])})
    return respond([("ArriveID", arrive_id), ("NoticeSubID", sub),
                    ("Download", [("FileData", base64.b64encode(data).decode())])])


@bp.put("/access/comment")
@skeleton("ArriveID", "NoticeSubID", "ProcName", "DocTitle", "DownloadDate", "File")
def done_comment() -> Any:
    with authorized() as (caller, b):
        root = parse.body()
        arrive_id, sub = parse.notice_in(root)
        done = b.complete_notice(caller, arrive_id, sub)
        n = b.get_notice(caller, arrive_id, sub)["notice"]
    return _done_shape(done, n["notice_title"], done["read_date"], ["comment.xml"])


# --- 電子納付 -----------------------------------------------------------------------------------------------

@bp.get("/access/bank")
@skeleton("TrustBank", "ShinkinBank", "CreditUnion", "NorinchukinBank", "LabourBank", "FinancialTypeListDate")
def banks() -> Any:
    with authorized() as (_caller, b):
        listing = b.list_banks()
    banks = listing["bank_list"]

    def bank(x: dict[str, Any]) -> Node:
        return ("Bank", [("FinancialName", x["financial_name"]), ("ServiceName", x.get("service_name", "")),
                         ("Url", x.get("url", ""))])

    return respond([
        ("TrustBank", [(f"Initial@Name={i['initial_name']}", [bank(x) for x in i["bank"]]) for i in banks["trust_bank"]]),
        *((tag, [bank(x) for x in banks[key]["bank"]]) for tag, key in (
            ("ShinkinBank", "shinkin_bank"), ("CreditUnion", "credit_union"), ("NorinchukinBank", "norinchukin_bank"),
            ("LabourBank", "labour_bank"))),
        ("FinancialTypeListDate", day(listing["financial_type_list_date"]))])


@bp.get("/access/payment/<arrive_id>")
@skeleton("ArriveID", "ProcName")
def payments(arrive_id: str) -> Any:
    parse.arrive_id(arrive_id)
    with authorized() as (caller, b):
        p = b.get_payment(caller, arrive_id)
    return respond([("ArriveID", p["arrive_id"]), ("ProcName", p["proc_name"]), *(
        ("ApplyPay", [("PayNumber", x["pay_number"]), ("ConfirmNumber", x["confirm_number"]),
                      ("FacilityNumber", x["facility_number"]), ("PayNameKana", x["pay_name_kana"]),
                      ("PayExpiredDate", day(x["pay_expired"])), ("TotalFee", x["total_fee"]),
                      ("PayStatus", x["pay_status"]), ("PayDate", day(x.get("pay_date"))), ("PayMemo", ""),
                      ("PayFlag", x["pay_flag"])]) for x in p.get("apply_pay_list", []))])
