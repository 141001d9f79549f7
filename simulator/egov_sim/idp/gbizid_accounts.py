"""GビズID accounts and their lifecycle, without Flask (the operator's admin API calls these).

Prime accounts are applied for with documents (申請書 + 印鑑証明書 / 印鑑登録証明書) and reviewed:
the outcome is decided at submission — from the documents, duplicate account IDs and a seeded draw
at the configured deficiency rate (seed 003: 4–7 %) — and becomes visible when the review period
has passed on the virtual clock (or at once when an operator decides). Entry accounts register
themselves; members are created by a prime; then representative change, suspension/resumption,
SMS number change, authenticator (de)registration, service mandates and delegation (委任).
"""

from __future__ import annotations

import random
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyotp
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..clock import format_datetime, parse_duration
from ..store.models import (
    GbizAccount,
    GbizAccountEvent,
    GbizDelegation,
    GbizPrimeApplication,
    GbizRelyingParty,
)
from ..world.people import is_valid_corporate_number

if TYPE_CHECKING:
    from ..services import Services

ENTRY, PRIME, MEMBER = "1", "2", "3"
CORPORATION, SOLE_PROPRIETOR = "1", "2"
ACCOUNT_TYPE_NAMES = {ENTRY: "gBizIDエントリー", PRIME: "gBizIDプライム", MEMBER: "gBizIDメンバー"}
REVIEWING, APPROVED, DEFICIENT = "審査中", "承認", "不備"
APPLICATION_FORM, SEAL_CERTIFICATE = "申請書", "印鑑証明書"
SEAL_REGISTRATION = "印鑑登録証明書"  # 個人事業主: the personal seal registration certificate
CERTIFICATE_VALIDITY = timedelta(days=92)  # 発行日から3ヶ月以内の原本

COMPANY_FIELDS = ("corporate_number", "name", "en_name", "prefecture_name", "address1", "address2",
                  "rep_last_nm", "rep_first_nm", "rep_last_nm_kana", "rep_first_nm_kana", "birthday_ymd")
USER_FIELDS = ("user_last_nm", "user_first_nm", "user_last_nm_kana", "user_first_nm_kana", "user_post_code",
               "user_prefecture_name", "user_address1", "user_address2", "user_address3", "user_department",
               "user_tel_no_contact", "user_birthday_ymd")
REPRESENTATIVE_FIELDS = ("rep_last_nm", "rep_first_nm", "rep_last_nm_kana", "rep_first_nm_kana", "birthday_ymd")

# 不備 causes in the operator's report (seed 003, 表 1-3) with their share of deficiencies there,
# used when the reviewers find a problem the submitted data does not show.
DEFICIENCY_REASONS: dict[str, str] = {
    "missing_certificate": "印鑑（登録）証明書の添付漏れ",
    "copied_certificate": "印鑑（登録）証明書のコピー添付（原本が必要です）",
    "expired_certificate": "印鑑（登録）証明書の期限切れ（発行日から3ヶ月以内の原本が必要です）",
    "mismatch_public_records": "公的書類との相違（申請内容と印鑑（登録）証明書の記載が一致しません）",
    "edited_application": "申請書の修正（手書き訂正・修正、画面コピー、否認済申請書等）",
    "duplicate_account_id": "アカウントID重複（同じメールアドレスのアカウントが既にあります）",
}
_REVIEW_FINDINGS = [("edited_application", 13463), ("mismatch_public_records", 3790), ("missing_certificate", 3484),
                    ("duplicate_account_id", 1100), ("copied_certificate", 596)]

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_KANA = re.compile(r"^[ァ-ヶー　 ]+$")
_MOBILE = re.compile(r"^0[789]0\d{8}$")
_YMD = re.compile(r"^(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")


class AccountError(Exception):
    """A refused lifecycle operation. status: 400 bad input, 404 unknown, 409 conflicting state."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# ---------------------------------------------------------------------------- validation

def normalise_account_id(value: object) -> str:
    text = str(value or "").strip()
    if len(text) > 128 or not _EMAIL.match(text):
        raise AccountError("アカウントID（メールアドレス）の形式が正しくありません。")
    return text.lower()


def _mobile(value: object) -> str:
    number = re.sub(r"[-\s]", "", str(value or ""))
    if not _MOBILE.match(number):
        raise AccountError("SMS受信用の携帯電話番号（070/080/090で始まる11桁）を指定してください。")
    return number


def _password(value: object) -> str:
    text = str(value or "")
    if not 8 <= len(text) <= 128:
        raise AccountError("パスワードは8文字以上128文字以下で指定してください。")
    return text


def _fields(data: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    values = {name: str(data.get(name) or "").strip() for name in names}
    for name in names:
        value = values[name]
        if name.endswith("_kana") and value and not _KANA.match(value):
            raise AccountError(f"{name} は全角カタカナで指定してください。")
        if name.endswith("post_code") and value and not re.fullmatch(r"\d{7}", value):
            raise AccountError(f"{name} は7桁の数字で指定してください（ハイフンなし）。")
        if name.endswith("prefecture_name") and value and not (value.isdigit() and 1 <= int(value) <= 47
                                                                and len(value) == 2):
            raise AccountError(f"{name} はJIS X 0401の都道府県コード（01〜47）で指定してください。")
        if name.endswith("birthday_ymd") and value and not _YMD.match(value):
            raise AccountError(f"{name} はYYYYMMDD形式で指定してください。")
    return values


def _require(values: Mapping[str, str], *names: str) -> None:
    missing = [n for n in names if not values.get(n)]
    if missing:
        raise AccountError(f"必須項目が入力されていません: {', '.join(missing)}")


def _corp_type(value: object) -> str:
    text = str(value or CORPORATION)
    if text not in (CORPORATION, SOLE_PROPRIETOR):
        raise AccountError("corp_type は \"1\"（法人）または \"2\"（個人事業主）です。")
    return text


# ---------------------------------------------------------------------------- lookup and views

def find_account(s: Session, key: str | int) -> GbizAccount:
    """By row id, sub or account ID (e-mail, case-insensitive)."""
    text = str(key).strip()
    row = None
    if text.isdigit():
        row = s.get(GbizAccount, int(text))
    if row is None:
        row = s.scalars(select(GbizAccount).where(
            (GbizAccount.sub == text) | (GbizAccount.account_id == text.lower()))).first()
    if row is None:
        raise AccountError(f"アカウントが見つかりません: {text}", 404)
    return row


def find_application(s: Session, number: str) -> GbizPrimeApplication:
    row = s.scalars(select(GbizPrimeApplication).where(GbizPrimeApplication.number == number)).first()
    if row is None:
        raise AccountError(f"申請が見つかりません: {number}", 404)
    return row


def application_status(app: GbizPrimeApplication, now: datetime) -> str:
    return REVIEWING if now < app.review_due_at else app.outcome


@dataclass(frozen=True)
class Standing:
    """Whether an account may log in now, and why not (Japanese, shown on the login page)."""

    usable: bool
    reason: str = ""
    code: str = "active"  # active | suspended | reviewing | deficient | parent_suspended


MSG_SUSPENDED = "このアカウントは利用停止中です。GビズIDヘルプデスクにお問い合わせください。"
MSG_REVIEWING = "gBizIDプライムの登録申請は審査中です。承認のメールが届くまでお待ちください。"
MSG_DEFICIENT = "gBizIDプライムの登録申請に不備があったため、ログインできません。申請書類を確認のうえ再申請してください。"
MSG_PARENT_SUSPENDED = "所属するgBizIDプライムのアカウントが利用停止中のため、ログインできません。"


def standing(s: Session, account: GbizAccount, now: datetime) -> Standing:
    if account.status == "suspended":
        return Standing(False, MSG_SUSPENDED, "suspended")
    if account.status == "applied":
        app = s.get(GbizPrimeApplication, account.application_ref) if account.application_ref else None
        status = application_status(app, now) if app else DEFICIENT
        if status == REVIEWING:
            return Standing(False, MSG_REVIEWING, "reviewing")
        if status == DEFICIENT:
            return Standing(False, MSG_DEFICIENT, "deficient")
    if account.parent_ref is not None:
        parent = s.get(GbizAccount, account.parent_ref)
        if parent is None or parent.status == "suspended":
            return Standing(False, MSG_PARENT_SUSPENDED, "parent_suspended")
    return Standing(True)


def account_view(s: Session, account: GbizAccount, now: datetime) -> dict[str, Any]:
    parent = s.get(GbizAccount, account.parent_ref) if account.parent_ref else None
    state = standing(s, account, now)
    events = s.scalars(select(GbizAccountEvent).where(GbizAccountEvent.account_ref == account.id)
                       .order_by(GbizAccountEvent.id)).all()
    return {
        "id": account.id, "sub": account.sub, "account_id": account.account_id,
        "account_type": account.account_type, "account_type_name": ACCOUNT_TYPE_NAMES[account.account_type],
        "corp_type": account.corp_type, "status": account.status, "standing": state.code,
        "can_login": state.usable, "parent_id": parent.sub if parent else None,
        "parent_account_id": parent.account_id if parent else None, "member_role": account.member_role,
        "second_factor": "none" if account.account_type == ENTRY else ("app" if account.totp_secret else "sms"),
        "sms_number": account.sms_number, "mandates": list(account.mandates or []),
        "company": dict(account.company), "user": dict(account.user),
        "created_at": format_datetime(account.created_at),
        "events": [{"kind": e.kind, "at": format_datetime(e.at), **e.data} for e in events],
    }


def application_view(app: GbizPrimeApplication, now: datetime) -> dict[str, Any]:
    status = application_status(app, now)
    return {
        "number": app.number, "account_id": app.account_id, "corp_type": app.corp_type, "status": status,
        "submitted_at": format_datetime(app.submitted_at), "review_due_at": format_datetime(app.review_due_at),
        "deficiencies": list(app.deficiencies) if status == DEFICIENT else [],
        "documents": list(app.documents), "decided_by": app.decided_by if status != REVIEWING else None,
    }


def _event(s: Session, account: GbizAccount, kind: str, now: datetime, **data: Any) -> None:
    s.add(GbizAccountEvent(account_ref=account.id, kind=kind, at=now, data=data))


def _taken(s: Session, account_id: str) -> bool:
    return s.scalars(select(func.count()).select_from(GbizAccount)
                     .where(GbizAccount.account_id == account_id)).one() > 0


def _new_account(s: Session, now: datetime, **values: Any) -> GbizAccount:
    account = GbizAccount(sub=str(uuid.uuid4()), created_at=now, **values)
    s.add(account)
    s.flush()
    return account


# ---------------------------------------------------------------------------- entry (self-registration)

def register_entry(services: Services, data: Mapping[str, Any]) -> dict[str, Any]:
    """gBizIDエントリー: registered online by the user; ID and password only (no second factor)."""
    account_id = normalise_account_id(data.get("account_id"))
    password = _password(data.get("password"))
    corp_type = _corp_type(data.get("corp_type"))
    company = _fields(data, COMPANY_FIELDS)
    user = _fields(data, USER_FIELDS)
    _require(user, "user_last_nm", "user_first_nm")
    if company["corporate_number"] and not is_valid_corporate_number(company["corporate_number"]):
        raise AccountError("法人番号が正しくありません（13桁、先頭はチェックデジット）。")
    company["birthday_ymd"] = ""  # entry accounts have no verified birthday
    user["user_birthday_ymd"] = ""
    now = services.clock.now()
    with services.db.session() as s:
        if _taken(s, account_id):
            raise AccountError("このアカウントIDは既に登録されています。", 409)
        account = _new_account(s, now, account_id=account_id, password_hash=generate_password_hash(password),
                               account_type=ENTRY, corp_type=corp_type, status="active", company=company,
                               user=user, sms_number="")
        _event(s, account, "registered", now, account_type=ENTRY)
        return account_view(s, account, now)


# ---------------------------------------------------------------------------- prime application and review

def _document(documents: list[dict[str, Any]], *kinds: str) -> dict[str, Any] | None:
    return next((d for d in documents if d.get("kind") in kinds), None)


def document_findings(corp_type: str, company: Mapping[str, str], documents: list[dict[str, Any]],
                      submitted_at: datetime) -> list[str]:
    """Deficiency codes the papers themselves show (what a reviewer checks, seed 003 図 1-3)."""
    found: list[str] = []
    form = _document(documents, APPLICATION_FORM)
    if form is None or form.get("edited") or form.get("screen_copy") or not form.get("original", True):
        found.append("edited_application")
    certificate = _document(documents, SEAL_CERTIFICATE, SEAL_REGISTRATION)
    if certificate is None:
        found.append("missing_certificate")
    else:
        if not certificate.get("original", True):
            found.append("copied_certificate")
        issued = str(certificate.get("issued_on") or "")
        try:
            issued_at = datetime.fromisoformat(issued) if issued else submitted_at
        except ValueError:
            issued_at = submitted_at - CERTIFICATE_VALIDITY * 2
        if submitted_at - issued_at > CERTIFICATE_VALIDITY:
            found.append("expired_certificate")
        if certificate.get("matches") is False:
            found.append("mismatch_public_records")
    if (corp_type == CORPORATION and not is_valid_corporate_number(company.get("corporate_number", ""))
            and "mismatch_public_records" not in found):
        found.append("mismatch_public_records")
    return found


def _review_draw(seed: int, number: str, rate: float) -> str | None:
    """The reviewers' own finding for an application whose papers look fine (seeded, repeatable)."""
    rng = random.Random(f"{seed}:{number}")
    if rng.random() >= rate:
        return None
    codes, weights = zip(*_REVIEW_FINDINGS, strict=True)
    return rng.choices(codes, weights=weights)[0]


def _next_number(s: Session, now: datetime) -> str:
    count = s.scalars(select(func.count()).select_from(GbizPrimeApplication)).one()
    return f"P{now:%Y%m%d}{count + 1:06d}"


def apply_prime(services: Services, data: Mapping[str, Any]) -> dict[str, Any]:
    """Submit a gBizIDプライム application (by post). Returns the application view; its outcome
    shows after the review period, or when an operator decides."""
    account_id = normalise_account_id(data.get("account_id"))
    password = _password(data.get("password"))
    corp_type = _corp_type(data.get("corp_type"))
    sms_number = _mobile(data.get("sms_number"))
    company = _fields(data, COMPANY_FIELDS)
    user = _fields(data, USER_FIELDS)
    _require(company, "name", "prefecture_name", "address1", "rep_last_nm", "rep_first_nm",
             "rep_last_nm_kana", "rep_first_nm_kana")
    _require(user, "user_last_nm", "user_first_nm", "user_last_nm_kana", "user_first_nm_kana",
             "user_birthday_ymd")
    if corp_type == CORPORATION:
        _require(company, "corporate_number")
    documents = data.get("documents")
    if documents is None:
        documents = [{"kind": APPLICATION_FORM, "original": True},
                     {"kind": SEAL_CERTIFICATE if corp_type == CORPORATION else SEAL_REGISTRATION, "original": True}]
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise AccountError("documents は書類の配列です: [{kind: 申請書|印鑑証明書|印鑑登録証明書, original, ...}]")
    now = services.clock.now()
    settings = services.settings
    review_period = parse_duration(settings.gbizid_review_period)
    with services.db.session() as s:
        number = _next_number(s, now)
        findings = document_findings(corp_type, company, documents, now)
        duplicate = _taken(s, account_id)
        if duplicate:
            findings.append("duplicate_account_id")
        if not findings:
            drawn = _review_draw(settings.seed, number, settings.gbizid_deficiency_rate)
            findings = [drawn] if drawn else []
        outcome = DEFICIENT if findings else APPROVED
        app = GbizPrimeApplication(number=number, account_id=account_id, corp_type=corp_type,
                                   data={"company": company, "user": user, "sms_number": sms_number},
                                   documents=documents, submitted_at=now, review_due_at=now + review_period,
                                   outcome=outcome, deficiencies=[_deficiency(c) for c in findings])
        s.add(app)
        s.flush()
        if not duplicate:
            account = _new_account(s, now, account_id=account_id, password_hash=generate_password_hash(password),
                                   account_type=PRIME, corp_type=corp_type, status="applied", company=company,
                                   user=user, sms_number=sms_number, application_ref=app.id)
            app.account_ref = account.id
            _event(s, account, "applied", now, number=number)
        return application_view(app, now)


def _deficiency(code: str) -> dict[str, str]:
    return {"code": code, "reason": DEFICIENCY_REASONS[code]}


def decide(services: Services, number: str, outcome: str | None = None,
           reasons: list[str] | None = None) -> dict[str, Any]:
    """The operator finishes a review now: the drawn outcome, or the one given (承認 | 不備 + reasons)."""
    now = services.clock.now()
    if outcome not in (None, APPROVED, DEFICIENT):
        raise AccountError("decision は \"承認\" または \"不備\" です。")
    unknown = [r for r in reasons or [] if r not in DEFICIENCY_REASONS]
    if unknown:
        raise AccountError(f"不明な不備理由: {', '.join(unknown)} (known: {', '.join(DEFICIENCY_REASONS)})")
    with services.db.session() as s:
        app = find_application(s, number)
        if application_status(app, now) != REVIEWING:
            raise AccountError(f"申請 {number} は審査済みです（{app.outcome}）。", 409)
        if outcome == APPROVED and app.account_ref is None:
            raise AccountError("アカウントIDが重複しているため承認できません。", 409)
        if outcome is not None:
            app.outcome = outcome
            codes = reasons or ([d["code"] for d in app.deficiencies] or ["edited_application"])
            app.deficiencies = [_deficiency(c) for c in codes] if outcome == DEFICIENT else []
            app.decided_by = "operator"
        app.review_due_at = now
        if app.account_ref is not None:
            account = s.get(GbizAccount, app.account_ref)
            assert account is not None
            _event(s, account, "reviewed", now, number=number, outcome=app.outcome)
        return application_view(app, now)


def get_application(services: Services, number: str) -> dict[str, Any]:
    now = services.clock.now()
    with services.db.session() as s:
        return application_view(find_application(s, number), now)


# ---------------------------------------------------------------------------- members and changes

def _with_account(services: Services, key: str | int, change: Any) -> dict[str, Any]:
    now = services.clock.now()
    with services.db.session() as s:
        account = find_account(s, key)
        change(s, account, now)
        return account_view(s, account, now)


def _require_prime(s: Session, account: GbizAccount, now: datetime, action: str) -> None:
    if account.account_type != PRIME or standing(s, account, now).code in ("reviewing", "deficient"):
        raise AccountError(f"{action}はgBizIDプライムのアカウントだけが行えます。", 409)


def create_member(services: Services, prime_key: str | int, data: Mapping[str, Any]) -> dict[str, Any]:
    """A gBizIDメンバー created by a prime (or by a member with the administrator role for its prime)."""
    account_id = normalise_account_id(data.get("account_id"))
    password = _password(data.get("password") or secrets.token_urlsafe(12))
    sms_number = _mobile(data.get("sms_number"))
    role = str(data.get("role") or "member")
    if role not in ("member", "administrator"):
        raise AccountError("role は member または administrator です。")
    user = _fields(data, USER_FIELDS)
    _require(user, "user_last_nm", "user_first_nm")
    mandates = [str(c) for c in data.get("mandates") or []]
    now = services.clock.now()
    with services.db.session() as s:
        creator = find_account(s, prime_key)
        prime = creator
        if creator.account_type == MEMBER and creator.member_role == "administrator" and creator.parent_ref:
            prime = s.get(GbizAccount, creator.parent_ref) or creator
        if prime.account_type != PRIME or not standing(s, prime, now).usable:
            raise AccountError("gBizIDメンバーは有効なgBizIDプライム（または管理者）だけが作成できます。", 409)
        if _taken(s, account_id):
            raise AccountError("このアカウントIDは既に登録されています。", 409)
        member = _new_account(s, now, account_id=account_id, password_hash=generate_password_hash(password),
                              account_type=MEMBER, corp_type=prime.corp_type, status="active", parent_ref=prime.id,
                              member_role=role, company={}, user=user, sms_number=sms_number, mandates=mandates)
        _event(s, member, "created", now, by=creator.account_id, role=role)
        _event(s, prime, "member_created", now, member=account_id)
        view = account_view(s, member, now)
        view["password"] = password
        return view


def change_representative(services: Services, key: str | int, data: Mapping[str, Any]) -> dict[str, Any]:
    """代表者変更 / 代表者情報変更 of a prime account (the new representative's names, kana, birthday)."""
    values = _fields(data, REPRESENTATIVE_FIELDS)
    _require(values, "rep_last_nm", "rep_first_nm", "rep_last_nm_kana", "rep_first_nm_kana")

    def change(s: Session, account: GbizAccount, now: datetime) -> None:
        _require_prime(s, account, now, "代表者変更")
        before = {k: account.company.get(k, "") for k in REPRESENTATIVE_FIELDS}
        account.company = {**account.company, **{k: v for k, v in values.items() if v or k != "birthday_ymd"}}
        _event(s, account, "representative_changed", now, before=before)
    return _with_account(services, key, change)


def suspend(services: Services, key: str | int, reason: str = "") -> dict[str, Any]:
    def change(s: Session, account: GbizAccount, now: datetime) -> None:
        if account.status == "suspended":
            raise AccountError("このアカウントは既に利用停止中です。", 409)
        account.status, account.suspended_at = "suspended", now
        _event(s, account, "suspended", now, reason=reason)
    return _with_account(services, key, change)


def resume(services: Services, key: str | int) -> dict[str, Any]:
    def change(s: Session, account: GbizAccount, now: datetime) -> None:
        if account.status != "suspended":
            raise AccountError("このアカウントは利用停止中ではありません。", 409)
        account.status, account.suspended_at = "active", None
        _event(s, account, "resumed", now)
    return _with_account(services, key, change)


def change_sms_number(services: Services, key: str | int, number: object) -> dict[str, Any]:
    sms_number = _mobile(number)

    def change(s: Session, account: GbizAccount, now: datetime) -> None:
        if account.account_type == ENTRY:
            raise AccountError("gBizIDエントリーはSMS認証を使いません。", 409)
        account.sms_number = sms_number
        _event(s, account, "sms_number_changed", now)
    return _with_account(services, key, change)


def register_app(services: Services, key: str | int) -> dict[str, Any]:
    """Register an authenticator app (TOTP, RFC 6238): from now on it replaces the SMS code."""
    secret = pyotp.random_base32()

    def change(s: Session, account: GbizAccount, now: datetime) -> None:
        if account.account_type == ENTRY:
            raise AccountError("gBizIDエントリーは二要素認証を使いません。", 409)
        account.totp_secret, account.totp_last_step = secret, None
        _event(s, account, "app_registered", now)
    view = _with_account(services, key, change)
    view["totp_secret"] = secret
    view["otpauth_uri"] = pyotp.TOTP(secret).provisioning_uri(name=view["account_id"], issuer_name="GビズID")
    return view


def deregister_app(services: Services, key: str | int) -> dict[str, Any]:
    """アプリ登録解除: back to SMS one-time codes."""
    def change(s: Session, account: GbizAccount, now: datetime) -> None:
        if not account.totp_secret:
            raise AccountError("認証アプリは登録されていません。", 409)
        account.totp_secret, account.totp_last_step = None, None
        _event(s, account, "app_deregistered", now)
    return _with_account(services, key, change)


def set_mandates(services: Services, key: str | int, client_ids: list[str]) -> dict[str, Any]:
    """The services (RP client_ids) an account is mandated to use (mandate_info)."""
    def change(s: Session, account: GbizAccount, now: datetime) -> None:
        unknown = [c for c in client_ids if s.get(GbizRelyingParty, c) is None]
        if unknown:
            raise AccountError(f"登録されていない行政サービス: {', '.join(unknown)}")
        account.mandates = list(dict.fromkeys(client_ids))
        _event(s, account, "mandates_changed", now, mandates=account.mandates)
    return _with_account(services, key, change)


def delegate(services: Services, delegator_key: str | int, data: Mapping[str, Any]) -> dict[str, Any]:
    """委任: the delegator (a prime) lets the delegate (e.g. a 社労士's prime account) act for it on one RP."""
    client_id = str(data.get("client_id") or "")
    categories = [str(c) for c in data.get("categories") or ["全て"]]
    now = services.clock.now()
    try:
        period_from = datetime.fromisoformat(str(data["period_from"])) if data.get("period_from") else now
        period_to = (datetime.fromisoformat(str(data["period_to"])) if data.get("period_to")
                     else period_from + timedelta(days=365))
    except ValueError as exc:
        raise AccountError(f"委任期間の形式が正しくありません: {exc}") from exc
    if period_to <= period_from:
        raise AccountError("委任期間の終了日は開始日より後にしてください。")
    with services.db.session() as s:
        delegator = find_account(s, delegator_key)
        delegate_account = find_account(s, str(data.get("delegate") or ""))
        rp = s.get(GbizRelyingParty, client_id)
        if rp is None:
            raise AccountError(f"登録されていない行政サービス: {client_id}")
        for who, role in ((delegator, "委任者"), (delegate_account, "受任者")):
            if who.account_type != PRIME or not standing(s, who, now).usable:
                raise AccountError(f"{role}は有効なgBizIDプライムのアカウントである必要があります。", 409)
        if delegator.id == delegate_account.id:
            raise AccountError("自分自身には委任できません。")
        count = s.scalars(select(func.count()).select_from(GbizDelegation)).one()
        row = GbizDelegation(delegation_no=f"D{now:%Y%m%d}{count + 1:06d}", delegator_ref=delegator.id,
                             delegate_ref=delegate_account.id, client_id=client_id, categories=categories,
                             period_from=period_from, period_to=period_to)
        s.add(row)
        _event(s, delegator, "delegated", now, delegation_no=row.delegation_no, to=delegate_account.account_id,
               client_id=client_id)
        _event(s, delegate_account, "delegation_received", now, delegation_no=row.delegation_no,
               by=delegator.account_id, client_id=client_id)
        return delegation_view(row, delegator, delegate_account, rp)


def revoke_delegation(services: Services, delegation_no: str) -> None:
    now = services.clock.now()
    with services.db.session() as s:
        row = s.scalars(select(GbizDelegation).where(GbizDelegation.delegation_no == delegation_no)).first()
        if row is None:
            raise AccountError(f"委任が見つかりません: {delegation_no}", 404)
        if row.revoked_at is not None:
            raise AccountError("この委任は既に解除されています。", 409)
        row.revoked_at = now


def delegation_view(row: GbizDelegation, delegator: GbizAccount, delegate_account: GbizAccount,
                    rp: GbizRelyingParty | None) -> dict[str, Any]:
    """The delegation_info entry (as the delegate sees it)."""
    return {
        "delegation_no": row.delegation_no, "system_cd": rp.system_cd if rp else "", "client_id": row.client_id,
        "period_from": row.period_from.strftime("%Y%m%d"), "period_to": row.period_to.strftime("%Y%m%d"),
        "categories": list(row.categories), "corp_no": delegator.company.get("corporate_number", ""),
        "firm_nm": delegator.company.get("name", ""), "delegator_id": delegator.sub,
        "delegate_id": delegate_account.sub,
    }


# ---------------------------------------------------------------------------- relying parties

APPROVAL_SCOPES = ("jp_gbizid_v1_ida", "role", "delegation_info")


def register_relying_party(services: Services, data: Mapping[str, Any]) -> dict[str, Any]:
    """Register an RP: client_id (generated unless given), secret (generated), redirect URIs and the
    optional scopes approved for it in advance. A redirect URI "/path" means the simulator's own origin."""
    client_id = str(data.get("client_id") or f"rp-{secrets.token_hex(8)}")
    if not re.fullmatch(r"[A-Za-z0-9._~-]{3,64}", client_id):
        raise AccountError("client_id は3〜64文字の英数字と . _ ~ - です。")
    redirect_uris = data.get("redirect_uris")
    if (not isinstance(redirect_uris, list) or not redirect_uris
            or not all(isinstance(u, str) and (u.startswith(("http://", "https://", "/")) and "#" not in u)
                       for u in redirect_uris)):
        raise AccountError("redirect_uris は http(s) のURL（または / で始まるパス）の配列です（フラグメント不可）。")
    approved = [str(x) for x in data.get("approved_scopes") or []]
    unknown = [x for x in approved if x not in APPROVAL_SCOPES]
    if unknown:
        raise AccountError(f"事前承認の対象ではないスコープ: {', '.join(unknown)}")
    with services.db.session() as s:
        if s.get(GbizRelyingParty, client_id) is not None:
            raise AccountError(f"client_id {client_id} は既に登録されています。", 409)
        rp = GbizRelyingParty(client_id=client_id, client_secret=str(data.get("client_secret") or
                                                                     secrets.token_urlsafe(32)),
                              name=str(data.get("name") or client_id), redirect_uris=list(redirect_uris),
                              approved_scopes=approved, system_cd=str(data.get("system_cd") or client_id[:16]))
        s.add(rp)
        return relying_party_view(rp)


def relying_party_view(rp: GbizRelyingParty) -> dict[str, Any]:
    return {"client_id": rp.client_id, "client_secret": rp.client_secret, "name": rp.name,
            "redirect_uris": list(rp.redirect_uris), "approved_scopes": list(rp.approved_scopes),
            "system_cd": rp.system_cd}


def review_period(services: Services) -> timedelta:
    return parse_duration(services.settings.gbizid_review_period)
