"""Tables. State only — the rules that act on them live in idp/, filing/ and ops/."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012 - SQLAlchemy's API


class ClockRow(Base):
    """The virtual clock (a single row, id=1)."""

    __tablename__ = "clock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    anchor_real: Mapped[float] = mapped_column(Float)
    anchor_virtual: Mapped[datetime] = mapped_column(DateTime)
    speed: Mapped[float] = mapped_column(Float, default=1.0)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)


class KeyPair(Base):
    """Signing keys generated per installation (purpose: egov-auth, gbizid, government-cert, ca...)."""

    __tablename__ = "key_pairs"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), index=True)
    private_pem: Mapped[str] = mapped_column(Text)
    certificate_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Setting(Base):
    """Small key/value facts about this installation (e.g. demo world created, secrets)."""

    __tablename__ = "settings_kv"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)


class Software(Base):
    """A registered API-capable software: client_id = software ID, client_secret = API key."""

    __tablename__ = "software"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_secret: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(256))
    redirect_uris: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Account(Base):
    """An e-Gov account (login ID is an e-mail address); may be backed by a GビズID account."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sub: Mapped[str] = mapped_column(String(64), unique=True)  # stable subject identifier (uuid)
    username: Mapped[str] = mapped_column(String(256), unique=True)  # e-mail address
    password_hash: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(256))
    name_kana: Mapped[str] = mapped_column(String(256), default="")
    corporation_name: Mapped[str] = mapped_column(String(256), default="")
    idp: Mapped[str] = mapped_column(String(32), default="egov")  # egov | gbizid
    gbizid_account_type: Mapped[str | None] = mapped_column(String(1), nullable=True)  # 1 entry, 2 prime, 3 member
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Certificate(Base):
    """A signing certificate known to the simulator (demo-world certificates, registered ones)."""

    __tablename__ = "certificates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    label: Mapped[str] = mapped_column(String(64), unique=True)  # valid | expired | revoked | unregistered ...
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    serial_hex: Mapped[str] = mapped_column(String(64), index=True)
    issuer: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(512))
    certificate_pem: Mapped[str] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(DateTime)
    not_after: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    p12: Mapped[bytes] = mapped_column(LargeBinary, default=b"")  # PKCS#12 (key + certificate)
    p12_password: Mapped[str] = mapped_column(String(128), default="")


class AuthCode(Base):
    __tablename__ = "auth_codes"
    code: Mapped[str] = mapped_column(String(128), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(16), default="egov")  # egov | gbizid
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    session_id: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(String(512), default="")
    nonce: Mapped[str | None] = mapped_column(String(512), nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(256), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class AuthSession(Base):
    """A login session (Keycloak's session_state). Tokens belong to one; logout revokes it."""

    __tablename__ = "auth_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(16), default="egov")
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    auth_time: Mapped[datetime] = mapped_column(DateTime)
    idp: Mapped[str] = mapped_column(String(32), default="egov")
    extidp_auth_time: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("auth_sessions.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Application(Base):
    """An accepted submission (申請案件). Status is derived from `timeline` + actions + the clock."""

    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    arrive_id: Mapped[str] = mapped_column(String(18), unique=True)
    send_number: Mapped[str] = mapped_column(String(18), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    trial: Mapped[bool] = mapped_column(Boolean, default=False)
    proc_id: Mapped[str] = mapped_column(String(16), index=True)
    apply_type: Mapped[str] = mapped_column(String(8))  # 新規申請 | 再提出
    first_arrive_id: Mapped[str | None] = mapped_column(String(18), nullable=True)
    send_at: Mapped[datetime] = mapped_column(DateTime)
    arrive_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    proc_name: Mapped[str] = mapped_column(String(1024))
    ministry_name: Mapped[str] = mapped_column(String(64))
    submission_destination: Mapped[str] = mapped_column(String(256))
    corporation_name: Mapped[str] = mapped_column(String(256))
    applicant_name: Mapped[str] = mapped_column(String(256))
    forms: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{form_id, form_name, file_name}]
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{name, file_name}]
    scenario: Mapped[str] = mapped_column(String(64), default="default")
    timeline: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{at, kind, ...}]
    signer_serial: Mapped[str | None] = mapped_column(String(64), nullable=True)
    package: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_applications_account_trial_arrive", "account_id", "trial", "arrive_at"),)


class ApplicationAction(Base):
    """Something a user or the agency did to a case after arrival (withdraw, amend, complete...)."""

    __tablename__ = "application_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# ---------------------------------------------------------------------------- GビズID (the OP's own data)

class GbizAccount(Base):
    """A GビズID account. account_type: "1" エントリー, "2" プライム, "3" メンバー; corp_type: "1" 法人,
    "2" 個人事業主. A prime applied for by post is created at application time and becomes usable
    once its review (GbizPrimeApplication) is approved."""

    __tablename__ = "gbizid_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sub: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(String(256), unique=True)  # the login ID: an e-mail address (lower case)
    password_hash: Mapped[str] = mapped_column(String(256))
    account_type: Mapped[str] = mapped_column(String(1))
    corp_type: Mapped[str] = mapped_column(String(1), default="1")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended | applied
    parent_ref: Mapped[int | None] = mapped_column(ForeignKey("gbizid_accounts.id"), nullable=True, index=True)
    member_role: Mapped[str | None] = mapped_column(String(16), nullable=True)  # member | administrator
    company: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    user: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sms_number: Mapped[str] = mapped_column(String(32), default="")
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)  # authenticator app registered
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no TOTP code accepted twice
    mandates: Mapped[list[Any]] = mapped_column(JSON, default=list)  # RP client_ids (mandate_info)
    application_ref: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class GbizPrimeApplication(Base):
    """A prime account application (申請書 + 印鑑証明書 by post). Its visible status is derived:
    審査中 until review_due_at, then the stored outcome (承認 | 不備)."""

    __tablename__ = "gbizid_prime_applications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    account_id: Mapped[str] = mapped_column(String(256), index=True)
    corp_type: Mapped[str] = mapped_column(String(1))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    documents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    review_due_at: Mapped[datetime] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(8))  # 承認 | 不備
    deficiencies: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{code, reason}]
    decided_by: Mapped[str] = mapped_column(String(16), default="review")  # review | operator
    account_ref: Mapped[int | None] = mapped_column(ForeignKey("gbizid_accounts.id"), nullable=True)


class GbizRelyingParty(Base):
    """An RP registered with GビズID: client_id, secret, redirect URIs, scopes approved in advance."""

    __tablename__ = "gbizid_relying_parties"
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_secret: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(256))
    redirect_uris: Mapped[list[Any]] = mapped_column(JSON, default=list)  # "/path" = on the simulator's own origin
    approved_scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # jp_gbizid_v1_ida, role, delegation_info
    system_cd: Mapped[str] = mapped_column(String(16), default="")


class GbizDelegation(Base):
    """委任: a prime account (委任者) delegates its procedures on one RP to another account (受任者)."""

    __tablename__ = "gbizid_delegations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delegation_no: Mapped[str] = mapped_column(String(20), unique=True)
    delegator_ref: Mapped[int] = mapped_column(ForeignKey("gbizid_accounts.id"), index=True)
    delegate_ref: Mapped[int] = mapped_column(ForeignKey("gbizid_accounts.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    period_from: Mapped[datetime] = mapped_column(DateTime)
    period_to: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class GbizAccountEvent(Base):
    """The lifecycle log of an account (applied, approved, suspended, SMS number changed...)."""

    __tablename__ = "gbizid_account_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_ref: Mapped[int] = mapped_column(ForeignKey("gbizid_accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class GbizSecondFactorLock(Base):
    """Wrong second-factor codes of an account in a row (SMS and authenticator app alike), and the
    lock they led to: one lockout policy for every second factor (gbizid_op.py)."""

    __tablename__ = "gbizid_second_factor_locks"
    account_ref: Mapped[int] = mapped_column(ForeignKey("gbizid_accounts.id"), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class GbizSmsMessage(Base):
    """An SMS "sent" by the OP (one-time codes); the outbox is readable at /__admin/outbox."""

    __tablename__ = "gbizid_sms_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_ref: Mapped[int] = mapped_column(ForeignKey("gbizid_accounts.id"), index=True)
    to: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(512))
    code: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class GbizSession(Base):
    """The OP's browser session (single sign-on across RPs until it expires or prompt=login)."""

    __tablename__ = "gbizid_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_ref: Mapped[int] = mapped_column(ForeignKey("gbizid_accounts.id"), index=True)
    auth_time: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    amr: Mapped[str] = mapped_column(String(16), default="pwd")  # pwd | sms | otp


class GbizCode(Base):
    __tablename__ = "gbizid_codes"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_ref: Mapped[int] = mapped_column(ForeignKey("gbizid_accounts.id"))
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(String(512))
    nonce: Mapped[str | None] = mapped_column(String(512), nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(256), nullable=True)
    auth_time: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    grant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # set when exchanged


class GbizGrant(Base):
    """What one code exchange granted (scope is kept here: GビズID access tokens carry no scope)."""

    __tablename__ = "gbizid_grants"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_ref: Mapped[int] = mapped_column(ForeignKey("gbizid_accounts.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(512))
    auth_time: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class GbizToken(Base):
    """An access or refresh token issued under a grant (by jti)."""

    __tablename__ = "gbizid_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(ForeignKey("gbizid_grants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # access | refresh
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # refresh rotated away


class BulkSubmission(Base):
    """A `POST /bulk-apply` upload: its folders are checked at once and arrive at `ingest_at`."""

    __tablename__ = "bulk_submissions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    send_number: Mapped[str] = mapped_column(String(18), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    trial: Mapped[bool] = mapped_column(Boolean, default=False)
    file_name: Mapped[str] = mapped_column(String(256))
    send_at: Mapped[datetime] = mapped_column(DateTime)
    ingest_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    apply_count: Mapped[int] = mapped_column(Integer)
    results: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{folder_name, proc_name, arrive_id|report_list}]
    package: Mapped[bytes] = mapped_column(LargeBinary)


class ShareSetting(Base):
    """アカウント間情報共有: `owner` lets `grantee` read or download its documents once accepted."""

    __tablename__ = "share_settings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    grantee_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    official_doc_permission: Mapped[str] = mapped_column(String(8))  # READ | DOWNLOAD
    post_doc_permission: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8), default="pending")  # pending | accepted | denied
    created_at: Mapped[datetime] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
