"""egov — e-Gov 電子申請 from a terminal: profiles, login, submit, status, the progress ledger
(申請データ進捗管理) with 確認/取得, official documents (save, verify, 取得完了), 取下げ, 補正, 再提出,
the send list (申請リスト) with batch sending, maintenance notices, and doctor.

Works against the simulator, e-Gov's 検証環境 and production alike. `--json` on any command prints
machine-readable output for scripts. The rules live in profiles.py, ledger.py, batch.py,
compose.py, casework.py, maintenance.py, loopback.py and doctor.py; this module only parses arguments
and prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
import httpx
from egov_format.formcheck import CheckProblem
from egov_format.package import ApplicationPackage
from egov_format.signing import Signer, load_pkcs12_file
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .api import EgovClient
from .auth import AuthError, login_with_form
from .batch import MAX_PER_RUN, BatchEvent, Sender, package_facts
from .casework import COMPLETE_WARNING, Casework, GetReport, SavedDocument
from .compose import compose, load_values, package_from_dir, package_from_skeleton
from .doctor import (
    FAIL,
    LEVEL_LABELS,
    OK,
    WARN,
    Check,
    certificate_dates,
    check_certificate,
    check_reachable,
    check_tokens,
)
from .errors import ApiError, EgovError, MaintenanceError, NotFoundError, PackageError, UnauthorizedError
from .final_test.command import final_test as final_test_group
from .ledger import JST, STATUS_GROUPS, Ledger, SendRow, jst_now, months_before
from .loopback import login_with_browser
from .maintenance import ADVICE, is_json_source, read_notice
from .models import Application
from .profiles import Home, Profile, ProfileError, ProfileStore, new_profile

OUTCOME_MARK = {"sent": "[green]✔[/]", "already": "[cyan]＝[/]", "refused": "[red]✘[/]", "unknown": "[yellow]？[/]",
                "not_sent": "[red]✘[/]"}
LEVEL_STYLE = {OK: "green", WARN: "yellow", FAIL: "red"}
ACTION_LABELS = {"withdraw": "取下げ依頼", "amend": "補正", "resubmit": "再提出", "complete": "公文書取得完了"}


# ---------------------------------------------------------------------------- context and output

@dataclass
class App:
    """What every command needs; tests inject `http` (an httpx.Client on the in-process simulator)."""

    home: Home = field(default_factory=Home.default)
    http: httpx.Client | None = None
    open_browser: Callable[[str], object] | None = None
    clock: Callable[[], datetime] = jst_now
    profile_name: str | None = None
    json: bool = False
    console: Console = field(default_factory=lambda: Console(highlight=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    @property
    def profiles(self) -> ProfileStore:
        return ProfileStore(self.home)

    def profile(self) -> Profile:
        return self.profiles.get(self.profile_name)

    @contextlib.contextmanager
    def client(self, profile: Profile | None = None) -> Iterator[EgovClient]:
        profile = profile or self.profile()
        client = EgovClient(profile.endpoint, self.home.token_store(profile.name), http=self.http)
        try:
            yield client
        finally:
            client.close()

    @contextlib.contextmanager
    def http_client(self) -> Iterator[httpx.Client]:
        if self.http is not None:
            yield self.http
        else:
            with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as http:
                yield http

    @contextlib.contextmanager
    def ledger(self) -> Iterator[Ledger]:
        ledger = Ledger(self.home.ledger_file)
        try:
            self._follow_world(ledger)
            yield ledger
        finally:
            ledger.close()

    def _follow_world(self, ledger: Ledger) -> None:
        """Against a simulator, learn its world identity so that a reset or another data directory does
        not mix old cases with new ones (the ledger keeps them apart). Unreachable: keep the last known."""
        try:
            prof = self.profile()
        except ProfileError:
            return
        if prof.kind != "simulator":
            return
        root = prof.api_base.removesuffix("/shinsei/v2")
        try:
            with self.http_client() as http:
                resp = http.get(f"{root}/__admin/world/id", timeout=5.0)
            world = resp.json().get("world_id") if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return
        if not isinstance(world, str) or not world:
            return
        change = ledger.observe_world(prof.name, world, self.clock())
        if change is not None:
            self.err.print(f"[yellow]注意:[/] {escape(change.message)}")

    def casework(self, client: EgovClient, ledger: Ledger) -> Casework:
        return Casework(client, ledger, documents_dir=self.home.documents_dir, clock=self.clock)

    def out_json(self, data: Any) -> None:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))

    def say(self, message: str) -> None:
        if not self.json:
            self.console.print(message)


class CliError(click.ClickException):
    """An error shown in Japanese (with e-Gov's report_list when there is one)."""

    def __init__(self, message: str, report_list: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.report_list = report_list or []

    def show(self, file: Any = None) -> None:
        console = Console(stderr=True, highlight=False)
        console.print(f"[red]エラー:[/] {escape(self.message)}")
        for r in self.report_list:
            where = " / ".join(str(r.get(k)) for k in ("form_name", "file_name", "item") if r.get(k) not in (None, "", "-"))
            console.print(f"  ・{escape(where + '：') if where else ''}{escape(str(r.get('content', '')))}")


def _api_message(exc: ApiError) -> str:
    return f"{exc.status} {exc.title}" + (f"：{exc.detail}" if exc.detail else "")


class EgovGroup(click.Group):
    """Turns the library's exceptions into one-line Japanese errors and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MaintenanceError as exc:
            until = f"（終了予定 {exc.window_end.astimezone(JST):%Y/%m/%d %H:%M}）" if exc.window_end else ""
            raise CliError(f"{exc.message}{until} `egov maintenance` で予定を確認できます。") from None
        except ApiError as exc:
            raise CliError(_api_message(exc), exc.report_list) from None
        except UnauthorizedError:
            raise CliError("アクセストークンが無効です。`egov login` で再度ログインしてください。") from None
        except AuthError as exc:
            if exc.error == "login_required":
                raise CliError("ログインしていません（またはトークンの有効期限切れです）。`egov login` でログインしてください。") from None
            raise CliError(f"認証エラー: {exc.error}" + (f"（{exc.error_description}）" if exc.error_description else "")) from None
        except NotFoundError as exc:
            raise CliError(f"見つかりません（404）: {exc.url}") from None
        except PackageError as exc:
            raise CliError(exc.message, [exc.to_report()] if exc.item != "-" or exc.file_name != "-" else []) from None
        except (ProfileError, EgovError) as exc:
            raise CliError(str(getattr(exc, "message", "") or exc)) from None
        except httpx.TimeoutException as exc:
            raise CliError(f"e-Gov からの応答がありませんでした（タイムアウト: {exc}）。") from None
        except httpx.TransportError as exc:
            raise CliError(f"e-Gov に接続できません: {exc}") from None
        except sqlite3.Error as exc:
            raise CliError(f"台帳ファイルを更新できませんでした（{exc}）。別の egov が実行中でないか確認して、"
                           "もう一度実行してください。") from None
        except OSError as exc:
            raise CliError(f"ファイルを読み書きできません: {exc.filename or ''}（{exc.strerror or exc}）。"
                           "パスと権限を確認してください。") from None


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(App).json = True  # type: ignore[union-attr]


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, expose_value=False, callback=_set_json,
                        help="結果を JSON で出力します（スクリプト用）")(f)


def signer_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--p12 and --pin, the PKCS#12 to sign with and its password (see `_signer`)."""
    f = click.option("--pin", help="PKCS#12 のパスワード（既定: EGOV_P12_PASSWORD、なければ入力）")(f)
    return click.option("--p12", type=click.Path(exists=True, dir_okay=False),
                        help="署名に使う PKCS#12（既定: プロファイルの証明書）")(f)


pass_app = click.make_pass_decorator(App)


@click.group(cls=EgovGroup)
@click.option("--profile", "-p", "profile_name", envvar="EGOV_PROFILE", help="使うプロファイル（既定: 現在のプロファイル）")
@click.option("--json", "as_json", is_flag=True, help="結果を JSON で出力します（スクリプト用）")
@click.version_option(package_name="egov-sandbox", prog_name="egov")
@click.pass_context
def main(ctx: click.Context, profile_name: str | None, as_json: bool) -> None:
    """e-Gov 電子申請（API v2）のコマンドラインクライアント。

    シミュレーター・検証環境・本番環境のどれにも同じ操作で申請できます。
    """
    app = ctx.ensure_object(App)
    app.profile_name = profile_name
    app.json = as_json


# ---------------------------------------------------------------------------- profiles

@main.group(cls=EgovGroup)
def profile() -> None:
    """接続先プロファイル（シミュレーター / 検証環境 / 本番環境）の管理。"""


@profile.command("add")
@click.argument("name")
@click.option("--simulator", "simulator_url", metavar="URL", help="シミュレーターのURL（例 http://127.0.0.1:8080）")
@click.option("--sandbox", is_flag=True, help="e-Gov 検証環境")
@click.option("--production", is_flag=True, help="e-Gov 本番環境")
@click.option("--api-base", default="", help="API のベースURL（既定はプリセット）")
@click.option("--auth-base", default="", help="認証サーバーのベースURL（既定はプリセット）")
@click.option("--client-id", default="", help="ソフトウェアID")
@click.option("--client-secret", default="", help="APIキー（省略時は入力を求めます）")
@click.option("--redirect-uri", default="", help="登録済みのリダイレクトURI（例 http://127.0.0.1:8765/callback）")
@click.option("--certificate", type=click.Path(dir_okay=False), default="", help="署名に使う PKCS#12 ファイル")
@click.option("--maintenance-url", default="", help="メンテナンス情報の告知先（既定: シミュレーターは /maintenance.json、"
              "実環境は e-Gov のサイト）")
@click.option("--trust", type=click.Path(exists=True, dir_okay=False), default=None,
              help="公文書の署名を手元でも検証するための政府認証基盤の CA 証明書（PEM）")
@click.option("--from-world", is_flag=True, help="シミュレーターのデモ環境からソフトウェアID・APIキー等を取得します")
@click.option("--use/--no-use", default=True, help="作成したプロファイルを現在のプロファイルにします")
@json_option
@pass_app
def profile_add(app: App, name: str, simulator_url: str | None, sandbox: bool, production: bool, api_base: str,
                auth_base: str, client_id: str, client_secret: str, redirect_uri: str, certificate: str,
                maintenance_url: str, trust: str | None, from_world: bool, use: bool) -> None:
    """プロファイルを作成（または上書き）します。"""
    kinds = [k for k, on in (("simulator", bool(simulator_url)), ("sandbox", sandbox), ("production", production)) if on]
    if len(kinds) != 1:
        raise CliError("--simulator URL、--sandbox、--production のいずれか一つを指定してください。")
    kind = kinds[0]
    fields: dict[str, Any] = {"client_id": client_id, "client_secret": client_secret, "redirect_uri": redirect_uri,
                              "certificate": str(Path(certificate).resolve()) if certificate else "",
                              "maintenance_url": maintenance_url, "trust_anchors": str(Path(trust).resolve()) if trust else ""}
    if from_world:
        if kind != "simulator":
            raise CliError("--from-world はシミュレーターでのみ使えます。")
        fields.update({k: v for k, v in _world_fields(app, simulator_url or "").items() if not fields.get(k)})
    if kind != "simulator" and not fields["client_secret"] and sys.stdin.isatty():
        fields["client_secret"] = click.prompt("APIキー", hide_input=True)
    prof = new_profile(name, kind, base_url=simulator_url or "", api_base=api_base, auth_base=auth_base, **fields)
    app.profiles.save(prof, make_current=use)
    if app.json:
        app.out_json(prof.public_dict())
        return
    app.say(f"プロファイル [bold]{escape(name)}[/]（{prof.label}）を保存しました: {escape(str(app.home.profiles_file))}")
    if not prof.client_id:
        app.say("[yellow]注意:[/] ソフトウェアIDが未設定です（--client-id）。")


def _world_fields(app: App, base_url: str) -> dict[str, Any]:
    with app.http_client() as http:
        resp = http.get(f"{base_url.rstrip('/')}/__admin/world")
    if resp.status_code != 200:
        raise CliError(f"シミュレーターのデモ環境を取得できません（{resp.status_code}）。")
    world = resp.json()
    cert = next((c for c in world.get("certificates", []) if c.get("label") == "valid"), {})
    account = next(iter(world.get("accounts", [])), {})
    return {"client_id": world["client_id"], "client_secret": world["client_secret"],
            "redirect_uri": world["redirect_uris"][0], "certificate": cert.get("path", ""),
            "username": account.get("username", "")}


@profile.command("list")
@json_option
@pass_app
def profile_list(app: App) -> None:
    """プロファイルの一覧。"""
    store = app.profiles
    profiles, current = store.all(), store.current_name
    if app.json:
        app.out_json({"current": current, "profiles": [p.public_dict() for p in profiles]})
        return
    table = Table(title="プロファイル")
    for col in ("", "名前", "種類", "API", "ソフトウェアID", "ログインID", "ログイン"):
        table.add_column(col)
    for p in profiles:
        logged_in = "済" if app.home.token_store(p.name).load() else "未"
        table.add_row("*" if p.name == current else "", p.name, p.label, p.api_base, p.client_id, p.username, logged_in)
    app.console.print(table)


@profile.command("use")
@click.argument("name")
@pass_app
def profile_use(app: App, name: str) -> None:
    """現在のプロファイルを切り替えます。"""
    app.profiles.use(name)
    app.say(f"現在のプロファイルを [bold]{escape(name)}[/] にしました。")


@profile.command("show")
@click.argument("name", required=False)
@json_option
@pass_app
def profile_show(app: App, name: str | None) -> None:
    """プロファイルの設定（APIキーは伏せ字）。"""
    prof = app.profiles.get(name or app.profile_name)
    data = prof.public_dict()
    if app.json:
        app.out_json(data)
        return
    for key, value in data.items():
        app.console.print(f"{key:<18} {escape(str(value))}")


@profile.command("remove")
@click.argument("name")
@pass_app
def profile_remove(app: App, name: str) -> None:
    """プロファイルとそのトークンを削除します。"""
    app.profiles.remove(name)
    app.say(f"プロファイル {escape(name)} を削除しました。")


# ---------------------------------------------------------------------------- login / logout

@main.command()
@click.option("--username", "-u", default="", help="ログインID（シミュレーターのログインフォーム用）")
@click.option("--password-stdin", is_flag=True, help="パスワードを標準入力から読みます")
@click.option("--browser/--form", "use_browser", default=None,
              help="ブラウザーでログイン（実環境の既定）／ログインフォームを直接使う（シミュレーターの既定）")
@click.option("--no-open", is_flag=True, help="ブラウザーを開かず、URLを表示だけします（SSH 等）")
@json_option
@pass_app
def login(app: App, username: str, password_stdin: bool, use_browser: bool | None, no_open: bool) -> None:
    """e-Gov にログインし、トークンをプロファイルごとに保存します（0600）。"""
    prof = app.profile()
    if not prof.client_id:
        raise CliError(f"プロファイル {prof.name} にソフトウェアIDが設定されていません。")
    store = app.home.token_store(prof.name)
    browser = use_browser if use_browser is not None else prof.kind != "simulator"
    with app.http_client() as http:
        if browser:
            opener = (lambda url: None) if no_open else app.open_browser
            tokens = login_with_browser(prof.endpoint, http=http, open_browser=opener,
                                        on_url=lambda url: app.err.print(f"ブラウザーでログインしてください:\n{url}",
                                                                         soft_wrap=True))
        else:
            username = username or prof.username or click.prompt("ログインID")
            if password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            else:
                password = os.environ.get("EGOV_PASSWORD") or click.prompt("パスワード", hide_input=True)
            try:
                tokens = login_with_form(prof.endpoint, username, password, http=http)
            except AuthError as exc:
                if exc.error != "login_failed":
                    raise
                raise CliError(f"ログインできませんでした（{exc.error_description or exc.error}）。ログインIDとパスワードを"
                               "確認してください。GビズIDと連携したアカウント（egov-sim serve の一覧で [GビズID]）は"
                               "e-Gov のパスワードではなく「GビズIDでログイン」でログインします: egov login --browser") from None
        store.save(tokens)
        info = {}
        with contextlib.suppress(AuthError, httpx.HTTPError), app.client(prof) as client:
            info = client.introspect()
    name = str(info.get("username") or username)
    if name and name != prof.username:
        app.profiles.update(prof.name, username=name)
    if app.json:
        app.out_json({"profile": prof.name, "username": name, "expires_at": tokens.expires_at.isoformat(),
                      "refresh_expires_at": tokens.refresh_expires_at.isoformat() if tokens.refresh_expires_at else None,
                      "token_file": str(store.path)})
        return
    app.say(f"ログインしました（{escape(name)}、{prof.label}）。トークンを保存しました: {escape(str(store.path))}")


@main.command()
@pass_app
def logout(app: App) -> None:
    """ログアウトし（トークンを無効化）、保存したトークンを削除します。"""
    prof = app.profile()
    with app.client(prof) as client:
        try:
            client.logout()
        except (AuthError, httpx.HTTPError):
            client.store.clear()
    app.say("ログアウトしました。")


# ---------------------------------------------------------------------------- submit / status

def _signer(app: App, prof: Profile, p12: str | None, pin: str | None) -> Signer | None:
    path = p12 or prof.certificate
    if not path:
        return None
    password = pin if pin is not None else os.environ.get("EGOV_P12_PASSWORD")
    if password is None:
        password = click.prompt(f"電子証明書 {Path(path).name} のパスワード（PIN）", hide_input=True)
    signer = load_pkcs12_file(path, password)
    cert = signer.certificate
    info = {"path": str(path), "subject": cert.subject.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.isoformat(), "not_after": cert.not_valid_after_utc.isoformat()}
    if prof.name != "env" and prof.certificate_info != info:
        app.profiles.update(prof.name, certificate_info=info)
    return signer


@main.command()
@click.argument("package", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--dir", "folder", type=click.Path(exists=True, file_okay=False), help="展開した雛形／申請データのフォルダ")
@click.option("--proc", "proc_id", help="手続識別子（雛形を e-Gov から取得して作成します）")
@click.option("--values", type=click.Path(exists=True, dir_okay=False), help="入力値ファイル（JSON / TOML）")
@signer_options
@click.option("--save", "save_to", type=click.Path(dir_okay=False), help="作成した申請データ（zip）の保存先")
@click.option("--queue", "to_queue", is_flag=True, help="送信せず申請リストに保存します（後でまとめて送信）")
@click.option("--no-check", "no_check", is_flag=True,
              help="雛形の形式チェックファイルによる事前チェックを省略して送信します")
@json_option
@pass_app
def submit(app: App, package: str | None, folder: str | None, proc_id: str | None, values: str | None, p12: str | None,
           pin: str | None, save_to: str | None, to_queue: bool, no_check: bool) -> None:
    """申請データを送信します（署名済み zip、またはフォルダ／雛形＋入力値＋証明書から作成）。

    送信前に、雛形の形式チェックファイル（{様式ID}check.xml）で必須項目・半角数字・全角・桁数を
    確認し、e-Gov が返戻する内容があれば送信しません（--no-check で省略）。
    """
    if sum(x is not None for x in (package, folder, proc_id)) != 1:
        raise CliError("PACKAGE（zip）、--dir、--proc のいずれか一つを指定してください。")
    prof = app.profile()
    vals = load_values(values) if values else None
    if package:
        data = Path(package).read_bytes()
        pkg = None
        if vals or p12:
            pkg = ApplicationPackage.from_zip(data)
            data = compose(pkg, vals, _signer(app, prof, p12, pin))
        file_name = Path(package).name
    else:
        if folder:
            pkg = package_from_dir(folder)
        else:
            with app.client(prof) as client:
                pkg = package_from_skeleton(client.get_procedure(str(proc_id)).file_data)
        data = compose(pkg, vals, _signer(app, prof, p12, pin))
        file_name = f"{pkg.proc_id}.zip"
    problems = [] if no_check else _precheck(pkg, data)
    if problems:
        raise CliError("形式チェックでエラーが検出されました。送信していません（入力値を確認してください）。",
                       [p.to_report() for p in problems])
    if save_to:
        Path(save_to).write_bytes(data)
        app.say(f"申請データを保存しました: {escape(save_to)}")
    if to_queue:
        _enqueue(app, prof, [(data, save_to or file_name)])
        return
    with app.client(prof) as client, app.ledger() as ledger:
        facts = package_facts(data, file_name)
        result = Sender(client, ledger, prof.name, clock=app.clock).send(data, facts=facts)
        row = ledger.send(result.send_id) if result.send_id else None
    if app.json:
        app.out_json({**result.to_json(), "send": row.to_json() if row else None})
    elif result.ok:
        app.say(f"{OUTCOME_MARK[result.outcome]} {escape(result.message)}")
        if row:
            app.say(f"  ID {row.id}　到達番号 [bold]{row.arrive_id}[/]　{escape(row.proc_name)}")
    if not result.ok:
        raise CliError(result.message if app.json else f"送信できませんでした。{result.message}", result.report_list)


def _precheck(pkg: ApplicationPackage | None, data: bytes) -> list[CheckProblem]:
    """The check-file rules a package breaks (a zip we cannot even read is left to the server's report)."""
    try:
        return (pkg or ApplicationPackage.from_zip(data)).check()
    except PackageError:
        return []


def _show_application(app: App, a: Application, row: SendRow | None, ledger: Ledger | None = None) -> None:
    table = Table(show_header=False, box=None, title=a.corporation_name if a.corporation_name not in ("", "-") else None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in (("ID", row.id if row else "-"), ("ステータス", a.status), ("到達番号", a.arrive_id),
                       ("到達日時", a.arrive_date), ("申請者名", a.applicant_name), ("手続名", a.proc_name),
                       ("提出先", a.submission_destination), ("取下げ", "可" if a.withdraw_flag else "不可"),
                       ("納付状況", a.pay_status), ("通知件数", f"{a.notice_count}件"), ("公文書件数", f"{a.doc_count}件"),
                       ("摘要", row.memo if row else "")):
        table.add_row(key, escape(str(value if value is not None else "")))
    app.console.print(table)
    if a.notices:
        notices = Table(title="通知")
        for col in ("通知通番", "発行日時", "種別", "件名", "補正期限"):
            notices.add_column(col)
        for n in a.notices:
            notices.add_row(str(n.notice_sub_id), str(n.issue_date or ""), n.notice_data_type, escape(n.notice_title),
                            str(n.correct_expired_date or ""))
        app.console.print(notices)
    saved = {f.notice_sub_id: f for f in ledger.fetches(row.id, "document")} if row and ledger else {}
    if a.official_documents:
        _documents_table(app, list(a.raw.get("official_list") or []), saved)
    payments = row.payments if row else list(a.raw.get("apply_pay_list") or [])
    if payments:
        _payments_table(app, payments)
    actions = ledger.actions(row.id) if row and ledger else []
    if actions:
        history = Table(title="操作履歴", title_justify="left")
        for col in ("日時", "操作", "内容"):
            history.add_column(col)
        for act in actions:
            history.add_row(act.at.replace("-", "/"), ACTION_LABELS.get(act.kind, act.kind),
                            escape(", ".join(f"{k}={v}" for k, v in act.detail.items() if v not in (None, ""))))
        app.console.print(history)


def _show_refusal(app: App, row: SendRow) -> None:
    app.console.print(f"ID {row.id}　{escape(row.proc_name)}　[red]{row.display_status}[/]")
    error = row.error or {}
    app.console.print(f"  {escape(str(error.get('title') or ''))} {escape(str(error.get('detail') or ''))}".rstrip())
    for r in error.get("report_list") or []:
        where = " / ".join(str(r.get(k)) for k in ("form_name", "file_name", "item") if r.get(k) not in (None, "", "-"))
        app.console.print(f"  ・{escape(where + '：') if where else ''}{escape(str(r.get('content', '')))}")


@main.command()
@click.argument("target")
@json_option
@pass_app
def status(app: App, target: str) -> None:
    """申請案件の状況（TARGET は台帳の ID または到達番号）。台帳も更新します。"""
    prof = app.profile()
    with app.client(prof) as client, app.ledger() as ledger:
        row = ledger.find(prof.name, target)
        if row is None and not (target.isdigit() and 16 <= len(target) <= 18):
            raise CliError(f"ID {target} の申請は台帳にありません（このプロファイルの現在の環境）。`egov list --all` で確認してください。")
        if row is not None and row.outcome in ("sending", "unknown"):
            found = Sender(client, ledger, prof.name, clock=app.clock).reconcile(row)
            if found is None:
                if app.json:
                    app.out_json({"send": row.to_json(), "application": None})
                else:
                    app.say(f"ID {row.id}: 到達状況確認中（e-Gov 側で到達を確認できません）。")
                return
            row = ledger.send(row.id)
        if row is not None and row.outcome == "refused":
            if app.json:
                app.out_json({"send": row.to_json(), "application": None})
            else:
                _show_refusal(app, row)
            return
        arrive_id = row.arrive_id if row else target
        detail = client.get_application(str(arrive_id))
        if row is not None:
            ledger.record_detail(row.id, detail, app.clock())
            row = ledger.send(row.id)
        if app.json:
            app.out_json({"send": row.to_json() if row else None, "application": detail.raw,
                          "saved": [f.to_json() for f in ledger.fetches(row.id)] if row else [],
                          "actions": [a.to_json() for a in ledger.actions(row.id)] if row else []})
        else:
            _show_application(app, detail, row, ledger)


# ---------------------------------------------------------------------------- the progress ledger

def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.replace("/", "-"))
    except ValueError:
        raise click.BadParameter("YYYY-MM-DD で指定してください。") from None


@main.command("list")
@click.option("--from", "date_from", help="送信日の開始（YYYY-MM-DD、既定: 3か月前）")
@click.option("--to", "date_to", help="送信日の終了（YYYY-MM-DD、既定: 今日）")
@click.option("--status", "group", type=click.Choice(STATUS_GROUPS), default="全て", show_default=True,
              help="到達状況で絞り込み")
@click.option("--all", "show_all", is_flag=True, help="非表示にした申請も表示します（全表示）")
@json_option
@pass_app
def list_(app: App, date_from: str | None, date_to: str | None, group: str, show_all: bool) -> None:
    """申請データ進捗管理: 送信した申請の一覧（新しい順）。"""
    prof = app.profile()
    today = app.clock().date()
    start, end = _parse_date(date_from) or months_before(today, 3), _parse_date(date_to) or today
    with app.ledger() as ledger:
        rows = ledger.sends(prof.name, date_from=start, date_to=end, group=group, include_hidden=show_all)
    if app.json:
        app.out_json({"profile": prof.name, "date_from": start.isoformat(), "date_to": end.isoformat(),
                      "status_group": group, "include_hidden": show_all, "sends": [r.to_json() for r in rows]})
        return
    title = (f"申請データ進捗管理（{prof.label} {prof.name}）　送信日時 {start:%Y/%m/%d} ～ {end:%Y/%m/%d}　"
             f"到達状況: {group}{'　全表示' if show_all else ''}")
    table = Table(title=title, title_justify="left")
    for col, kw in (("ID", {"justify": "right"}), ("送信日時", {}), ("手続名称", {"max_width": 36, "overflow": "ellipsis"}),
                    ("到達番号", {}), ("到達状況", {}), ("通知", {"justify": "right"}), ("公文書", {"justify": "right"}),
                    ("納付", {}), ("取下げ", {}), ("摘要", {"max_width": 24})):
        table.add_column(col, **kw)
    for r in rows:
        style = "red" if r.outcome == "refused" else ("yellow" if r.outcome in ("sending", "unknown") else None)
        name = r.proc_name.split("／")[0] if r.proc_name else r.proc_id
        table.add_row(str(r.id), r.sent_at.replace("-", "/"), escape(name), r.arrive_id or "", r.display_status,
                      str(len(r.notices) or ""), str(len(r.documents) or ""),
                      r.pay_status if r.pay_status not in ("", "なし") else "", "可" if r.withdraw_flag else "",
                      escape(r.memo) + ("　[dim](非表示)[/]" if r.hidden else ""), style=style)
    app.console.print(table)
    app.console.print(f"{len(rows)} 件")


@main.command()
@click.argument("ids", nargs=-1)
@click.option("--get", "-g", "get", is_flag=True,
              help="取得: 通知（お知らせ・補正等）の本文と添付、公文書の一覧、納付情報も取得します")
@json_option
@pass_app
def refresh(app: App, ids: tuple[str, ...], get: bool) -> None:
    """確認: 申請状況を e-Gov から取得して台帳を更新します（既定: 終了していない全件、--get で取得も）。"""
    prof = app.profile()
    changes: list[dict[str, Any]] = []
    reports: list[GetReport] = []
    with app.client(prof) as client, app.ledger() as ledger:
        sender = Sender(client, ledger, prof.name, clock=app.clock)
        work = app.casework(client, ledger)
        if ids:
            rows = [_row(ledger, prof, i) for i in ids]
        else:  # 取得 also looks at finished cases with a notice or document not saved yet
            rows = ledger.sends_to_get(prof.name) if get else ledger.open_sends(prof.name)
        for row in rows:
            before = row.display_status
            note = ""
            if row.outcome in ("sending", "unknown"):
                found = sender.reconcile(row)
                note = found.message if found else "e-Gov 側で到達を確認できません。"
                row = ledger.send(row.id) or row
            if row.outcome == "sent" and row.arrive_id:
                try:
                    if get:
                        report = work.get(row)
                        reports.append(report)
                        if report.new_notices:
                            note = f"新しい通知 {len(report.new_notices)} 件を保存しました。"
                    else:
                        work.check(row)
                except NotFoundError:
                    note = "e-Gov で見つかりません（404）。"
                row = ledger.send(row.id) or row
            changes.append({"id": row.id, "arrive_id": row.arrive_id, "before": before, "after": row.display_status,
                            "notices": len(row.notices), "documents": len(row.documents),
                            "pay_status": row.pay_status, "withdraw_flag": row.withdraw_flag, "note": note})
    if app.json:
        out: dict[str, Any] = {"profile": prof.name, "refreshed": changes}
        if get:
            out["fetched"] = [{"id": r.row.id, "arrive_id": r.row.arrive_id,
                               "new_notices": [n.to_json() for n in r.new_notices], "notices": r.row.notices,
                               "documents": r.documents, "payments": r.payments} for r in reports]
        app.out_json(out)
        return
    table = Table(title="取得（通知・公文書の情報の更新）" if get else "確認（申請状況の更新）", title_justify="left")
    for col in ("ID", "到達番号", "到達状況", "取下げ", "通知", "公文書", "納付", "備考"):
        table.add_column(col)
    for c in changes:
        moved = c["after"] if c["before"] == c["after"] else f"{c['before']} → [bold]{c['after']}[/]"
        table.add_row(str(c["id"]), c["arrive_id"] or "", moved, "可" if c["withdraw_flag"] else "",
                      str(c["notices"] or ""), str(c["documents"] or ""),
                      c["pay_status"] if c["pay_status"] not in ("", "なし") else "", escape(c["note"]))
    app.console.print(table)
    app.console.print(f"{len(changes)} 件を{'取得' if get else '確認'}しました。")
    for r in reports:
        _show_fetched(app, r)


def _show_fetched(app: App, r: GetReport) -> None:
    """取得 of one case: its notices (new ones marked), official documents and payments."""
    if not (r.row.notices or r.documents or r.payments):
        return
    new = {n.notice_sub_id: n for n in r.new_notices}
    app.console.print(f"\n[bold]ID {r.row.id}[/]　到達番号 {r.row.arrive_id}　{escape(r.row.display_status)}")
    if r.row.notices:
        notices = Table(title="通知", title_justify="left")
        for col in ("", "通知通番", "発行日時", "種別", "件名", "補正期限", "保存先"):
            notices.add_column(col)
        for n in r.row.notices:
            fetched = new.get(int(n["notice_sub_id"]))
            notices.add_row("[green]新[/]" if fetched else "", str(n["notice_sub_id"]), str(n.get("issue_date") or ""),
                            escape(str(n.get("notice_data_type") or "")), escape(str(n.get("notice_title") or "")),
                            str(n.get("correct_expired_date") or ""),
                            escape(_short_path(app, fetched.folder)) if fetched else "")
        app.console.print(notices)
    if r.documents:
        _documents_table(app, r.documents, {})
    if r.payments:
        _payments_table(app, r.payments)


def _short_path(app: App, folder: str) -> str:
    """A saved folder relative to the data folder when it is inside it (tables stay narrow)."""
    try:
        return str(Path(folder).relative_to(app.home.data_dir))
    except ValueError:
        return folder


def _documents_table(app: App, documents: list[dict[str, Any]], saved: dict[int, Any]) -> None:
    table = Table(title="公文書", title_justify="left")
    for col in ("通知通番", "発行日時", "件名", "取得期限", "取得完了日時", "署名有無", "保存先フォルダ", "署名検証"):
        table.add_column(col)
    for d in documents:
        f = saved.get(int(d["notice_sub_id"]))
        check = "" if f is None else ("[green]検証成功[/]" if f.verified else
                                      ("署名なし" if f.verified is None else "[red]検証失敗[/]"))
        table.add_row(str(d["notice_sub_id"]), str(d.get("allowed_date") or ""), escape(str(d.get("doc_title") or "")),
                      str(d.get("doc_download_expired_date") or ""), str(d.get("doc_download_date") or ""),
                      str(d.get("sign") or ""), escape(_short_path(app, f.folder)) if f else "", check)
    app.console.print(table)


def _payments_table(app: App, payments: list[dict[str, Any]]) -> None:
    table = Table(title="電子納付", title_justify="left")
    for col in ("納付番号", "確認番号", "収納機関番号", "金額", "納付期限", "納付状況", "納付日"):
        table.add_column(col)
    for p in payments:
        fee = p.get("total_fee")
        table.add_row(str(p.get("pay_number") or ""), str(p.get("confirm_number") or ""),
                      str(p.get("facility_number") or ""), f"{int(fee):,} 円" if fee not in (None, "") else "",
                      str(p.get("pay_expired") or ""), str(p.get("pay_status") or ""), str(p.get("pay_date") or ""))
    app.console.print(table)


def _row(ledger: Ledger, prof: Profile, key: str) -> SendRow:
    row = ledger.find(prof.name, key)
    if row is None:
        raise CliError(f"ID {key} の申請は台帳にありません（このプロファイルの現在の環境）。`egov list --all` で一覧を確認してください。")
    return row


@main.command()
@click.argument("send_id")
@click.argument("text", nargs=-1)
@json_option
@pass_app
def memo(app: App, send_id: str, text: tuple[str, ...]) -> None:
    """摘要欄の登録（例: egov memo 12 林物産 山田太郎 社保取得）。空にすると削除します。"""
    prof = app.profile()
    with app.ledger() as ledger:
        row = _row(ledger, prof, send_id)
        ledger.set_memo(row.id, " ".join(text).strip())
        row = ledger.send(row.id)
    assert row is not None
    app.out_json(row.to_json()) if app.json else app.say(f"ID {row.id} の摘要を登録しました: {escape(row.memo)}")


def _visibility(app: App, send_id: str, hidden: bool) -> None:
    prof = app.profile()
    with app.ledger() as ledger:
        row = _row(ledger, prof, send_id)
        ledger.set_hidden(row.id, hidden)
    if app.json:
        app.out_json({"id": row.id, "hidden": hidden})
    else:
        app.say(f"ID {row.id} を{'非表示にしました（egov list --all で表示されます）' if hidden else '表示に戻しました'}。")


@main.command()
@click.argument("send_id")
@json_option
@pass_app
def hide(app: App, send_id: str) -> None:
    """申請を一覧で非表示にします（非表示にする）。"""
    _visibility(app, send_id, True)


@main.command()
@click.argument("send_id")
@json_option
@pass_app
def show(app: App, send_id: str) -> None:
    """非表示にした申請を表示に戻します（表示する）。"""
    _visibility(app, send_id, False)


# ---------------------------------------------------------------------------- official documents

def _authorities(prof: Profile, trust: str | None) -> list[Any]:
    path = trust or prof.trust_anchors
    if not path:
        return []
    from cryptography import x509

    try:
        return list(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    except (OSError, ValueError) as exc:
        raise CliError(f"CA 証明書（{path}）を読めません: {exc}") from None


@main.group(cls=EgovGroup)
def docs() -> None:
    """公文書: 一覧、保存（取得日時のフォルダ＋署名検証）、取得完了。"""


@docs.command("list")
@click.argument("send_id")
@json_option
@pass_app
def docs_list(app: App, send_id: str) -> None:
    """公文書一覧（発行日時・取得期限・取得完了日時・署名有無・保存先フォルダ）。"""
    prof = app.profile()
    with app.client(prof) as client, app.ledger() as ledger:
        row, _ = app.casework(client, ledger).check(_row(ledger, prof, send_id))
        saved = {f.notice_sub_id: f for f in ledger.fetches(row.id, "document")}
    if app.json:
        app.out_json({"id": row.id, "arrive_id": row.arrive_id, "documents": row.documents,
                      "saved": [f.to_json() for f in saved.values()]})
        return
    if not row.documents:
        app.say(f"ID {row.id}（到達番号 {row.arrive_id}）には、まだ公文書が発行されていません（{row.display_status}）。")
        return
    _documents_table(app, row.documents, saved)


@docs.command("fetch")
@click.argument("send_id")
@click.option("--sub", "subs", type=int, multiple=True, help="通知通番（既定: 取得完了していない全件）")
@click.option("--to", "base", type=click.Path(file_okay=False), help="保存先（既定: データフォルダ/documents/到達番号）")
@click.option("--trust", type=click.Path(exists=True, dir_okay=False),
              help="手元の署名検証に使う CA 証明書（PEM、既定: プロファイルの設定）")
@json_option
@pass_app
def docs_fetch(app: App, send_id: str, subs: tuple[int, ...], base: str | None, trust: str | None) -> None:
    """公文書を取得日時（YYYYMMDD_HHMMSS）のフォルダに保存し、署名を検証します。"""
    prof = app.profile()
    authorities = _authorities(prof, trust)
    with app.client(prof) as client, app.ledger() as ledger:
        row = _row(ledger, prof, send_id)
        saved = app.casework(client, ledger).fetch_documents(row, subs=subs, base=Path(base) if base else None,
                                                             authorities=authorities)
    if app.json:
        app.out_json({"id": row.id, "arrive_id": row.arrive_id, "saved": [d.to_json() for d in saved]})
    else:
        for d in saved:
            _show_saved(app, d)
    bad = [d for d in saved if d.verification.valid is False]
    if bad:
        raise CliError(f"署名検証に失敗した公文書があります（通知通番 {', '.join(str(d.notice_sub_id) for d in bad)}）。"
                       "保存したファイルは残してあります。提出先に確認してください。")


def _show_saved(app: App, d: SavedDocument) -> None:
    v = d.verification
    mark = {True: "[green]検証成功[/]", False: "[red]検証失敗[/]", None: "署名なし"}[v.valid]
    app.console.print(f"公文書（通知通番 {d.notice_sub_id}）{escape(d.title)} を保存しました: {escape(str(d.folder))}")
    app.console.print(f"  ファイル: {escape('、'.join(d.files))}")
    app.console.print(f"  署名検証（{v.by}）: {mark}（{escape(v.message)}）")


@docs.command("complete")
@click.argument("send_id")
@click.option("--sub", "subs", type=int, multiple=True, help="通知通番（既定: 取得完了していない全件）")
@click.option("--yes", "-y", is_flag=True, help="確認せずに取得完了を申請します")
@click.option("--force", is_flag=True, help="保存していない公文書でも取得完了にします（再取得できなくなります）")
@json_option
@pass_app
def docs_complete(app: App, send_id: str, subs: tuple[int, ...], yes: bool, force: bool) -> None:
    """取得完了申請: 以後この公文書は再取得できません（確認があります）。"""
    prof = app.profile()
    with app.client(prof) as client, app.ledger() as ledger:
        work = app.casework(client, ledger)
        row, detail = work.check(_row(ledger, prof, send_id))
        open_docs = [d for d in detail.official_documents if d.doc_download_date is None]
        targets = [d for d in open_docs if not subs or d.notice_sub_id in subs]
        if not targets:
            raise CliError(f"取得完了にできる公文書はありません（到達番号 {row.arrive_id}）。")
        names = "、".join(f"{d.doc_title}（通知通番 {d.notice_sub_id}）" for d in targets)
        if not yes:
            app.err.print(f"[yellow]注意:[/] {COMPLETE_WARNING}")
            if not click.confirm(f"{names} の取得完了を申請しますか？", default=False, err=True):
                raise CliError("取得完了を申請しませんでした。")
        done = [work.complete(row, d.notice_sub_id, force=force) for d in targets]
        row = ledger.send(row.id) or row
    if app.json:
        app.out_json({"id": row.id, "arrive_id": row.arrive_id, "status": row.status,
                      "completed": [{"notice_sub_id": c.notice_sub_id, "doc_title": c.doc_title,
                                     "download_date": c.download_date} for c in done]})
        return
    for c in done:
        app.say(f"取得完了を申請しました: {escape(c.doc_title)}（通知通番 {c.notice_sub_id}、取得完了日時 {c.download_date}）")
    app.say(f"ID {row.id} の到達状況: [bold]{escape(row.display_status)}[/]")


# ---------------------------------------------------------------------------- 取下げ / 補正 / 再提出

def _required_signer(app: App, prof: Profile, p12: str | None, pin: str | None) -> Signer:
    signer = _signer(app, prof, p12, pin)
    if signer is None:
        raise CliError("電子証明書を指定してください（--p12、または egov profile add --certificate）。")
    return signer


@main.command()
@click.argument("send_id")
@click.option("--name", "applicant_name", required=True, help="申請者氏名")
@click.option("--reason", required=True, help="理由")
@signer_options
@json_option
@pass_app
def withdraw(app: App, send_id: str, applicant_name: str, reason: str, p12: str | None, pin: str | None) -> None:
    """取下げ依頼: 取下げ依頼書を作成・署名して送信します（e-Gov が取下げを受け付ける状態の時のみ）。"""
    prof = app.profile()
    signer = _required_signer(app, prof, p12, pin)
    with app.client(prof) as client, app.ledger() as ledger:
        result, row = app.casework(client, ledger).withdraw(_row(ledger, prof, send_id), name=applicant_name,
                                                            reason=reason, signer=signer)
    if app.json:
        app.out_json({"id": row.id, "arrive_id": result.arrive_id, "withdraw_date": result.withdraw_date,
                      "status": row.status, "send": row.to_json()})
        return
    app.say(f"[green]✔[/] 送信しました。取下げ依頼（到達番号 {result.arrive_id}、{escape(result.proc_name)}）"
            f"　{result.withdraw_date or ''}")
    app.say(f"  ID {row.id} の到達状況: [bold]{escape(row.display_status)}[/]（提出先の処理後「手続終了(取下げ済み)」になります）")


def _followup(app: App, package: str, p12: str | None, pin: str | None) -> tuple[Profile, bytes, Signer | None]:
    """What 補正 and 再提出 start from: the profile, the package file read, the signer (if a certificate is given)."""
    prof = app.profile()
    data = Path(package).read_bytes()
    return prof, data, _signer(app, prof, p12, pin)


@main.command()
@click.argument("send_id")
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
@signer_options
@json_option
@pass_app
def amend(app: App, send_id: str, package: str, p12: str | None, pin: str | None) -> None:
    """補正（部分補正）: 補正の通知を受けた申請に、直した申請データを送信します。"""
    prof, data, signer = _followup(app, package, p12, pin)
    with app.client(prof) as client, app.ledger() as ledger:
        result, row = app.casework(client, ledger).amend(_row(ledger, prof, send_id), data, signer)
    if app.json:
        app.out_json({"id": row.id, "arrive_id": result.arrive_id, "amend_date": result.amend_date,
                      "status": row.status})
        return
    app.say(f"[green]✔[/] 送信しました。補正（到達番号 {result.arrive_id}、{result.amend_date or ''}）")
    app.say(f"  ID {row.id} の到達状況: [bold]{escape(row.display_status)}[/]")


@main.command()
@click.argument("send_id")
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
@signer_options
@json_option
@pass_app
def resubmit(app: App, send_id: str, package: str, p12: str | None, pin: str | None) -> None:
    """再提出: 再提出を求められた申請を、申請種別「再提出」の新しい申請として送信します。"""
    prof, data, signer = _followup(app, package, p12, pin)
    with app.client(prof) as client, app.ledger() as ledger:
        original = _row(ledger, prof, send_id)
        work = app.casework(client, ledger)
        data = work.resubmission(original, data, signer)
        result = Sender(client, ledger, prof.name, clock=app.clock).send(data, facts=package_facts(data, Path(package).name))
        if result.ok:
            original = work.record_resubmission(original, result.send_id, result.arrive_id)
        new_row = ledger.send(result.send_id) if result.send_id else None
    if app.json:
        app.out_json({**result.to_json(), "original": original.to_json(), "send": new_row.to_json() if new_row else None})
    elif result.ok:
        app.say(f"{OUTCOME_MARK[result.outcome]} {escape(result.message)}（再提出）")
        if new_row:
            app.say(f"  ID {new_row.id}　到達番号 [bold]{new_row.arrive_id}[/]　初回受付番号 {original.arrive_id}")
        app.say(f"  元の申請 ID {original.id} の到達状況: {escape(original.display_status)}")
    if not result.ok:
        raise CliError(result.message if app.json else f"送信できませんでした。{result.message}", result.report_list)


# ---------------------------------------------------------------------------- maintenance

@main.command()
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1), help="表示する予定の件数")
@json_option
@pass_app
def maintenance(app: App, limit: int) -> None:
    """メンテナンス情報: 告知されているメンテナンスの予定。"""
    prof = app.profile()
    source = prof.maintenance_source
    if not is_json_source(source):
        if app.json:
            app.out_json({"profile": prof.name, "source": source, "notice": None})
        else:
            app.say(f"{prof.label}のメンテナンス情報は e-Gov のサイトで告知されています: {escape(source)}")
            app.say(f"[dim]{ADVICE}[/]")
        return
    with app.http_client() as http:
        notice = read_notice(http, source)
    if app.json:
        app.out_json({"profile": prof.name, "source": source, "notice": notice.to_json()})
        return
    app.console.print(f"[bold]{escape(notice.title)}[/]（{prof.label} {escape(source)}）")
    if notice.in_maintenance and notice.current:
        app.console.print(f"[red]現在メンテナンス中です[/]: {notice.current.start_text} ～ {notice.current.end_text}")
    else:
        app.console.print("現在はメンテナンス中ではありません。")
    if notice.schedule:
        table = Table(title="■ 作業予定日時", title_justify="left")
        for col in ("開始", "", "終了", "件名"):
            table.add_column(col)
        for w in notice.schedule[:limit]:
            table.add_row(w.start_text, "～", w.end_text, escape(w.title))
        app.console.print(table)
        if len(notice.schedule) > limit:
            app.console.print(f"ほか {len(notice.schedule) - limit} 件（--limit で表示件数を変えられます）")
    else:
        app.console.print("現在、予定されているメンテナンスはありません。")
    app.console.print(f"[dim]{ADVICE}[/]")


# ---------------------------------------------------------------------------- the send list and batch sending

def _enqueue(app: App, prof: Profile, packages: list[tuple[bytes, str]]) -> None:
    added: list[dict[str, Any]] = []
    with app.ledger() as ledger:
        for data, source in packages:
            facts = package_facts(data, Path(source).name)
            sent = [r for r in ledger.sends_for_digest(prof.name, facts.digest) if r.outcome == "sent"]
            if sent:
                raise CliError(f"{source}: この申請データは送信済みです（ID {sent[0].id}、到達番号 {sent[0].arrive_id}）。")
            queued = ledger.queued_with_digest(prof.name, facts.digest)
            if queued:
                raise CliError(f"{source}: この申請データは既に申請リストにあります（ID {queued.id}）。")
            app.home.queue_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            stored = app.home.queue_dir / f"{facts.digest}.zip"
            stored.write_bytes(data)
            stored.chmod(0o600)
            item_id = ledger.enqueue(prof.name, facts, stored, str(source), app.clock())
            signed = ApplicationPackage.from_zip(data).is_signed
            added.append({"id": item_id, "source": str(source), "proc_id": facts.proc_id, "signed": signed})
    if app.json:
        app.out_json({"added": added})
        return
    for a in added:
        warn = "" if a["signed"] else "　[yellow]（電子署名がありません）[/]"
        app.say(f"申請リストに保存しました: ID {a['id']}　{escape(a['source'])}{warn}")


@main.group(cls=EgovGroup)
def queue() -> None:
    """申請リスト（後でまとめて送信）。"""


@queue.command("add")
@click.argument("packages", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@json_option
@pass_app
def queue_add(app: App, packages: tuple[str, ...]) -> None:
    """申請データ（zip）を申請リストに保存します（追加した順に送信されます）。"""
    _enqueue(app, app.profile(), [(Path(p).read_bytes(), p) for p in packages])


@queue.command("list")
@click.option("--waiting", is_flag=True, help="未送信のものだけ表示します")
@json_option
@pass_app
def queue_list(app: App, waiting: bool) -> None:
    """申請データリスト（送信済みは「済」と申請日を表示）。"""
    prof = app.profile()
    with app.ledger() as ledger:
        items = ledger.waiting(prof.name) if waiting else ledger.queue(prof.name)
        arrivals = {i.id: (ledger.send(i.send_id).arrive_id if i.send_id and ledger.send(i.send_id) else None)
                    for i in items}
    if app.json:
        app.out_json({"profile": prof.name, "items": [{**i.to_json(), "arrive_id": arrivals[i.id]} for i in items]})
        return
    table = Table(title=f"申請データリスト（{prof.name}）", title_justify="left")
    for col, kw in (("ID", {"justify": "right"}), ("送信", {}), ("作成日", {}), ("申請日", {}),
                    ("手続名", {"max_width": 30, "overflow": "ellipsis"}), ("申請者", {}), ("到達番号", {}),
                    ("備考", {"max_width": 50})):
        table.add_column(col, **kw)
    for i in items:
        style = {"failed": "red", "sent": "dim"}.get(i.state)
        name = i.proc_name.split("／")[0] if i.proc_name else i.proc_id
        table.add_row(str(i.id), i.state_label, i.added_at.replace("-", "/"), (i.sent_at or "").replace("-", "/"),
                      escape(name), escape(i.applicant_name), arrivals[i.id] or "", escape(i.note), style=style)
    app.console.print(table)
    app.console.print(f"{len(items)} 件（未送信 {sum(1 for i in items if i.state in ('queued', 'sending'))} 件）")


@queue.command("remove")
@click.argument("item_id", type=int)
@pass_app
def queue_remove(app: App, item_id: int) -> None:
    """申請リストから削除します（APIデータ削除）。送信済みの記録は台帳に残ります。"""
    prof = app.profile()
    with app.ledger() as ledger:
        item = ledger.queue_item(item_id)
        if item is None or item.profile != prof.name:
            raise CliError(f"申請リストに ID {item_id} はありません。")
        if item.state == "sending":
            raise CliError(f"ID {item_id} は送信中（または送信結果が不明）です。`egov batch send` で確認してから削除してください。")
        ledger.dequeue(item_id)
        others = [i for i in ledger.queue(prof.name) if i.digest == item.digest]
    if not others:
        with contextlib.suppress(FileNotFoundError):
            Path(item.path).unlink()
    app.say(f"申請リストから ID {item_id} を削除しました。")


@queue.command("retry")
@click.argument("item_id", type=int)
@pass_app
def queue_retry(app: App, item_id: int) -> None:
    """エラーになった申請データを、もう一度送信待ちに戻します。"""
    with app.ledger() as ledger:
        item = ledger.queue_item(item_id)
        if item is None or item.state != "failed":
            raise CliError(f"ID {item_id} はエラーの申請データではありません。")
        ledger.requeue(item_id)
    app.say(f"ID {item_id} を送信待ちに戻しました。")


@main.group(cls=EgovGroup)
def batch() -> None:
    """まとめて送信。"""


@batch.command("send")
@click.option("--limit", default=MAX_PER_RUN, show_default=True, type=click.IntRange(1, MAX_PER_RUN),
              help="一度に送信する件数（20 件まで）")
@json_option
@pass_app
def batch_send(app: App, limit: int) -> None:
    """申請リストを順に送信します。20 件まで、エラーまたは応答がない場合はその時点で中断します（再実行で続きから）。"""
    from .batch import exclusive

    prof = app.profile()
    with exclusive(app.home.data_dir / "batch.lock"), app.client(prof) as client, app.ledger() as ledger:
        sender = Sender(client, ledger, prof.name, clock=app.clock)
        if app.json:
            report = sender.run_batch(limit)
        else:
            report = _batch_with_progress(app, sender, limit)
    if app.json:
        app.out_json(report.to_json())
    if report.stopped_at is not None:
        failed = next(r for i, r in report.results if i == report.stopped_at)
        raise CliError(f"ID {report.stopped_at} で中断しました: {failed.message}", failed.report_list)


def _batch_with_progress(app: App, sender: Sender, limit: int) -> Any:
    progress = Progress(TextColumn("[bold]まとめて送信[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=app.console)
    task = progress.add_task("send", total=None)
    sent = 0

    def on_event(e: BatchEvent) -> None:
        nonlocal sent
        if e.kind == "start":
            if e.total == 0:
                progress.console.print("送信待ちの申請データはありません。")
            progress.update(task, total=e.total)
        elif e.kind == "item" and e.result is not None:
            r = e.result
            sent += r.outcome == "sent"
            arrive = f"到達番号 {r.arrive_id}　" if r.arrive_id else ""
            progress.console.print(f"{OUTCOME_MARK[r.outcome]} [{e.position}/{e.total}] ID {e.item_id}　"
                                   f"{escape(e.label)}　{arrive}{escape(r.message)}")
            progress.advance(task)
        elif e.kind == "stop":
            progress.console.print(f"[red]中断:[/] {escape(e.message)} 残りの申請データは送信されていません。")
        elif e.kind == "done":
            progress.console.print(f"送信 {sent} 件　{e.message}")

    with progress:
        return sender.run_batch(limit, on_event=on_event)


# ---------------------------------------------------------------------------- doctor

@main.command()
@click.option("--p12", type=click.Path(dir_okay=False), help="確認する PKCS#12（既定: プロファイルの証明書）")
@click.option("--pin", help="PKCS#12 のパスワード（既定: EGOV_P12_PASSWORD）")
@json_option
@pass_app
def doctor(app: App, p12: str | None, pin: str | None) -> None:
    """接続先・アクセストークン・電子証明書（期限 30 日前から警告）を点検します。"""
    prof = app.profile()
    checks: list[Check] = [Check("プロファイル", OK, f"{prof.name}（{prof.label}）{prof.api_base}")]
    with app.http_client() as http:
        checks.append(check_reachable("API サーバー", f"{prof.api_base}/apply/lists", http))
        checks.append(check_reachable("認証サーバー", f"{prof.auth_base}/token/introspect", http))
        checks.append(check_tokens(app.home.token_store(prof.name), prof.endpoint, http))
    checks.append(_certificate_check(prof, p12, pin))
    with app.ledger() as ledger:
        pending = [r for r in ledger.open_sends(prof.name) if r.outcome in ("sending", "unknown")]
    if pending:
        checks.append(Check("送信結果", WARN, f"送信結果が不明な申請が {len(pending)} 件あります（ID "
                            f"{', '.join(str(r.id) for r in pending[:10])}）。`egov refresh` で到達状況を確認してください。"))
    if app.json:
        app.out_json({"profile": prof.name, "checks": [c.to_json() for c in checks],
                      "ok": all(c.level != FAIL for c in checks)})
    else:
        grid = Table.grid(padding=(0, 2))
        for c in checks:
            grid.add_row(f"[{LEVEL_STYLE[c.level]}]{LEVEL_LABELS[c.level]}[/]", c.name, escape(c.message))
        app.console.print(grid)
    if any(c.level == FAIL for c in checks):
        sys.exit(1)


def _certificate_check(prof: Profile, p12: str | None, pin: str | None) -> Check:
    path = p12 or prof.certificate
    password = pin if pin is not None else os.environ.get("EGOV_P12_PASSWORD")
    now = datetime.now(UTC)
    if path and password is not None:
        try:
            return check_certificate(load_pkcs12_file(path, password).certificate, now)
        except (OSError, PackageError) as exc:
            return Check("電子証明書", FAIL, f"{path}: {exc}")
    info = prof.certificate_info
    if info and (not path or info.get("path") == str(path)):
        return certificate_dates("電子証明書", datetime.fromisoformat(info["not_before"]),
                                 datetime.fromisoformat(info["not_after"]), now,
                                 {"subject": info.get("subject"), "source": "前回読み込んだ時の情報"})
    if path:
        return Check("電子証明書", WARN, f"{path} を確認するにはパスワードが必要です（--pin または EGOV_P12_PASSWORD）。")
    return Check("電子証明書", WARN, "電子証明書が設定されていません（egov profile add --certificate、または --p12）。")


# ---------------------------------------------------------------------------- 最終確認試験

main.add_command(final_test_group)


if __name__ == "__main__":
    main()
