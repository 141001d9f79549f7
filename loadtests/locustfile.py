"""Locust users for the e-Gov 電子申請API (simulator or any target with the same API).

Users (all in one mixed profile by default; name classes on the command line to pick some):
  SubmitUser    signed 申請データ送信 (POST /apply)
  PollUser      submits once, then polls as real clients do: 申請案件一覧取得 by send_number (確認)
                then 申請案件取得 per case (取得), at realistic intervals (LOAD_POLL_MIN/MAX seconds)
  WithdrawUser  submits, waits until the case is withdrawable (withdraw_flag), sends a signed
                取下げ依頼 (POST /apply/withdraw)
  BatchUser     batch sending as seed 000's client does: lists of up to 20, one after another,
                stopping at the first error
The busy-season ramp (a load shape) is in busy_season.py: `locust -f loadtests/busy_season.py`.

Tokens come from the real auth flow (login form + code + PKCE, via egov_client) for the demo
accounts, or from LOAD_TOKEN (`egov-sim token`). Expired tokens are refreshed (POST /auth/token)
and the call retried once. Signed packages are built before the run with the demo world's
valid certificate (LOAD_P12 / LOAD_P12_PASSWORD, default: the world's own file).

Submissions take the client's exactly-once path (egov_client.claims + arrivals): each package names
a corporation of its own for this process; sends of one package go one at a time under the claims'
lock for that identity; every 200 is claimed; after an unknown outcome (a lost answer, 500/502/504)
the user looks in 申請案件一覧 for the unclaimed arrival of that identity and claims it instead of
counting a failure or sending again, and a package whose outcome stays unknown is not sent again.

LOAD_OWN_WORLD=1: each Locust process makes a world of its own on the server (its own software,
accounts, clock and journal; POST /__admin/worlds) and deletes it when it quits.

At the end every process checks that each accepted submission is retrievable (GET /apply/{id})
and that arrive_ids are unique; problems are reported as failures of the "integrity" entries.

    egov-sim serve --workers 2 --clock-speed 60 &
    locust -f loadtests/locustfile.py --host http://127.0.0.1:8080 --headless -u 40 -r 10 -t 1m
    # distributed: one master, N workers (same file, same host)
    locust -f loadtests/locustfile.py --master --headless -u 200 -r 20 -t 5m --expect-workers 2 \
        --host http://127.0.0.1:8080
    locust -f loadtests/locustfile.py --worker --master-host 127.0.0.1     # × N
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from locust import FastHttpUser, between, events, task
from locust.env import Environment

# httpx logs every request at INFO, and Locust's logging shows INFO: the setup and integrity calls would
# bury the summary (224 of 379 lines). LOAD_HTTPX_LOG=INFO brings them back.
logging.getLogger("httpx").setLevel(os.environ.get("LOAD_HTTPX_LOG", "WARNING"))

_ROOT = Path(__file__).resolve().parent.parent
for _p in (_ROOT / "client", _ROOT / "simulator"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from egov_client.arrivals import Identity, decide, norm  # noqa: E402
from egov_client.auth import login_with_form  # noqa: E402
from egov_client.claims import Claims  # noqa: E402
from egov_client.config import simulator  # noqa: E402
from egov_client.errors import OutcomeUnknownError  # noqa: E402
from egov_client.models import ApplicationPage  # noqa: E402
from egov_format.package import build_withdrawal_package, parse_package  # noqa: E402
from egov_format.signing import Signer, load_pkcs12, load_pkcs12_file  # noqa: E402

PROC_ID = os.environ.get("LOAD_PROC_ID", "950A010700005000")
BATCH_MAX = 20  # seed 000: up to 20 applications per batch
POLL_MIN = float(os.environ.get("LOAD_POLL_MIN", "5"))
POLL_MAX = float(os.environ.get("LOAD_POLL_MAX", "30"))
PACKAGES = int(os.environ.get("LOAD_PACKAGES", "40"))
WITHDRAW_WAIT = float(os.environ.get("LOAD_WITHDRAW_WAIT", "120"))  # real seconds to wait for withdraw_flag
UNKNOWN_STATUSES = (500, 502, 504)  # the send may have been processed (as safe_submit)
RUN = uuid.uuid4().hex[:6]  # this process's packages name corporations no other sender uses


# LOAD_HOSTS=http://a:8080,http://b:8080 spreads users over several servers (topology.sh)
_HOSTS = itertools.cycle(h.strip() for h in os.environ["LOAD_HOSTS"].split(",")) if os.environ.get("LOAD_HOSTS") \
    else None


# ---------------------------------------------------------------------------- shared kit (per process)

@dataclass(frozen=True)
class Body:
    """A signed package as the POST /apply body, with what identifies its arrivals in the lists."""

    json: str
    who: Identity

    @property
    def lock(self) -> str:  # the corporation is known and unique: only this package's sends share the key
        return f"{self.who.lock_key}|{norm(self.who.corporation)}"


class Kit:
    """What every user of this process needs, prepared once: world, signer, signed packages."""

    _lock = threading.Lock()
    _instance: Kit | None = None

    def __init__(self, host: str) -> None:
        self.host = host.rstrip("/")
        self.world = self._world()
        self.signer = self._signer()
        self.bodies = self._bodies()
        self.accepted: list[str] = []  # arrive_ids accepted in this process
        self.claims = Claims()
        self.unsettled: set[str] = set()  # packages whose outcome stayed unknown: not sent again
        self.endpoint = simulator(self.host).with_credentials(self.world["client_id"], self.world["client_secret"],
                                                              self.world["redirect_uris"][0])

    @classmethod
    def get(cls, host: str) -> Kit:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls(host)
            return cls._instance

    def _admin_headers(self) -> dict[str, str]:
        token = os.environ.get("LOAD_ADMIN_TOKEN") or os.environ.get("EGOV_SIM_ADMIN_TOKEN")
        return {"X-Admin-Token": token} if token else {}

    def _world(self) -> dict[str, Any]:
        if path := os.environ.get("LOAD_WORLD"):
            return json.loads(Path(path).read_text())
        admin = f"{self.host}/__admin"
        if os.environ.get("LOAD_OWN_WORLD") == "1":  # this process takes a world of its own, deleted at quit
            made = httpx.post(f"{admin}/worlds", headers=self._admin_headers(), timeout=30)
            made.raise_for_status()
            admin = f"{admin}/worlds/{made.json()['id']}"
            world_admin = admin
            events.quitting.add_listener(lambda **_: httpx.delete(world_admin, headers=self._admin_headers(),
                                                                  timeout=30))
        r = httpx.get(f"{admin}/world", headers=self._admin_headers(), timeout=30)
        r.raise_for_status()
        return r.json()

    def _signer(self) -> Signer:
        cert = next(c for c in self.world["certificates"] if c["label"] == "valid")
        password = os.environ.get("LOAD_P12_PASSWORD", cert["password"])
        path = os.environ.get("LOAD_P12") or cert.get("path")
        if path and Path(path).exists():
            return load_pkcs12_file(path, password)
        data_dir = os.environ.get("EGOV_SIM_DATA_DIR")
        if data_dir and (Path(data_dir) / "certs" / "valid.p12").exists():
            return load_pkcs12((Path(data_dir) / "certs" / "valid.p12").read_bytes(), password)
        raise RuntimeError("no signing certificate: set LOAD_P12 to the world's valid.p12 (see `egov-sim world`)")

    def _bodies(self) -> list[Body]:
        from egov_sim.catalogue import Catalogue
        from egov_sim.world.packages import sample_package

        catalogue = Catalogue.load()
        bodies = []
        for i in range(PACKAGES):
            package = sample_package(catalogue, PROC_ID, self.signer, corporation_name=f"株式会社ロード{RUN}{i:03d}")
            raw = package.to_zip()
            data = base64.b64encode(raw).decode()
            bodies.append(Body(json.dumps({"proc_id": PROC_ID, "send_file": {"file_name": f"load{i:03d}.zip",
                                                                              "file_data": data}}),
                               Identity.of(parse_package(raw))))
        return bodies

    # --- tokens (one login per process, shared by its users) ------------------------------------

    access_token = ""
    refresh_token = ""
    _token_lock = threading.Lock()

    def ensure_login(self, alias: str) -> None:
        with self._token_lock:
            if self.access_token:
                return
            if token := os.environ.get("LOAD_TOKEN"):
                self.access_token = token
                return
            account = next(a for a in self.world["accounts"] if a["alias"] == alias)
            started = time.perf_counter()
            exc: Exception | None = None
            try:
                with httpx.Client(timeout=30) as http:
                    tokens = login_with_form(self.endpoint, account["username"], account["password"], http=http)
                self.access_token, self.refresh_token = tokens.access_token, tokens.refresh_token or ""
            except Exception as e:  # reported to Locust as a failed AUTH entry
                exc = e
            events.request.fire(request_type="AUTH", name="login flow (auth + form + token)",
                                response_time=(time.perf_counter() - started) * 1000, response_length=0,
                                exception=exc, context={})
            if exc is not None:
                raise exc

    def refresh(self, user: FastHttpUser, stale: str) -> bool:
        """Refresh once for everyone: a caller whose token was already replaced just retries."""
        with self._token_lock:
            if self.access_token != stale:
                return True
            if not self.refresh_token:
                return False
            basic = base64.b64encode(f"{self.world['client_id']}:{self.world['client_secret']}".encode()).decode()
            with user.client.post("/auth/token", data=f"grant_type=refresh_token&refresh_token={self.refresh_token}",
                                  headers={"Authorization": f"Basic {basic}",
                                           "Content-Type": "application/x-www-form-urlencoded"},
                                  name="/auth/token (refresh)", catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"refresh: {r.status_code} {r.text[:200]}")
                    return False
                body = r.json()
                self.access_token, self.refresh_token = body["access_token"], body["refresh_token"]
                return True

    def withdrawal_body(self, arrive_id: str, proc_name: str) -> str:
        package = build_withdrawal_package(target_arrive_id=arrive_id, proc_name=proc_name,
                                           applicant_name="山田　太郎", reason="負荷試験のため",
                                           request_date=date.today())
        package.sign(self.signer)
        data = base64.b64encode(package.to_zip()).decode()
        return json.dumps({"arrive_id": arrive_id, "send_file": {"file_name": "withdraw.zip", "file_data": data}})


# ---------------------------------------------------------------------------- users

class EgovUser(FastHttpUser):
    """A logged-in API user. The users of one process share one login (as a batch system shares
    its account's token): from the real auth flow, refreshed under a lock when it has expired
    (refresh tokens rotate, so only one refresh may use a given token)."""

    abstract = True
    account = "demo"

    def __init__(self, environment: Environment) -> None:
        if _HOSTS:  # several simulator processes/replicas: spread the users over them
            self.host = next(_HOSTS)
        super().__init__(environment)

    def on_start(self) -> None:
        self.kit = Kit.get(self.host)
        self.kit.ensure_login(self.account)

    @property
    def access_token(self) -> str:
        return self.kit.access_token

    def _refresh(self, stale: str) -> bool:
        return self.kit.refresh(self, stale)

    def api(self, method: str, path: str, *, name: str, body: str | None = None,
            check: Callable[[Any], str | None] | None = None, unknown: list[str] | None = None) -> Any:
        """Call the API with the bearer token (refresh + one retry on 401); returns the JSON or None.
        With `unknown`, an answer that leaves the outcome unknown (500/502/504, no answer) is noted
        there, not counted as a failure (the caller reconciles)."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.access_token}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            with self.client.request(method, f"/shinsei/v2{path}", data=body, headers=headers, name=name,
                                     catch_response=True) as r:
                if r.status_code == 401 and attempt == 1:
                    r.success()  # expected when the access token has expired on the virtual clock
                    if self._refresh(headers["Authorization"][7:]):
                        continue
                    r.failure("401 and no refresh possible")
                    return None
                if unknown is not None and (r.status_code in UNKNOWN_STATUSES or r.status_code == 0):
                    unknown.append(f"{r.status_code or 'no answer'}")
                    r.success()  # settled by the caller through the lists
                    return None
                if r.status_code != 200:
                    r.failure(f"{r.status_code} {r.text[:300]}")
                    return None
                data = r.json()
                problem = check(data) if check else None
                if problem:
                    r.failure(problem)
                    return None
                return data
        return None

    def submit(self) -> dict[str, Any] | None:
        """申請データ送信 on the exactly-once path: under the package's claim lock, claim the 200's arrival;
        after an unknown outcome take the unclaimed arrival of the package from the lists."""
        kit = self.kit
        choices = [b for b in kit.bodies if b.lock not in kit.unsettled]
        if not choices:
            events.request.fire(request_type="CHECK", name="/apply outcome unknown → lists", response_time=0,
                                response_length=0, context={},
                                exception=RuntimeError("every package's outcome is unknown: nothing left to send"))
            return None
        body = random.choice(choices)
        with kit.claims.hold(self.host, body.lock):
            unknown: list[str] = []
            data = self.api("POST", "/apply", name="/apply", body=body.json, unknown=unknown,
                            check=lambda d: None if d.get("results", {}).get("arrive_id") else "no arrive_id")
            if data is None and unknown:
                data = self.reconcile(body, unknown[0])
            if data is None:
                return None
            kit.claims.claim(self.host, data["results"]["arrive_id"], RUN)
        kit.accepted.append(data["results"]["arrive_id"])
        return data

    def reconcile(self, body: Body, why: str) -> dict[str, Any] | None:
        """The package's arrival after an unknown outcome: the one unclaimed arrival of its identity
        (this process's sends of it were all claimed or went through here), or an honest failure."""
        started, found, problem = time.perf_counter(), None, None
        today = date.today()
        try:
            listed = []
            for offset in range(0, 1000, 50):
                page = self.api("GET", f"/apply/lists?date_from={today - timedelta(days=1)}&date_to="
                                f"{today + timedelta(days=1)}&limit=50&offset={offset}", name="/apply/lists (照合)")
                if page is None:
                    raise OutcomeUnknownError("the lists could not be read", maybe_delivered=True, operation="submit")
                parsed = ApplicationPage.from_json(page)
                listed += parsed.applications
                if not parsed.has_next or not parsed.applications:
                    break
            app = decide(listed, body.who, exclude=self.kit.claims.excluded(self.host, listed))
            if app is None or not self.kit.claims.claim(self.host, app.arrive_id, RUN, app.arrive_date):
                raise OutcomeUnknownError(f"{why}: not in the lists", maybe_delivered=True, operation="submit")
            found = {"results": {"arrive_id": app.arrive_id, "arrive_date": f"{app.arrive_date:%Y-%m-%d %H:%M:%S}"
                                 if app.arrive_date else "", "proc_name": app.proc_name}}
        except OutcomeUnknownError as exc:
            self.kit.unsettled.add(body.lock)  # its arrival may still appear: never send it again
            problem = exc
        events.request.fire(request_type="CHECK", name="/apply outcome unknown → lists",
                            response_time=(time.perf_counter() - started) * 1000, response_length=0,
                            exception=problem, context={})
        return found


class SubmitUser(EgovUser):
    weight = 2
    wait_time = between(0.5, 2)

    @task
    def send(self) -> None:
        self.submit()


class PollUser(EgovUser):
    """確認 (申請案件一覧 for the arrival date) then 取得 (each own case), at real clients' intervals."""

    weight = 6
    wait_time = between(POLL_MIN, POLL_MAX)

    def on_start(self) -> None:
        super().on_start()
        self.cases: list[tuple[str, str]] = []  # (arrive_id, arrive date)
        if (data := self.submit()) is not None:
            self.cases.append((data["results"]["arrive_id"], data["results"]["arrive_date"][:10]))

    @task
    def poll(self) -> None:
        for day in sorted({d for _, d in self.cases}):
            self.api("GET", f"/apply/lists?date_from={day}&date_to={day}&limit=50", name="/apply/lists (確認)",
                     check=lambda d: None if "apply_list" in d.get("results", {}) else "no apply_list")
        for arrive_id, _ in self.cases:
            self.api("GET", f"/apply/{arrive_id}", name="/apply/{arrive_id} (取得)",
                     check=lambda d: None if d.get("results", {}).get("status") else "no status")


class WithdrawUser(EgovUser):
    """Submit, wait for withdraw_flag (5 virtual minutes after arrival), then 取下げ依頼."""

    weight = 1
    wait_time = between(1, 3)

    @task
    def submit_and_withdraw(self) -> None:
        data = self.submit()
        if data is None:
            return
        arrive_id, proc_name = data["results"]["arrive_id"], data["results"]["proc_name"]
        deadline = time.monotonic() + WITHDRAW_WAIT
        while time.monotonic() < deadline:
            detail = self.api("GET", f"/apply/{arrive_id}", name="/apply/{arrive_id}")
            if detail is None:
                return
            if detail["results"]["withdraw_flag"]:
                break
            time.sleep(random.uniform(1, 3))
        else:
            events.request.fire(request_type="CHECK", name="withdraw_flag within LOAD_WITHDRAW_WAIT",
                                response_time=WITHDRAW_WAIT * 1000, response_length=0,
                                exception=TimeoutError(arrive_id), context={})
            return
        self.api("POST", "/apply/withdraw", name="/apply/withdraw", body=self.kit.withdrawal_body(arrive_id, proc_name))


class BatchUser(EgovUser):
    """Seed 000's batch sending: up to 20 applications per run, stop at the first error."""

    weight = 1
    wait_time = between(5, 15)

    @task
    def batch(self) -> None:
        size = random.randint(1, BATCH_MAX)
        started = time.perf_counter()
        sent = 0
        for _ in range(size):
            if self.submit() is None:
                break  # the rest of the batch is left for the next run, as the seed's client does
            sent += 1
        events.request.fire(request_type="BATCH", name=f"batch of ≤{BATCH_MAX}",
                            response_time=(time.perf_counter() - started) * 1000, response_length=sent,
                            exception=None if sent == size else RuntimeError(f"stopped after {sent}/{size}"),
                            context={})


# ---------------------------------------------------------------------------- integrity at the end

@events.test_stop.add_listener
def _integrity(environment: Environment, **_kw: Any) -> None:
    """Every submission accepted in this process is retrievable, and arrive_ids are unique."""
    kit = Kit._instance
    if kit is None or not kit.accepted:
        return
    ids = list(kit.accepted)
    duplicates = len(ids) - len(set(ids))
    account = next(a for a in kit.world["accounts"] if a["alias"] == EgovUser.account)
    with httpx.Client(timeout=30) as http:  # a fresh login: the shared token may have expired meanwhile
        token = login_with_form(kit.endpoint, account["username"], account["password"], http=http).access_token
    missing = []
    with httpx.Client(base_url=kit.host, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for arrive_id in set(ids):
            if http.get(f"/shinsei/v2/apply/{arrive_id}").status_code != 200:
                missing.append(arrive_id)
    problem = None
    if missing or duplicates:
        problem = AssertionError(f"{len(missing)} accepted submissions not retrievable, {duplicates} duplicate ids")
    events.request.fire(request_type="CHECK", name="integrity: accepted submissions retrievable",
                        response_time=0, response_length=len(ids), exception=problem, context={})
    summary = {"accepted": len(ids), "unique": len(set(ids)), "missing": missing}
    print(f"integrity: {json.dumps(summary)}", flush=True)
    if out := os.environ.get("LOAD_INTEGRITY_FILE"):
        with open(out, "a") as f:
            f.write(json.dumps(summary) + "\n")
