"""AsyncEgovClient has the session methods of EgovClient (login, trial_mode, introspect, refresh, logout)."""

from __future__ import annotations

import asyncio
import inspect

import httpx
import pytest
from egov_client import AsyncEgovClient, EgovClient
from egov_client.auth import AuthError
from egov_client.config import simulator
from egov_sim.world.demo import DemoWorld


def test_the_async_client_has_every_method_of_the_sync_one() -> None:
    def public(cls: type) -> set[str]:
        return {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}

    assert public(EgovClient) - {"close"} == public(AsyncEgovClient) - {"aclose"}


def test_async_session_methods(live_server: str, world: DemoWorld) -> None:
    endpoint = simulator(live_server).with_credentials(world.client_id, world.client_secret, world.redirect_uris[0])
    account = world.account("demo")
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async def scenario() -> None:
        async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
            client = await AsyncEgovClient.login(endpoint, account["username"], account["password"], http=http)
            first = client.tokens
            assert first is not None and (await client.introspect())["active"] is True

            renewed = await client.refresh()
            assert client.tokens is renewed and renewed.refresh_token != first.refresh_token
            assert (await client.introspect())["active"] is True

            trial = client.trial_mode()
            assert isinstance(trial, AsyncEgovClient) and trial.trial and trial.store is client.store
            await trial.list_applications(send_number="0" * 18)
            assert sent[-1].headers.get("X-eGovAPI-Trial") == "true"
            await trial.aclose()
            assert not http.is_closed  # the clone does not own the connection

            await client.logout()
            assert client.tokens is None
            with pytest.raises(AuthError, match="login_required"):
                await client.refresh()

    asyncio.run(scenario())
