"""`egov-sim world create|list|delete`: the worlds of a running server, through its admin API
(so they work against any server — another machine, a container — given its URL and admin token)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

URL_ENV, TOKEN_ENV = "EGOV_SIM_URL", "EGOV_SIM_ADMIN_TOKEN"


def _server(fn: Any) -> Any:
    fn = click.option("--url", envvar=URL_ENV, default="http://127.0.0.1:8080", show_default=True,
                      help=f"the running simulator (env {URL_ENV})")(fn)
    return click.option("--admin-token", envvar=TOKEN_ENV, default="",
                        help=f"its admin token, when it listens beyond loopback (env {TOKEN_ENV})")(fn)


def _call(method: str, url: str, token: str, path: str) -> Any:
    import httpx  # here, not at import: `egov-sim serve` loads this module and never calls a server

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(method, f"{url.rstrip('/')}/__admin/{path}", headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"{url}: {exc}") from None
    body = response.json() if response.content else None
    if not response.is_success:
        detail = body.get("detail") if isinstance(body, dict) else response.text[:200]
        raise click.ClickException(f"{response.status_code}: {detail}")
    return body


def add_world_commands(group: click.Group) -> None:
    @group.command("create")
    @_server
    @click.option("--json", "as_json", is_flag=True, help="print the whole answer (id, credentials) as JSON")
    def create(url: str, admin_token: str, as_json: bool) -> None:
        """Make a new world (a copy of the demo world with its own credentials); print its id."""
        made = _call("POST", url, admin_token, "worlds")
        if as_json:
            json.dump(made, sys.stdout, ensure_ascii=False, indent=2)
            click.echo("")
            return
        click.echo(made["id"])
        click.echo(f"  software ID (client_id)  {made['client_id']}\n  API key (client_secret) {made['client_secret']}\n"
                   f"  admin API                {url.rstrip('/')}{made['admin_path']}", err=True)

    @group.command("list")
    @_server
    @click.option("--json", "as_json", is_flag=True)
    def list_(url: str, admin_token: str, as_json: bool) -> None:
        """The server's worlds (the default one not included)."""
        worlds = _call("GET", url, admin_token, "worlds")["worlds"]
        if as_json:
            json.dump(worlds, sys.stdout, ensure_ascii=False, indent=2)
            click.echo("")
            return
        for w in worlds:
            click.echo(f"{w['id']}  {w['created_at']}  {w['client_id']}")

    @group.command("delete")
    @_server
    @click.argument("world_ids", nargs=-1, required=True)
    def delete(url: str, admin_token: str, world_ids: tuple[str, ...]) -> None:
        """Delete worlds by id (everything in them goes)."""
        for world_id in world_ids:
            _call("DELETE", url, admin_token, f"worlds/{world_id}")
            click.echo(f"deleted {world_id}")
