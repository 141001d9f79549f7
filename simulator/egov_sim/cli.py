"""egov-sim — run the simulator and work with its demo world."""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .serving import SERVERS
from .settings import Settings


def _settings(database: str | None, clock_speed: float | None, data_dir: str | None = None) -> Settings:
    overrides: dict[str, object] = {"database_url": database, "clock_speed": clock_speed}
    if data_dir:
        overrides["data_dir"] = Path(data_dir)
    return Settings.from_env(**overrides)


def print_world(world: dict, base_url: str) -> None:
    out = click.echo
    out("")
    out("  e-Gov 電子申請API シミュレーター (egov-sandbox)")
    out(f"    API          {base_url}/shinsei/v2")
    out(f"    認証サーバー   {base_url}/auth")
    out(f"    管理API       {base_url}/__admin   (clock, world, reset, maintenance, faults, requests)")
    out(f"    コンソール     {base_url}/__console/   (the same controls as web pages)")
    out(f"    メンテナンス情報 {base_url}/maintenance")
    out(f"    GビズID       {base_url}/gbizid/oauth")
    out("")
    out("  デモ用ソフトウェア (software ID / API key)")
    out(f"    EGOV_CLIENT_ID={world['client_id']}")
    out(f"    EGOV_CLIENT_SECRET={world['client_secret']}")
    out(f"    redirect URIs: {', '.join(world['redirect_uris'])}")
    out("")
    out("  e-Govアカウント (alias  login ID  password  name / company)")
    for a in world["accounts"]:
        out(f"    {a['alias']:<6} {a['username']:<24} {a['password']:<18} {a['name']} / {a['corporation_name']}"
            + ("  [GビズID: 「GビズIDでログイン」(egov login --browser) でログインします]" if a.get("idp") == "gbizid" else ""))
    out("")
    out("  テスト用電子証明書 (PKCS#12)")
    for c in world["certificates"]:
        out(f"    {c['label']:<13} password {c['password']:<18} {c.get('path', '')}")
    out("")
    print_gbizid(world.get("gbizid") or {}, base_url)


def print_gbizid(gbizid: dict, base_url: str) -> None:
    """The GビズID part of the demo world (accounts, second factors, RP registrations)."""
    if not gbizid:
        return
    out = click.echo
    out(f"  GビズID (OP {base_url}/gbizid/oauth, discovery …/.well-known/openid-configuration)")
    out(f"    SMS one-time codes: {base_url}/__admin/outbox")
    for a in gbizid.get("accounts", []):
        factor = {"none": "ID+PW", "sms": "SMS", "app": f"app {a.get('totp_secret')}"}[a["second_factor"]]
        out(f"    {a['alias']:<9} {a['account_id']:<26} {a['password']:<18} {factor:<10} {a['role']}")
    out("  GビズID RP registrations (client_id / secret / approved scopes)")
    for c in gbizid.get("clients", []):
        out(f"    {c['client_id']:<15} {c['client_secret']}  {' '.join(c['approved_scopes']) or '-'}"
            f"  {', '.join(c['redirect_uris'])}")
    out("")


@click.group()
def main() -> None:
    """e-Gov 電子申請API v2 / GビズID simulator."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--database", envvar="EGOV_SIM_DATABASE_URL", help="SQLAlchemy URL (default: SQLite in the data dir)")
@click.option("--clock-speed", type=float, envvar="EGOV_SIM_CLOCK_SPEED", help="virtual seconds per real second")
@click.option("--data-dir", envvar="EGOV_SIM_DATA_DIR", help="where the SQLite file and certificates live")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), envvar="EGOV_SIM_WORKERS",
              help="server processes sharing state through the database")
@click.option("--server", type=click.Choice(SERVERS), envvar="EGOV_SIM_SERVER",
              help="HTTP server (default: gunicorn, whose sockets make reset/hang faults real; granian is faster "
                   "for throughput runs but refuses reset faults; werkzeug when neither is installed)")
@click.option("--threads", type=click.IntRange(1, 256), envvar="EGOV_SIM_THREADS",
              help="threads per worker process (default: 8 per CPU, 8–64), so a held request never blocks others")
@click.option("--public-url", envvar="EGOV_SIM_PUBLIC_URL",
              help="the URL clients use: issuers, discovery, links, host-relative redirects; never taken from "
                   "the Host header (default: http://HOST:PORT, 127.0.0.1 for a wildcard --host)")
@click.option("--quiet", is_flag=True, help="do not print the demo world")
@click.option("--sandbox-mode", is_flag=True, envvar="EGOV_SIM_SANDBOX_MODE",
              help="behave as e-Gov's 検証環境: no admin API; staff move cases on their own timer")
@click.option("--staff-scale", type=float, envvar="EGOV_SIM_SANDBOX_STAFF_SCALE",
              help="sandbox mode: scenario steps take this × their catalogue time (e.g. 0.001)")
def serve(host: str, port: int, database: str | None, clock_speed: float | None, data_dir: str | None,
          workers: int, server: str | None, threads: int | None, public_url: str | None, quiet: bool,
          sandbox_mode: bool, staff_scale: float | None) -> None:
    """Serve /shinsei/v2, /auth, /gbizid/oauth and /__admin on one port and print the demo world."""
    # Start-up makes ~180,000 objects that live as long as the server: the cyclic GC's passes over
    # them cost ~15 % of the start. It is off until the app is made, then they are frozen (no GC pass
    # looks at them again, and forked workers do not copy their pages by touching them) and it is on.
    gc.disable()
    try:
        _serve(host, port, database, clock_speed, data_dir, workers, server, threads, public_url, quiet,
               sandbox_mode, staff_scale)
    finally:
        gc.enable()


def _ready_to_serve() -> None:
    gc.freeze()
    gc.enable()


def _serve(host: str, port: int, database: str | None, clock_speed: float | None, data_dir: str | None,
           workers: int, server: str | None, threads: int | None, public_url: str | None, quiet: bool,
           sandbox_mode: bool, staff_scale: float | None) -> None:
    from . import serving

    # On SQLite the app is imported without psycopg (store/outage.py); forked workers inherit the modules.
    sqlite = _settings(database, clock_speed, data_dir).resolved_database_url.startswith("sqlite")
    os.environ["EGOV_SIM_SQLITE_ONLY"] = "1" if sqlite else "0"
    try:
        from .app import create_app
        from .world.demo import load_world
    finally:
        del os.environ["EGOV_SIM_SQLITE_ONLY"]

    server = server or serving.default_server()
    try:
        serving.refuse_busy_port(host, port)
    except OSError as exc:
        raise click.ClickException(f"{exc.strerror}: not starting. Stop it, or choose another port: "
                                   f"egov-sim serve --port {port + 1} (make serve PORT={port + 1}).") from None
    # the main process and every worker wait for an unreachable database instead of failing
    os.environ.setdefault("EGOV_SIM_DATABASE_START_WAIT", "inf")
    if workers > 1:  # one journal for all the worker processes (ops/journal_store.py)
        os.environ.setdefault("EGOV_SIM_JOURNAL_STORE", "database")
    public_url = (public_url or default_public_url(host, port)).rstrip("/")
    settings = _settings(database, clock_speed, data_dir).with_(public_url=public_url)
    if sandbox_mode:
        settings = settings.with_(sandbox_mode=True, sandbox_staff_scale=staff_scale or settings.sandbox_staff_scale)
        serving.export_settings(sandbox_mode="1", sandbox_staff_scale=settings.sandbox_staff_scale)
        click.echo("  sandbox mode: no admin API; staff plan "
                   f"{settings.sandbox_staff_plan!r}, steps at {settings.sandbox_staff_scale}× catalogue time")
    if not settings.admin_token and not _is_loopback_host(host):
        # listening beyond loopback: the admin API needs a token (one per start unless EGOV_SIM_ADMIN_TOKEN is set)
        import secrets

        settings = settings.with_(admin_token=secrets.token_urlsafe(24))
        click.echo(f"  管理APIトークン (admin token): {settings.admin_token}  "
                   "(send as 'Authorization: Bearer <token>' or X-Admin-Token)")
    serving.export_settings(database_url=database, clock_speed=clock_speed, data_dir=data_dir,
                            admin_token=settings.admin_token, server=server, public_url=public_url)
    fresh = _sqlite_file(settings, database)
    is_new = fresh is not None and not fresh.exists()
    # Initialise the database (schema, clock, demo world, keys) once before the workers start.
    app = create_app(settings)
    svc = app.extensions["egov_sim"]
    base_url = public_url
    from .startup import mark_initialised
    from .store.outage import wait_for_database

    def remembered() -> Any:  # a start that meets a database outage waits for it (as create_app does)
        found = load_world(svc)
        remember_url(svc, base_url)
        mark_initialised(svc.db)  # the workers skip the schema and world checks just done (startup.py)
        return found

    world = wait_for_database(remembered, wait=settings.database_start_wait)
    if world and not quiet:
        print_world(world.as_dict(), base_url)
    if is_new:  # said even with --quiet: a mistyped --data-dir would otherwise look like a lost world
        click.echo(f"  新しいデモ環境を作成しました (a new world was made): {fresh}\n"
                   "  既存の環境を使うつもりなら --data-dir / EGOV_SIM_DATA_DIR を確認してください。", err=True)
    from .worlds import EXTENSION as WORLDS

    # PostgreSQL: spare world schemas made now, not by the first worlds
    wait_for_database(app.extensions[WORLDS].warm, wait=settings.database_start_wait)
    if server == "werkzeug" and workers == 1:
        from werkzeug.serving import run_simple

        _ready_to_serve()
        run_simple(host, port, app, threaded=True, use_reloader=False)
        return
    svc.db.dispose()
    _ready_to_serve()
    serving.run(host, port, workers=workers, server=server, threads=threads)


def _sqlite_file(settings: Settings, database: str | None) -> Path | None:
    """The SQLite file of the data dir (None when a database URL is given)."""
    return None if database else settings.data_dir / "egov-sim.sqlite"


def _existing(settings: Settings, database: str | None) -> Settings:
    """For commands that read a world: refuse a data dir without one instead of making a new one."""
    path = _sqlite_file(settings, database)
    if path is not None and not path.exists():
        raise click.ClickException(f"no simulator data in {settings.data_dir} (no egov-sim.sqlite there): check "
                                   "--data-dir / EGOV_SIM_DATA_DIR, or start one with `egov-sim serve --data-dir DIR`.")
    return settings


SERVED_URL_KEY = "served_url"


def remember_url(svc: Any, url: str) -> None:
    """Where this world was last served, for `egov-sim world`."""
    from .store.kv import put_setting

    with svc.db.session() as s:  # two processes of one deployment start at once: one upsert each
        put_setting(s, SERVED_URL_KEY, {"url": url})


def served_url(svc: Any) -> str:
    from .store.models import Setting

    with svc.db.session() as s:
        row = s.get(Setting, SERVED_URL_KEY)
        return str(row.value["url"]) if row else "http://127.0.0.1:8080"


def default_public_url(host: str, port: int) -> str:
    """`http://{host}:{port}` from the serve options; a wildcard address is reached on loopback."""
    import ipaddress

    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return f"http://{host}:{port}"
    if address.is_unspecified:
        return f"http://127.0.0.1:{port}"
    return f"http://[{address}]:{port}" if address.version == 6 else f"http://{address}:{port}"


def _is_loopback_host(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@main.command()
@click.option("--account", "account", default="demo", show_default=True, help="alias or login ID")
@click.option("--database", envvar="EGOV_SIM_DATABASE_URL")
@click.option("--data-dir", envvar="EGOV_SIM_DATA_DIR")
@click.option("--issuer", default="http://127.0.0.1:8080/auth", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the whole token response")
def token(account: str, database: str | None, data_dir: str | None, issuer: str, as_json: bool) -> None:
    """Print an access token for a demo account (scripts, load tests)."""
    from sqlalchemy import select

    from .app import create_app
    from .idp.egov_tokens import issue_tokens_for
    from .store.models import Account
    from .world.demo import load_world

    app = create_app(_existing(_settings(database, None, data_dir), database))
    svc = app.extensions["egov_sim"]
    world = load_world(svc)
    if world is None:
        raise click.ClickException("no demo world in this database")
    try:
        username = world.account(account)["username"]
    except KeyError as exc:
        raise click.ClickException(str(exc)) from None
    with svc.db.session() as s:
        account_id = s.scalars(select(Account.id).where(Account.username == username)).one()
    tokens = issue_tokens_for(svc, account_id, world.client_id, issuer)
    click.echo(json.dumps(tokens, ensure_ascii=False, indent=2) if as_json else tokens["access_token"])


@main.group(invoke_without_command=True)
@click.option("--database", envvar="EGOV_SIM_DATABASE_URL")
@click.option("--data-dir", envvar="EGOV_SIM_DATA_DIR")
@click.option("--url", help="the simulator's URL to print (default: where `serve` last served this world)")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def world(ctx: click.Context, database: str | None, data_dir: str | None, url: str | None, as_json: bool) -> None:
    """Show the demo world (software credentials, accounts, certificates); `create`, `list`, `delete`
    manage the worlds of a running server (worlds_cli.py)."""
    if ctx.invoked_subcommand is not None:
        return
    from .app import create_app
    from .world.demo import load_world

    app = create_app(_existing(_settings(database, None, data_dir), database))
    w = load_world(app.extensions["egov_sim"])
    if w is None:
        raise click.ClickException("no demo world in this database")
    if as_json:
        json.dump(w.as_dict(), sys.stdout, ensure_ascii=False, indent=2)
        click.echo("")
    else:
        print_world(w.as_dict(), url or served_url(app.extensions["egov_sim"]))


from .worlds_cli import add_world_commands  # noqa: E402  (after `world`, which they extend)

add_world_commands(world)

if __name__ == "__main__":
    main()


@main.group()
def catalogue() -> None:
    """The procedure catalogue (TOML files)."""


@catalogue.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def catalogue_check(paths: tuple[Path, ...]) -> None:
    """Load every procedure (or the given TOML files) and report problems; exit 1 on any."""
    from .catalogue.catalogue import procedure_files
    from .catalogue.check import check

    problems = check(list(paths) or None)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo(f"catalogue ok: {len(paths) or len(procedure_files())} file(s) checked")
