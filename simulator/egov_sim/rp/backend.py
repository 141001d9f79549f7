"""KeieiBackend: the rules of 経営革新計画電子申請システム, one method per operation, no Flask.

Applicant: login (via oidc.py), ユーザ情報登録, the five pages (一時保存 / 登録), 申請, 取り下げ, PDFs.
Reviewer (the prefecture): 形式確認 (→ 審査中), 指摘 (mails), 承認 (mail + 承認書), 不承認; the reviewer
pages log in with a password (lockout on the virtual clock) and see their own 都道府県 only.
Every applicant operation is scoped to the owner's GビズID sub: another's application is "not found";
every reviewer operation given a prefecture is scoped to it the same way.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..clock import format_datetime
from ..filing.pdf import text_pdf
from ..services import Services
from ..store import ids
from ..store.kv import count_up
from . import config, forms
from .models import (
    KkApplication,
    KkFile,
    KkInquiry,
    KkMail,
    KkReviewerLock,
    KkReviewerSession,
    KkSession,
    KkUser,
)

SessionRow = TypeVar("SessionRow", KkSession, KkReviewerSession)

DRAFT, RECEIVED, REVIEWING, REMARKED = "入力中", "受付済", "審査中", "申請内容に指摘あり"
APPROVED, REJECTED, WITHDRAWN = "承認", "不承認", "取り下げ"
EDITABLE = (DRAFT, REMARKED)
UNFILLED, SAVED, DONE, FLAGGED = "未入力", "一時保存", "済", "付け出し有"
REVIEWABLE = (RECEIVED, REVIEWING)

SUBJECT_REMARK = "経営革新計画電子申請システム：申請内容に不備があります。"
SUBJECT_APPROVED = "経営革新計画電子申請システム：承認通知"
SUBJECT_REJECTED = "経営革新計画電子申請システム：審査結果通知"
SUBJECT_WITHDRAWN = "経営革新計画電子申請システム：申請取り下げのお知らせ"
SUBJECT_INQUIRY = "経営革新計画電子申請システム：お問い合わせ受付完了"
INQUIRY_CATEGORIES = ("ログイン・GビズID", "申請内容の入力", "添付書類", "申請・取り下げ", "その他")
COMMENT_MAX = 2000
FOOTER = ("--------------------------------------------------------------------\n"
          "このメールは送信専用です。\n本メールにご返信頂きましてもご対応できかねますので、ご注意ください。\n"
          "--------------------------------------------------------------------")


class RpError(Exception):
    """A refused operation; `status` is the HTTP status the faces answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


class KeieiBackend:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def now(self) -> datetime:
        return self.svc.clock.now()

    def settings(self) -> dict[str, Any]:
        with self.svc.db.session() as s:
            return config.load(s)

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        try:
            with self.svc.db.session() as s:
                return config.update(s, changes)
        except ValueError as exc:
            raise RpError(str(exc)) from exc

    # ------------------------------------------------------------------ sessions
    def _new_session_row(self, model: type[SessionRow], **fields: Any) -> SessionRow:
        """A new browser session of `model` (KkSession or KkReviewerSession): a random id and CSRF token,
        expiring after the settings' session_minutes."""
        with self.svc.db.session() as s:
            row = model(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32),
                        expires_at=self.now() + timedelta(minutes=int(config.load(s)["session_minutes"])), **fields)
            s.add(row)
            s.flush()
            s.expunge(row)
            return row

    def _live_session_row(self, model: type[SessionRow], sid: str | None,
                          usable: Callable[[Session, SessionRow], bool] | None = None) -> SessionRow | None:
        """The session `sid` of `model` if it is live (and `usable`); an expired or unusable one is deleted."""
        if not sid:
            return None
        with self.svc.db.session() as s:
            row = s.get(model, sid)
            if row is None:
                return None
            if row.expires_at <= self.now() or (usable is not None and not usable(s, row)):
                s.delete(row)
                return None
            s.expunge(row)
            return row

    def _end_session_row(self, model: type[SessionRow], sid: str) -> None:
        with self.svc.db.session() as s:
            row = s.get(model, sid)
            if row is not None:
                s.delete(row)

    def new_session(self) -> KkSession:
        return self._new_session_row(KkSession, sub=None, pending=None)

    def session(self, sid: str | None) -> KkSession | None:
        """A live session (expired ones are deleted: the user goes back through GビズID)."""
        return self._live_session_row(KkSession, sid)

    def set_pending(self, sid: str, pending: dict[str, Any] | None) -> None:
        with self.svc.db.session() as s:
            row = s.get(KkSession, sid)
            if row is not None:
                row.pending = pending

    def logged_in(self, sid: str, userinfo: dict[str, Any]) -> KkUser:
        """After the callback: refuse account types not allowed, else record the user on the session."""
        cfg = self.settings()
        kind = str(userinfo.get("account_type", ""))
        if kind not in cfg["allowed_account_types"]:
            names = {"1": "gBizIDエントリー", "2": "gBizIDプライム", "3": "gBizIDメンバー"}
            allowed = "、".join(names[k] for k in sorted(cfg["allowed_account_types"]))
            raise RpError(f"{names.get(kind, 'このアカウント')}のアカウントでは本システムをご利用いただけません。"
                          f"{allowed}のアカウントでログインしてください。", 403)
        now = self.now()
        try:
            return self._record_login(sid, userinfo, kind, now)
        except IntegrityError:  # a first login of the same user in parallel made the user row: it is found now
            return self._record_login(sid, userinfo, kind, now)

    def _record_login(self, sid: str, userinfo: dict[str, Any], kind: str, now: datetime) -> KkUser:
        with self.svc.db.session() as s:
            user = s.get(KkUser, userinfo["sub"])
            if user is None:
                user = KkUser(sub=userinfo["sub"], gbizid_email=str(userinfo.get("email", "")), account_type=kind,
                              userinfo=userinfo, profile=None, first_login_at=now, last_login_at=now)
                s.add(user)
            user.userinfo, user.account_type, user.last_login_at = userinfo, kind, now
            user.gbizid_email = str(userinfo.get("email", "")) or user.gbizid_email
            row = s.get(KkSession, sid)
            if row is not None:
                row.sub, row.pending, row.csrf = user.sub, None, secrets.token_urlsafe(32)
            s.flush()
            s.expunge(user)
            return user

    def logout(self, sid: str) -> None:
        self._end_session_row(KkSession, sid)

    # ------------------------------------------------------------------ users
    def user(self, sub: str) -> KkUser:
        with self.svc.db.session() as s:
            user = s.get(KkUser, sub)
            if user is None:
                raise RpError("ログインしてください。", 401)
            s.expunge(user)
            return user

    def save_profile(self, sub: str, form: dict[str, str]) -> dict[str, str]:
        fields = {"company_name": "企業名", "user_name": "担当者氏名", "email": "連絡先メールアドレス", "tel": "電話番号"}
        values = {k: str(form.get(k, "")).strip()[:200] for k in fields}
        errors = {k: f"{label}を入力してください。" for k, label in fields.items() if not values[k]}
        if values["email"] and not forms.EMAIL.match(values["email"]):
            errors["email"] = "連絡先メールアドレスの形式が正しくありません。"
        if not errors:
            with self.svc.db.session() as s:
                user = s.get(KkUser, sub)
                assert user is not None
                user.profile = values
        return errors

    # ------------------------------------------------------------------ applications
    def _own(self, s: Session, sub: str, app_id: int) -> KkApplication:
        app = s.get(KkApplication, app_id)
        if app is None or app.owner_sub != sub:
            raise RpError("申請が見つかりません。", 404)
        return app

    def applications(self, sub: str) -> list[KkApplication]:
        with self.svc.db.session() as s:
            rows = list(s.scalars(select(KkApplication).where(KkApplication.owner_sub == sub)
                                  .order_by(KkApplication.id.desc())))
            s.expunge_all()
            return rows

    def application(self, sub: str, app_id: int) -> KkApplication:
        with self.svc.db.session() as s:
            app = self._own(s, sub, app_id)
            s.expunge(app)
            return app

    def new_application(self, sub: str) -> KkApplication:
        user = self.user(sub)
        cover = {"company_name": (user.profile or {}).get("company_name", ""),
                 "contact_name": (user.profile or {}).get("user_name", ""),
                 "contact_email": (user.profile or {}).get("email", "")}
        with self.svc.db.session() as s:
            # the id (and so the 受付番号 APL-…) from the worlds' shared counter in a world: unique across worlds
            app = KkApplication(id=ids.next_id(s, KkApplication.__table__), owner_sub=sub, status=DRAFT,
                                created_at=self.now(), remarks={}, events=[],
                                pages={p: {"values": cover if p == forms.COVER else {}, "state": UNFILLED}
                                       for p in forms.PAGES})
            s.add(app)
            s.flush()
            s.expunge(app)
            return app

    def save_page(self, sub: str, app_id: int, page: str, values: dict[str, Any], *, register: bool,
                  check_only: bool = False) -> dict[str, str]:
        """一時保存 (register=False: kept as is) or 登録 (validated; errors → nothing saved)."""
        if page not in forms.PAGES:
            raise RpError("ページが見つかりません。", 404)
        cfg = self.settings()
        with self.svc.db.session() as s:
            app = self._own(s, sub, app_id)
            if app.status not in EDITABLE:
                raise RpError(f"状態が「{app.status}」の申請は編集できません。", 409)
            current = dict(app.pages.get(page) or {})
            if page == forms.ATTACH:  # the files stay; only uploads change them
                values = {**values, "files": (current.get("values") or {}).get("files", {})}
            errors = forms.validate(page, values, cfg["prefectures"]) if register else {}
            if page == forms.ATTACH and register:
                files = values.get("files") or {}
                for key, label, required in forms.ATTACHMENTS:
                    if required and key not in files:
                        errors[key] = f"{label}のファイルを選択してください。"
            if errors or check_only:
                return errors
            flagged = current.get("state") == FLAGGED
            state = DONE if register else (FLAGGED if flagged else SAVED)
            app.pages = {**app.pages, page: {"values": values, "state": state}}
            return {}

    def upload(self, sub: str, app_id: int, key: str, name: str, content_type: str, data: bytes) -> str | None:
        """One 添付書類 row's file; returns an error message or None."""
        cfg = self.settings()
        labels = {k: label for k, label, _ in forms.ATTACHMENTS}
        if key not in labels:
            raise RpError("添付書類の種類が正しくありません。")
        problem = self._file_problem(labels[key], content_type, data, cfg)
        if problem:
            return problem
        with self.svc.db.session() as s:
            app = self._own(s, sub, app_id)
            if app.status not in EDITABLE:
                raise RpError(f"状態が「{app.status}」の申請は編集できません。", 409)
            row = KkFile(application_id=app.id, kind="attachment", name=name[:200] or "file",
                         content_type=content_type, data=data)
            s.add(row)
            s.flush()
            page = dict(app.pages.get(forms.ATTACH) or {"values": {}, "state": UNFILLED})
            files = {**(page.get("values") or {}).get("files", {}), key: {"id": row.id, "name": row.name}}
            state = page.get("state") if page.get("state") in (FLAGGED,) else SAVED
            app.pages = {**app.pages, forms.ATTACH: {"values": {**page.get("values", {}), "files": files},
                                                     "state": state}}
        return None

    def _file_problem(self, label: str, content_type: str, data: bytes, cfg: dict[str, Any] | None = None) -> str | None:
        """The upload rules (size, declared and sniffed type) for 添付書類 and コメントファイル alike."""
        cfg = cfg or self.settings()
        if not data:
            return f"{label}：ファイルが空です。"
        if len(data) > int(cfg["max_upload_bytes"]):
            return f"{label}：ファイルサイズは{int(cfg['max_upload_bytes']) // (1024 * 1024)}MB以下にしてください。"
        if content_type not in cfg["upload_types"] or content_type not in _SNIFFED.get(_sniff(data), ()):
            return f"{label}：アップロードできるファイルはPDF、PNG、JPEG、Word、Excelです。"
        return None

    def file(self, sub: str | None, app_id: int, file_id: int) -> KkFile:
        with self.svc.db.session() as s:
            if sub is not None:
                self._own(s, sub, app_id)
            row = s.get(KkFile, file_id)
            if row is None or row.application_id != app_id:
                raise RpError("ファイルが見つかりません。", 404)
            s.expunge(row)
            return row

    def apply(self, sub: str, app_id: int, password: str) -> KkApplication:
        cfg = self.settings()
        with self.svc.db.session() as s:
            app = self._own(s, sub, app_id)
            if app.status not in EDITABLE:
                raise RpError(f"状態が「{app.status}」の申請は申請できません。", 409)
            if any(p.get("state") != DONE for p in app.pages.values()):
                raise RpError("全てのページのステータスが【済】になるまで申請へ進むことはできません。", 409)
            pref = cfg["prefectures"].get(app.pages[forms.COVER]["values"].get("prefecture"), {})
            if pref.get("password") and not secrets.compare_digest(password, pref["password"]):
                raise RpError("申請パスワードが正しくありません。申請先都道府県にお問い合わせください。")
            now = self.now()
            if app.number is None:
                app.number = f"APL-{app.id:010d}"
            again = app.status == REMARKED
            app.status, app.applied_at = RECEIVED, now
            app.events = [*app.events, {"at": format_datetime(now), "what": "再申請" if again else "申請"}]
            s.flush()
            s.expunge(app)
            return app

    def withdraw(self, sub: str, app_id: int) -> KkApplication:
        with self.svc.db.session() as s:
            app = self._own(s, sub, app_id)
            if app.status not in (RECEIVED, REVIEWING, REMARKED):
                raise RpError(f"状態が「{app.status}」の申請は取り下げできません。", 409)
            now = self.now()
            app.status = WITHDRAWN
            app.events = [*app.events, {"at": format_datetime(now), "what": "取り下げ"}]
            pref = self._prefecture(app)
            body = (f"{pref.get('name', '')} 経営革新計画ご担当者 様\n\n受付番号：{app.number} の申請は、"
                    f"申請者により取り下げられました。審査を中断してください。\n\n{FOOTER}")
            self._mail(s, [pref.get("mail") or f"kakushin@pref-{self._pref_code(app)}.example.jp"],
                       SUBJECT_WITHDRAWN, body, app.number or "")
            s.flush()
            s.expunge(app)
            return app

    def reopen(self, sub: str, app_id: int) -> KkApplication:
        """[入力再開/不備修正]: a withdrawn application's pages open again (keeping what was entered and
        its 受付番号); one with a 指摘 is already open for its fixes."""
        with self.svc.db.session() as s:
            app = self._own(s, sub, app_id)
            if app.status == WITHDRAWN:
                app.status = DRAFT
                app.events = [*app.events, {"at": format_datetime(self.now()), "what": "入力再開"}]
            elif app.status not in EDITABLE:
                raise RpError(f"状態が「{app.status}」の申請は入力再開できません。", 409)
            s.flush()
            s.expunge(app)
            return app

    # ------------------------------------------------------------------ お問い合わせ
    def inquire(self, sub: str | None, form: dict[str, str]) -> dict[str, str]:
        """お問い合わせフォーム: errors per field, or stored with a receipt mail to the given address."""
        labels = {"name": ("お名前", 40), "company": ("企業名", 100), "email": ("メールアドレス", 200),
                  "tel": ("電話番号", 20), "category": ("お問い合わせ種別", 40), "body": ("お問い合わせ内容", 2000)}
        values = {k: str(form.get(k, "")).strip() for k in labels}
        errors = {k: f"{label}を入力してください。" for k, (label, _) in labels.items()
                  if not values[k] and k not in ("company", "tel")}
        errors.update({k: f"{label}は{limit}文字以内で入力してください。" for k, (label, limit) in labels.items()
                       if len(values[k]) > limit})
        if values["email"] and "email" not in errors and not forms.EMAIL.match(values["email"]):
            errors["email"] = "メールアドレスの形式が正しくありません。"
        if values["category"] and values["category"] not in INQUIRY_CATEGORIES:
            errors["category"] = "お問い合わせ種別を選択してください。"
        if errors:
            return errors
        cfg = self.settings()
        with self.svc.db.session() as s:
            row = KkInquiry(sub=sub, received_at=self.now(), **values)
            s.add(row)
            s.flush()
            number = f"INQ-{row.id:06d}"
            body = (f"{values['name']} 様\n\nお問い合わせを受け付けました（お問い合わせ番号：{number}）。\n"
                    "お問い合わせ内容によっては、回答までに日数を要する場合がございます。\n\n"
                    f"■お問い合わせ種別\n{values['category']}\n■お問い合わせ内容\n{values['body']}\n\n{FOOTER}")
            self._mail(s, [values["email"], str(cfg["helpdesk_mail"])], SUBJECT_INQUIRY, body, "")
        return {}

    # ------------------------------------------------------------------ reviewer accounts and pages
    def new_reviewer_session(self, login_id: str | None = None) -> KkReviewerSession:
        return self._new_session_row(KkReviewerSession, login_id=login_id)

    def reviewer_session(self, sid: str | None) -> KkReviewerSession | None:
        """A live reviewer session whose account still exists (expired ones are deleted)."""
        return self._live_session_row(KkReviewerSession, sid, lambda s, row: not row.login_id
                                      or row.login_id in config.load(s)["reviewers"])

    def reviewer_login(self, sid: str, login_id: str, password: str) -> KkReviewerSession:
        """Password login: a new session (new id and CSRF token) or RpError; locked after repeated failures."""
        cfg, now = self.settings(), self.now()
        account = cfg["reviewers"].get(login_id)
        refused: RpError | None = None
        with self.svc.db.session() as s:  # the failure count is committed, then the refusal raised
            lock = s.get(KkReviewerLock, login_id) if account else None
            if lock is not None and lock.locked_until is not None and lock.locked_until > now:
                raise RpError("このアカウントはロックされています。"
                              f"{format_datetime(lock.locked_until)}以降に再度ログインしてください。", 403)
            if account is None or not secrets.compare_digest(password.encode(), str(account["password"]).encode()):
                refused = RpError("ログインIDまたはパスワードが正しくありません。", 401)
                # one statement per failure: failures sent at once each count
                failures = count_up(s, KkReviewerLock.__table__, {"login_id": login_id}, "failures") \
                    if account is not None else 0
                if failures >= int(cfg["reviewer_max_failures"]):
                    s.execute(update(KkReviewerLock).where(KkReviewerLock.login_id == login_id).values(
                        failures=0, locked_until=now + timedelta(minutes=int(cfg["reviewer_lock_minutes"]))))
            else:
                if lock is not None:
                    s.delete(lock)
                old = s.get(KkReviewerSession, sid)
                if old is not None:
                    s.delete(old)
        if refused is not None:
            raise refused
        return self.new_reviewer_session(login_id)

    def reviewer_logout(self, sid: str) -> None:
        self._end_session_row(KkReviewerSession, sid)

    def reviewer(self, login_id: str) -> dict[str, Any]:
        """The account without its password, with its 都道府県's name."""
        cfg = self.settings()
        account = cfg["reviewers"].get(login_id)
        if account is None:
            raise RpError("ログインしてください。", 401)
        pref = cfg["prefectures"].get(account["prefecture"], {})
        return {"login_id": login_id, "name": account.get("name", login_id), "prefecture": account["prefecture"],
                "prefecture_name": pref.get("name", "")}

    def reviewer_applications(self, prefecture: str, status: str | None = None) -> list[KkApplication]:
        """The applied applications of one 都道府県 (optionally of one status), newest first."""
        with self.svc.db.session() as s:
            rows = [a for a in s.scalars(select(KkApplication).where(KkApplication.number.is_not(None))
                                         .order_by(KkApplication.id.desc()))
                    if self._pref_code(a) == prefecture and (not status or a.status == status)]
            s.expunge_all()
            return rows

    def reviewer_application(self, prefecture: str, number: str) -> KkApplication:
        with self.svc.db.session() as s:
            app = self._by_number(s, number, prefecture, reviewable=False)
            s.expunge(app)
            return app

    def reviewer_file(self, prefecture: str, number: str, file_id: int) -> KkFile:
        return self.file(None, self.reviewer_application(prefecture, number).id, file_id)

    # ------------------------------------------------------------------ reviewer (the prefecture)
    def _by_number(self, s: Session, number: str, prefecture: str | None = None, *,
                   reviewable: bool = True) -> KkApplication:
        """The applied application (of `prefecture` when given: another's is "not found")."""
        app = s.scalars(select(KkApplication).where(KkApplication.number == number)).first()
        if app is None or (prefecture is not None and self._pref_code(app) != prefecture):
            raise RpError(f"受付番号 {number} の申請はありません。", 404)
        if reviewable and app.status not in REVIEWABLE:
            raise RpError(f"状態が「{app.status}」の申請は審査できません。", 409)
        return app

    def submitted(self) -> list[dict[str, Any]]:
        with self.svc.db.session() as s:
            rows = s.scalars(select(KkApplication).where(KkApplication.number.is_not(None))
                             .order_by(KkApplication.id.desc()))
            return [self.describe(a) for a in rows]

    def describe(self, app: KkApplication) -> dict[str, Any]:
        cover = app.pages.get(forms.COVER, {}).get("values", {})
        return {"id": app.id, "number": app.number, "status": app.status, "company_name": cover.get("company_name"),
                "prefecture": cover.get("prefecture"), "office": cover.get("office"),
                "pages": {p: v.get("state") for p, v in app.pages.items()}, "remarks": app.remarks,
                "events": app.events, "applied_at": format_datetime(app.applied_at) if app.applied_at else None}

    def accept_formal(self, number: str, prefecture: str | None = None) -> dict[str, Any]:
        """形式確認を終えた: 受付済 → 審査中."""
        with self.svc.db.session() as s:
            app = self._by_number(s, number, prefecture)
            if app.status != RECEIVED:
                raise RpError("形式確認は受付済の申請にのみ行えます。", 409)
            app.status = REVIEWING
            app.events = [*app.events, {"at": format_datetime(self.now()), "what": "審査開始"}]
            return self.describe(app)

    def remark(self, number: str, comments: dict[str, str],
               files: list[tuple[str, str, str, bytes]] = (),  # type: ignore[assignment]
               prefecture: str | None = None) -> dict[str, Any]:
        """指摘: comments per page (and comment files: page, name, type, bytes) → 付け出し有, two mails."""
        comments = {p: str(c).strip() for p, c in comments.items() if str(c).strip()}
        if not comments or not set(comments) <= set(forms.PAGES):
            raise RpError(f"指摘はページ（{', '.join(forms.PAGES)}）ごとのコメントで指定してください。")
        for page, comment in comments.items():
            if len(comment) > COMMENT_MAX:
                raise RpError(f"「{forms.PAGES[page]}」の指摘内容は{COMMENT_MAX}文字以内で入力してください。")
        files = [f for f in files if f[3]]  # an empty file input sends no file
        for page, name, ctype, data in files:
            if page not in comments:
                raise RpError(f"コメントファイル {name} の「{forms.PAGES.get(page, page)}」に指摘内容がありません。")
            problem = self._file_problem(name, ctype, data)
            if problem:
                raise RpError(problem)
        with self.svc.db.session() as s:
            app = self._by_number(s, number, prefecture)
            remarks = {}
            for page, comment in comments.items():
                stored = []
                for fpage, name, ctype, data in files:
                    if fpage == page:
                        row = KkFile(application_id=app.id, kind="comment", name=name[:200], content_type=ctype,
                                     data=data)
                        s.add(row)
                        s.flush()
                        stored.append({"id": row.id, "name": row.name})
                remarks[page] = [{"comment": comment[:2000], "files": stored}]
            app.remarks = remarks
            app.pages = {p: ({**v, "state": FLAGGED} if p in remarks else v) for p, v in app.pages.items()}
            app.status = REMARKED
            app.events = [*app.events, {"at": format_datetime(self.now()), "what": "指摘"}]
            pref = self._prefecture(app)
            body = (f"{self._addressee(s, app)} 様\n※このメールは申請の担当者とGビズIDのメールアドレスに送信しています。\n"
                    "上記2つのアドレスが同様の場合、2通送信されますがご了承ください。\n\n"
                    f"お世話になります。{pref.get('name', '')}です。\n\n経営革新計画の申請内容に不備があります。\n"
                    f"以下のURLよりログインの上、修正お願い致します。\n{self._site_url()}\n\n{FOOTER}")
            self._mail(s, self._applicant_addresses(s, app), SUBJECT_REMARK, body, app.number or "")
            return self.describe(app)

    def decide(self, number: str, approve: bool, prefecture: str | None = None) -> dict[str, Any]:
        with self.svc.db.session() as s:
            app = self._by_number(s, number, prefecture)
            app.status = APPROVED if approve else REJECTED
            app.events = [*app.events, {"at": format_datetime(self.now()), "what": app.status}]
            body = (f"経営革新計画承認申請の審査が完了しました。\n\n受付番号：{app.number}\n\n"
                    "システムにログインし、審査結果の確認をお願いします。\n"
                    "計画の承認・不承認の正式な結果については、別途書面にて通知させていただきます。\n\n" + FOOTER)
            self._mail(s, self._applicant_addresses(s, app), SUBJECT_APPROVED if approve else SUBJECT_REJECTED,
                       body, app.number or "")
            return self.describe(app)

    # ------------------------------------------------------------------ documents
    def certificate_available(self, app: KkApplication) -> bool:
        return app.status == APPROVED and not self._prefecture(app).get("post_certificate", False)

    def pdf(self, sub: str, app_id: int, kind: str) -> tuple[str, bytes]:
        cfg = self.settings()
        app = self.application(sub, app_id)
        if app.number is None:
            raise RpError("申請前の申請書は出力できません。", 409)
        if kind == "certificate":
            if not self.certificate_available(app):
                raise RpError("この申請の承認書は出力できません（未承認、または承認書は郵送されます）。", 409)
            cover = app.pages[forms.COVER]["values"]
            pref = self._prefecture(app)
            lines = [f"受付番号：{app.number}", "", f"{cover.get('company_name', '')}", f"代表者 {cover.get('representative', '')} 様",
                     "", f"令和　年　月　日付けで申請のあった経営革新計画「{cover.get('theme', '')}」については、",
                     "中小企業等経営強化法第14条第1項の規定に基づき、これを承認します。", "",
                     f"{pref.get('name', '')}知事", "", "（経営革新計画電子申請システム・シミュレーター発行）"]
            return f"{app.number}_承認書.pdf", text_pdf("経営革新計画に係る承認書", lines)
        lines = [f"受付番号：{app.number}", f"状態：{app.status}", ""]
        for page, title in forms.PAGES.items():
            lines.append(f"■ {title}")
            lines += [f"{label}：{value}" for label, value in
                      forms.summary_lines(page, app.pages[page]["values"], cfg["prefectures"])]
        return f"{app.number}_申請書（控）.pdf", text_pdf("経営革新計画に係る承認申請書（控）", lines)

    # ------------------------------------------------------------------ mails
    def _prefecture(self, app: KkApplication) -> dict[str, Any]:
        return dict(self.settings()["prefectures"].get(self._pref_code(app), {}))

    @staticmethod
    def _pref_code(app: KkApplication) -> str:
        return str(app.pages.get(forms.COVER, {}).get("values", {}).get("prefecture", ""))

    @staticmethod
    def _addressee(s: Session, app: KkApplication) -> str:
        cover = app.pages.get(forms.COVER, {}).get("values", {})
        return f"{cover.get('company_name', '')} {cover.get('contact_name', '')}".strip()

    @staticmethod
    def _applicant_addresses(s: Session, app: KkApplication) -> list[str]:
        """The 担当者 address and the GビズID address: one mail each, even when they are the same (seed)."""
        user = s.get(KkUser, app.owner_sub)
        contact = app.pages.get(forms.COVER, {}).get("values", {}).get("contact_email", "")
        return [a for a in (contact, user.gbizid_email if user else "") if a]

    def _site_url(self) -> str:
        """Where a mail sends the applicant: the configured site (the seed's host pair); in a world, that
        world's RP on this simulator (`/worlds/<id>/keieikakushin/`), where its applications live."""
        from ..worlds import DEFAULT, current_world_id

        world_id = current_world_id()
        if world_id == DEFAULT:
            return config.site_url(self.settings())
        from ..ops.world_routing import rp_entry

        return f"{self.svc.settings.base_url}{rp_entry(world_id)}/keieikakushin/"

    def _mail(self, s: Session, to: list[str], subject: str, body: str, number: str) -> None:
        for address in to:
            s.add(KkMail(to=address, subject=subject, body=body, application_number=number, sent_at=self.now()))


_OFFICE = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
_SNIFFED = {"pdf": ("application/pdf",), "png": ("image/png",), "jpeg": ("image/jpeg",), "zip": _OFFICE}


def _sniff(data: bytes) -> str:
    """The type the bytes say they are (pdf, png, jpeg, zip for Office files), "" when unknown."""
    for magic, kind in ((b"%PDF-", "pdf"), (b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"),
                        (b"PK\x03\x04", "zip")):
        if data.startswith(magic):
            return kind
    return "unknown"


def outbox(db: Any, address: str | None, limit: int) -> list[dict[str, Any]]:
    """The RP's mails, newest first (optionally to one address)."""
    with db.session() as s:
        query = select(KkMail)
        if address:
            query = query.where(KkMail.to == address.strip().lower())
        return [{"id": m.id, "to": m.to, "subject": m.subject, "body": m.body, "application_number": m.application_number,
                 "sent_at": format_datetime(m.sent_at)}
                for m in s.scalars(query.order_by(KkMail.id.desc()).limit(limit))]

