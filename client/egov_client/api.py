"""EgovClient and AsyncEgovClient: one method per API operation, described once.

Each operation returns a `Call` (calls.py); the `operation` decorator hands it to the client's
executor (executor.py), which runs it synchronously (EgovClient) or asynchronously (AsyncEgovClient).
The session methods (login, trial_mode, introspect, refresh, logout) are shared the same way.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import httpx

from .auth import (
    AsyncAuthClient,
    AuthCalls,
    AuthClient,
    AuthError,
    MemoryTokenStore,
    TokenSet,
    TokenStore,
)
from .calls import Call, Flow, operation
from .config import Endpoint
from .executor import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    AsyncExecutor,
    RetryPolicy,
    SyncExecutor,
    TimeoutPolicy,
    TokenSource,
)
from .models import (
    AmendResult,
    Application,
    ApplicationPage,
    ApplyResult,
    BulkReport,
    BulkResult,
    CheckResult,
    DocumentArchive,
    DocumentCompletion,
    Notice,
    NoticeListItem,
    Page,
    PaymentDetails,
    PaymentSite,
    ProcedureSkeleton,
    ShareSetting,
    VerifyResult,
    WithdrawResult,
)


class Operations:
    """The e-Gov API v2 operations, shared by the sync and async clients."""

    _executor: Any

    @operation
    def get_procedure(self, proc_id: str) -> Call[ProcedureSkeleton]:
        """手続選択: the skeleton (kousei.xml, forms, stylesheets) of a procedure."""
        return Call("GET", f"/procedure/{proc_id}", lambda r: ProcedureSkeleton.from_json(proc_id, r.json()),
                    idempotent=True)

    @operation
    def submit(self, proc_id: str, package_zip: bytes, file_name: str | None = None) -> Call[ApplyResult]:
        """申請データ送信 (`POST /apply`) of a signed package zip."""
        body = {"proc_id": proc_id, "send_file": {"file_name": file_name or f"{proc_id}.zip",
                                                   "file_data": base64.b64encode(package_zip).decode()}}
        return Call("POST", "/apply", lambda r: ApplyResult.from_json(r.json()), json=body, timeout=300.0)

    @operation
    def list_applications(self, *, send_number: str | None = None, date_from: date | None = None,
                          date_to: date | None = None, limit: int = 50, offset: int = 0) -> Call[ApplicationPage]:
        """申請案件一覧取得: by send_number, or by arrival date range (limit ≤ 50)."""
        if send_number:
            params: dict[str, Any] = {"send_number": send_number}
        else:
            if date_from is None or date_to is None:
                raise ValueError("give send_number, or date_from and date_to")
            params = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "limit": limit,
                      "offset": offset}
        return Call("GET", "/apply/lists", lambda r: ApplicationPage.from_json(r.json()), params=params,
                    idempotent=True)

    @operation
    def get_application(self, arrive_id: str) -> Call[Application]:
        """申請案件取得: the status, notices, documents and payments of one case."""
        return Call("GET", f"/apply/{arrive_id}", lambda r: Application.from_json(r.json()["results"]),
                    idempotent=True)

    # --- 形式チェック / 補正 / 取下げ / bulk (issue 3) ------------------------------------------------------

    @operation
    def check(self, proc_id: str, package_zip: bytes, file_name: str | None = None) -> Call[CheckResult]:
        """形式チェック実行 (`POST /apply/check`): problems come back as 200; nothing is stored."""
        return Call("POST", "/apply/check", lambda r: CheckResult.from_json(r.json()),
                    json={"proc_id": proc_id, "send_file": _send_file(package_zip, file_name or f"{proc_id}.zip")},
                    idempotent=True, timeout=300.0)

    @operation
    def amend(self, arrive_id: str, package_zip: bytes, file_name: str | None = None) -> Call[AmendResult]:
        """補正データ送信 (`POST /apply/amend`) after a 部分補正 notice."""
        return Call("POST", "/apply/amend", lambda r: AmendResult.from_json(r.json()),
                    json={"arrive_id": arrive_id, "send_file": _send_file(package_zip, file_name or "amend.zip")},
                    timeout=300.0)

    @operation
    def withdraw(self, arrive_id: str, package_zip: bytes, file_name: str | None = None) -> Call[WithdrawResult]:
        """取り下げ依頼送信 (`POST /apply/withdraw`) of a signed 取下げ依頼 package (build_withdrawal_package)."""
        return Call("POST", "/apply/withdraw", lambda r: WithdrawResult.from_json(r.json()),
                    json={"arrive_id": arrive_id, "send_file": _send_file(package_zip, file_name or "torisage.zip")},
                    timeout=300.0)

    @operation
    def bulk_submit(self, bulk_zip: bytes, file_name: str = "bulk.zip") -> Call[BulkResult]:
        """申請データbulk送信 (`POST /bulk-apply`, 202): one folder per application; see get_report."""
        return Call("POST", "/bulk-apply", lambda r: BulkResult.from_json(r.json()),
                    json={"send_file": _send_file(bulk_zip, file_name)}, ok_status=(202,), timeout=300.0)

    @operation
    def get_report(self, *, send_number: str | None = None, date_from: date | None = None,
                   date_to: date | None = None, limit: int = 30, offset: int = 0) -> Call[Page]:
        """エラーレポート取得 (`GET /apply/report`, limit ≤ 30): items are BulkReport."""
        params = {"send_number": send_number} if send_number else _period(date_from, date_to, limit, offset)
        return Call("GET", "/apply/report", lambda r: Page.parse(r.json(), "error_report_info", BulkReport.from_json),
                    params=params, idempotent=True)

    # --- 通知 / 公文書 -----------------------------------------------------------------------------------------

    @operation
    def list_notices(self, *, date_from: date, date_to: date, limit: int = 50, offset: int = 0) -> Call[Page]:
        """申請案件に関する通知一覧取得: items are NoticeListItem, newest first."""
        return Call("GET", "/notice/lists", lambda r: Page.parse(r.json(), "notice_list", NoticeListItem.from_json),
                    params=_period(date_from, date_to, limit, offset), idempotent=True)

    @operation
    def get_notice(self, arrive_id: str, notice_sub_id: int) -> Call[Notice]:
        """申請案件に関する通知取得 (incl. 補正 type, deadline and attachments)."""
        return Call("GET", f"/notice/{arrive_id}/{notice_sub_id}", lambda r: Notice.from_json(r.json()),
                    idempotent=True)

    @operation
    def get_official_document(self, arrive_id: str, notice_sub_id: int) -> Call[DocumentArchive]:
        """公文書取得: the zip (鑑 XML + attachments). Save it before complete_official_document."""
        return Call("GET", f"/official_document/{arrive_id}/{notice_sub_id}",
                    lambda r: DocumentArchive.from_json(r.json()), idempotent=True, timeout=300.0)

    @operation
    def complete_official_document(self, arrive_id: str, notice_sub_id: int) -> Call[DocumentCompletion]:
        """公文書取得完了: afterwards the document can no longer be fetched (seed 000)."""
        return Call("POST", "/official_document", lambda r: DocumentCompletion.from_json(r.json()),
                    json={"arrive_id": arrive_id, "notice_sub_id": notice_sub_id})

    @operation
    def verify_official_document(self, document_zip: bytes, sig_verification_xml_file_name: str,
                                 file_name: str = "official_document.zip") -> Call[VerifyResult]:
        """公文書署名検証要求: e-Gov verifies the 官職 signature of a saved document."""
        return Call("POST", "/official_document/verify", lambda r: VerifyResult.from_json(r.json()),
                    json={"file_name": file_name, "file_data": base64.b64encode(document_zip).decode(),
                          "sig_verification_xml_file_name": sig_verification_xml_file_name},
                    idempotent=True, timeout=300.0)

    # --- 電子納付 ---------------------------------------------------------------------------------------------------

    @operation
    def list_banks(self) -> Call[dict[str, Any]]:
        """国庫金電子納付取扱金融機関一覧取得: results as the API gives them (bank_list, financial_type_list_date)."""
        return Call("GET", "/payment/lists", lambda r: r.json()["results"], idempotent=True)

    @operation
    def get_payment(self, arrive_id: str) -> Call[PaymentDetails]:
        """電子納付情報一覧取得: pay_number, confirm_number, facility_number, fee, deadline, pay_status."""
        return Call("GET", f"/payment/{arrive_id}", lambda r: PaymentDetails.from_json(r.json()), idempotent=True)

    @operation
    def payment_site(self, arrive_id: str, pay_number: str, bank_name: str, proc_id: str) -> Call[PaymentSite]:
        """電子納付金融機関サイト表示: the bank URL and the fields to POST there (PaymentSite.form_fields)."""
        return Call("POST", "/payment", lambda r: PaymentSite.from_json(r.json()),
                    json={"arrive_id": arrive_id, "pay_number": pay_number, "bank_name": bank_name,
                          "proc_id": proc_id}, idempotent=True)

    # --- 電子送達 ---------------------------------------------------------------------------------------------------

    @operation
    def post_apply(self, proc_id: str, package_zip: bytes, file_name: str | None = None) -> Call[ApplyResult]:
        """電子送達利用申込み (`POST /post-apply`); trial mode does not apply."""
        return Call("POST", "/post-apply", lambda r: ApplyResult.from_json(r.json()),
                    json={"proc_id": proc_id, "send_file": _send_file(package_zip, file_name or f"{proc_id}.zip")},
                    timeout=300.0)

    @operation
    def get_post_apply(self, arrive_id: str) -> Call[Application]:
        """電子送達状況確認."""
        return Call("GET", f"/post-apply/{arrive_id}", lambda r: Application.from_json(r.json()["results"]),
                    idempotent=True)

    @operation
    def list_posts(self, *, date_from: date, date_to: date, limit: int = 50, offset: int = 0) -> Call[Page]:
        """電子送達一覧取得: items as the API gives them (each with notice_data_list of post_id)."""
        return Call("GET", "/post/lists", lambda r: Page.parse(r.json(), "post_list"),
                    params=_period(date_from, date_to, limit, offset), idempotent=True)

    @operation
    def get_post(self, post_id: str) -> Call[DocumentArchive]:
        """電子送達取得: the notice documents as a zip."""
        return Call("GET", f"/post/{post_id}", lambda r: DocumentArchive.from_json(r.json()), idempotent=True,
                    timeout=300.0)

    @operation
    def complete_post(self, post_id: str) -> Call[dict[str, Any]]:
        """電子送達取得完了."""
        return Call("POST", "/post", lambda r: r.json()["results"], json={"post_id": post_id})

    # --- ご案内 / プレ印字 ------------------------------------------------------------------------------------------

    @operation
    def list_messages(self, *, date_from: date, date_to: date, limit: int = 50, offset: int = 0) -> Call[Page]:
        """手続に関するご案内一覧取得: items as the API gives them (information_id, title, ...)."""
        return Call("GET", "/message/lists", lambda r: Page.parse(r.json(), "information_list"),
                    params=_period(date_from, date_to, limit, offset), idempotent=True)

    @operation
    def get_message(self, information_id: str) -> Call[dict[str, Any]]:
        """手続に関するご案内取得: the `information` object."""
        return Call("GET", f"/message/{information_id}", lambda r: r.json()["results"]["information"],
                    idempotent=True)

    @operation
    def preprint(self, proc_id: str, form_id: str, form_version: int, form_xml: bytes,
                 application_info: dict[str, str]) -> Call[bytes]:
        """プレ印字データ取得: the form XML with the agency's registered data filled in."""
        body = {"application_info": [{"label": k, "value": v} for k, v in application_info.items()],
                "proc_id": proc_id, "form_id": form_id, "form_version": form_version,
                "file_data": base64.b64encode(form_xml).decode()}
        return Call("POST", "/preprint", lambda r: base64.b64decode(r.json()["results"]["apply_file"]["file_data"]),
                    json=body, idempotent=True)

    # --- アカウント間情報共有 (GビズID logins only) ---------------------------------------------------------------------

    @operation
    def get_share_setting(self) -> Call[ShareSetting]:
        """情報共有一覧取得."""
        return Call("GET", "/share-setting/lists", lambda r: ShareSetting.from_json(r.json(), "share_setting_list"),
                    idempotent=True)

    @operation
    def create_share_setting(self, gbiz_id: str, official_doc_permission: str = "READ",
                             post_doc_permission: str = "READ") -> Call[ShareSetting]:
        """情報共有設定: ask `gbiz_id` to share (it confirms with confirm_share)."""
        return Call("POST", "/share-setting", lambda r: ShareSetting.from_json(r.json()),
                    json={"gbiz_id": gbiz_id, "official_doc_permission": official_doc_permission,
                          "post_doc_permission": post_doc_permission})

    @operation
    def update_share_setting(self, gbiz_id: str, official_doc_permission: str,
                             post_doc_permission: str) -> Call[ShareSetting]:
        """情報共有更新."""
        return Call("PUT", "/share-setting", lambda r: ShareSetting.from_json(r.json()),
                    json={"gbiz_id": gbiz_id, "official_doc_permission": official_doc_permission,
                          "post_doc_permission": post_doc_permission}, idempotent=True)

    @operation
    def delete_share_setting(self, gbiz_id: str) -> Call[ShareSetting]:
        """情報共有解除."""
        return Call("DELETE", "/share-setting", lambda r: ShareSetting.from_json(r.json()),
                    json={"gbiz_id": gbiz_id})

    @operation
    def confirm_share(self, gbiz_id: str, accept: bool = True) -> Call[ShareSetting]:
        """共有設定確認: ACCEPT or DENY the share `gbiz_id` asked for."""
        return Call("POST", "/share-confirmation", lambda r: ShareSetting.from_json(r.json()),
                    json={"gbiz_id": gbiz_id, "share_acceptance": "ACCEPT" if accept else "DENY"})


def _send_file(data: bytes, file_name: str) -> dict[str, str]:
    return {"file_name": file_name, "file_data": base64.b64encode(data).decode()}


def _period(date_from: date | None, date_to: date | None, limit: int, offset: int) -> dict[str, Any]:
    if date_from is None or date_to is None:
        raise ValueError("give send_number, or date_from and date_to")
    return {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "limit": limit, "offset": offset}


# ---------------------------------------------------------------------------- tokens for the executor

class _StoreTokens(TokenSource):
    """Tokens from a TokenStore, refreshed through the auth server before they expire."""

    def __init__(self, calls: AuthCalls, store: TokenStore) -> None:
        self.calls = calls
        self.store = store

    def access_token(self) -> str | None:
        tokens = self.store.load()
        return tokens.access_token if tokens else None

    def refresh_call(self, force: bool) -> Call[Any] | None:
        tokens = self.store.load()
        if tokens is None or not tokens.refresh_token:
            return None
        if not force and not tokens.needs_refresh(self.calls.clock()):
            return None
        return self.calls.refresh(tokens.refresh_token)

    def accept(self, result: Any) -> None:
        self.store.save(result)


def _token_store(tokens: TokenSet | TokenStore | None) -> TokenStore:
    if tokens is None:
        return MemoryTokenStore()
    if isinstance(tokens, TokenSet):
        return MemoryTokenStore(tokens)
    return tokens


# ---------------------------------------------------------------------------- the clients

class _Session(Operations):
    """What both clients share: construction, the operations, the session methods. In AsyncEgovClient
    each method returns an awaitable. Session requests go to the auth server through `auth`."""

    auth: AuthClient | AsyncAuthClient
    _executor: SyncExecutor | AsyncExecutor

    def __init__(self, endpoint: Endpoint, tokens: TokenSet | TokenStore | None = None, *, http: Any = None,
                 trial: bool = False, retry: RetryPolicy = DEFAULT_RETRY,
                 timeouts: TimeoutPolicy = DEFAULT_TIMEOUTS) -> None:
        self.endpoint = endpoint
        self.store = _token_store(tokens)
        self.trial = trial
        self._own_http = http is None
        self.http = http or self._new_http()
        self.auth = self._new_auth(endpoint, self.http)
        self._executor = self._new_executor(self.http, endpoint.api_base, _StoreTokens(self.auth.calls, self.store),
                                            retry, trial, timeouts)

    def _new_http(self) -> Any:  # pragma: no cover - set by each client
        raise NotImplementedError

    _new_auth: Any  # AuthClient / AsyncAuthClient
    _new_executor: Any  # SyncExecutor / AsyncExecutor

    @property
    def tokens(self) -> TokenSet | None:
        return self.store.load()

    @classmethod
    def login(cls, endpoint: Endpoint, username: str, password: str, *, http: Any = None, **kwargs: Any) -> Any:
        """Log in through the auth server's login form (the simulator's, or any Keycloak-like page)."""
        client = cls(endpoint, http=http, **kwargs)
        return client.auth.run(client._login_flow(username, password))

    def _login_flow(self, username: str, password: str) -> Flow[Any]:
        self.store.save((yield from self.auth.form_login(username, password)))
        return self

    def trial_mode(self) -> Any:
        """The same login in trial mode (`X-eGovAPI-Trial: true`): nothing sent counts."""
        clone = type(self)(self.endpoint, self.store, http=self.http, trial=True, retry=self._executor.retry,
                           timeouts=self._executor.timeouts or DEFAULT_TIMEOUTS)
        clone._own_http = False
        return clone

    def introspect(self, token: str | None = None) -> Any:
        tokens = self.store.load()
        return self.auth.introspect(token or (tokens.access_token if tokens else ""))

    def refresh(self) -> Any:
        """Refresh the tokens now and store them; returns the new TokenSet."""
        return self.auth.run(self._refresh_flow())

    def _refresh_flow(self) -> Flow[TokenSet]:
        tokens = self.store.load()
        if tokens is None:
            raise AuthError(401, "login_required", "no tokens")
        new = yield self.auth.calls.refresh(tokens.refresh_token)
        self.store.save(new)
        return new

    def logout(self) -> Any:
        """End the session at the auth server and forget the tokens."""
        return self.auth.run(self._logout_flow())

    def _logout_flow(self) -> Flow[None]:
        tokens = self.store.load()
        if tokens is not None:
            yield self.auth.calls.logout(tokens.refresh_token)
            self.store.clear()


class EgovClient(_Session):
    """Synchronous e-Gov API v2 client (real e-Gov or the simulator)."""

    http: httpx.Client
    _new_auth = AuthClient
    _new_executor = SyncExecutor

    def _new_http(self) -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> EgovClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEgovClient(_Session):
    """Asynchronous e-Gov API v2 client: the same operations and session methods as EgovClient, awaited
    (`client = await AsyncEgovClient.login(...)`, `await client.refresh()`)."""

    http: httpx.AsyncClient
    _new_auth = AsyncAuthClient
    _new_executor = AsyncExecutor

    def _new_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=10.0))

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncEgovClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
