"""Create the demo world on first start; describe it for `egov-sim serve` and tests.

Secrets (API key, passwords, PKCS#12 passwords) are generated per installation and kept in the
database, never in the repository.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from ..certs import cert_to_pem, issue_certificate, make_ca, to_pkcs12
from ..clock import Clock
from ..filing.documents import ensure_government_pki
from ..filing.trust import TEST_CA_PURPOSE
from ..idp.keys import KeyRing
from ..services import Services
from ..store.models import Account, Certificate, KeyPair, Setting, Software
from . import snapshot
from .gbizid import create_gbizid_world
from .people import PeopleFactory

WORLD_KEY = "demo_world"
WORLD_ID_KEY = "world_id"  # a random id for this world's state: new with every new world and every reset
DEMO_CLIENT_ID = "egov-sandbox-demo"
DEMO_REDIRECT_URIS = ["http://127.0.0.1:8765/callback", "http://localhost:8765/callback"]
JST_OFFSET = timedelta(hours=9)

# alias → (role, idp, gbizid account type)
DEMO_ACCOUNTS = [
    ("demo", "社会保険労務士事務所の担当者", "egov", None),
    ("hr", "企業の人事担当者", "egov", None),
    ("gbiz", "GビズIDプライムでログインする事業者（「GビズIDでログイン」）", "gbizid", "2"),
]

# label → (not_before offset, not_after offset, revoked) relative to world creation (virtual time)
DEMO_CERTIFICATES = {
    "valid": (timedelta(days=-365), timedelta(days=730), False),
    "expired": (timedelta(days=-1125), timedelta(days=-30), False),
    "revoked": (timedelta(days=-200), timedelta(days=530), True),
    "unregistered": (timedelta(minutes=-5), timedelta(days=1095), False),  # e-Gov has not registered it yet
}


@dataclass
class DemoWorld:
    """What a newcomer needs to use the simulator; stored as JSON in the settings table."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    accounts: list[dict[str, Any]] = field(default_factory=list)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    gbizid: dict[str, Any] = field(default_factory=dict)  # GビズID accounts and RP registrations

    def account(self, name: str) -> dict[str, Any]:
        for acc in self.accounts:
            if name in (acc["alias"], acc["username"]):
                return acc
        raise KeyError(f"no demo account {name!r} (known: {', '.join(a['alias'] for a in self.accounts)})")

    def certificate(self, label: str) -> dict[str, Any]:
        for cert in self.certificates:
            if cert["label"] == label:
                return cert
        raise KeyError(f"no demo certificate {label!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "client_secret": self.client_secret,
                "redirect_uris": self.redirect_uris, "accounts": self.accounts, "certificates": self.certificates,
                "gbizid": self.gbizid}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DemoWorld:
        return cls(d["client_id"], d["client_secret"], d["redirect_uris"], d["accounts"], d["certificates"],
                   d.get("gbizid") or {})


def load_world(services: Services) -> DemoWorld | None:
    with services.db.session() as s:
        row = s.get(Setting, WORLD_KEY)
        world = DemoWorld.from_dict(row.value) if row else None
    if world is not None:
        for cert in world.certificates:
            cert["path"] = str(certificate_dir(services) / f"{cert['label']}.p12")
    return world


def world_id(services: Services) -> str:
    """The identity of the world's current state. A client that remembers cases (the `egov` ledger)
    compares it to notice that the server's state was replaced (reset, another data directory)."""
    with services.db.session() as s:
        row = s.get(Setting, WORLD_ID_KEY)
        if row is not None:
            return str(row.value["id"])
    return _new_world_id(services)


def _new_world_id(services: Services) -> str:
    new = uuid.uuid4().hex
    try:
        with services.db.session() as s:
            row = s.get(Setting, WORLD_ID_KEY)
            if row is None:
                s.add(Setting(key=WORLD_ID_KEY, value={"id": new}))
            else:
                row.value = {"id": new}
    except IntegrityError:  # another process made it at the same moment
        pass
    with services.db.session() as s:
        return str(s.get(Setting, WORLD_ID_KEY).value["id"])  # type: ignore[union-attr]


def ensure_world(services: Services) -> DemoWorld | None:
    """Create the demo world if the database has none (and demo_world is enabled)."""
    world = load_world(services)
    if world is None and services.settings.demo_world:
        try:
            world = _create(services)
        except IntegrityError:  # another process created it at the same moment
            world = load_world(services)
        else:
            snapshot.take(services)  # what a reset restores
    if world is not None:
        _write_certificate_files(services, world)
    return world


def reset_world(services: Services) -> DemoWorld | None:
    """Back to the demo world as it was made (the admin API's reset): every table restored from the
    snapshot taken then, the clock included. Without a usable snapshot (a database made by an older
    version) all state is dropped and a new world is made (and snapshotted)."""
    if services.settings.demo_world and snapshot.restore(services):
        _new_world_id(services)  # the snapshot carries the old id: this is a new state
        return load_world(services)
    snapshot.discard(services)
    services.db.drop_schema()
    services.db.create_schema()
    services.clock = Clock(services.db, services.settings.clock_speed)
    services.keys = KeyRing(services.db)
    return ensure_world(services)


def _password() -> str:
    return secrets.token_urlsafe(12)


def _create(services: Services) -> DemoWorld:
    now = services.clock.now()
    people = PeopleFactory(services.settings.seed)
    world = DemoWorld(DEMO_CLIENT_ID, secrets.token_urlsafe(24), list(DEMO_REDIRECT_URIS))
    with services.db.session() as s:
        s.add(Software(client_id=world.client_id, client_secret=world.client_secret,
                       name="egov-sandbox デモ用ソフトウェア", redirect_uris=world.redirect_uris))
        accounts = {}
        for alias, role, idp, gbiz_type in DEMO_ACCOUNTS:
            person, company = people.person(), people.company()
            username = f"{alias}@{'gbiz' if idp == 'gbizid' else 'egov'}.example.jp"
            password = _password()
            acc = Account(sub=str(uuid.uuid4()), username=username, password_hash=generate_password_hash(password),
                          display_name=person.name, name_kana=person.name_kana, corporation_name=company.name,
                          idp=idp, gbizid_account_type=gbiz_type,
                          profile={"alias": alias, "role": role, "person": person.__dict__,
                                   "company": {**company.__dict__, "representative": company.representative.__dict__,
                                               "address": company.address}})
            s.add(acc)
            s.flush()
            accounts[alias] = acc
            world.accounts.append({"alias": alias, "username": username, "password": password, "role": role,
                                   "name": person.name, "corporation_name": company.name, "idp": idp,
                                   "corporate_number": company.corporate_number})
        _create_certificates(services, s, world, accounts["demo"], now)
        ensure_government_pki(s, now)  # signs official documents (filing/documents.py)
        world.gbizid = create_gbizid_world(s, people, now, accounts["gbiz"], world.account("gbiz")["password"])
        s.add(Setting(key=WORLD_KEY, value=world.as_dict()))
    return world


def _create_certificates(services: Services, s: Any, world: DemoWorld, owner: Account, now_jst: datetime) -> None:
    now_utc = now_jst - JST_OFFSET
    ca_cert, ca_key = make_ca("egov-sandbox Test CA", not_before=now_utc - timedelta(days=3650),
                              not_after=now_utc + timedelta(days=3650))
    s.add(KeyPair(kid=f"test-ca-{ca_cert.serial_number:x}"[:64], purpose=TEST_CA_PURPOSE,
                  private_pem=ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()).decode(),
                  certificate_pem=cert_to_pem(ca_cert), created_at=now_jst))
    person = owner.profile["person"]
    for label, (start, end, revoked) in DEMO_CERTIFICATES.items():
        cert, key = issue_certificate(ca_cert, ca_key, subject_cn=f"{person['last_name']} {person['first_name']}",
                                      organization=owner.corporation_name, not_before=now_utc + start,
                                      not_after=now_utc + end)
        password = _password()
        p12 = to_pkcs12(cert, key, [ca_cert], password, f"egov-sandbox {label}")
        s.add(Certificate(label=label, account_id=owner.id, serial_hex=format(cert.serial_number, "x"),
                          issuer=cert.issuer.rfc4514_string(), subject=cert.subject.rfc4514_string(),
                          certificate_pem=cert_to_pem(cert), not_before=cert.not_valid_before_utc.replace(tzinfo=None),
                          not_after=cert.not_valid_after_utc.replace(tzinfo=None),
                          revoked_at=now_jst if revoked else None, p12=p12, p12_password=password))
        world.certificates.append({"label": label, "password": password, "subject": cert.subject.rfc4514_string(),
                                   "not_before": _iso(cert.not_valid_before_utc),
                                   "not_after": _iso(cert.not_valid_after_utc), "revoked": revoked})


def _iso(dt: datetime) -> str:
    return dt.isoformat()


def certificate_dir(services: Services) -> Path:
    return services.settings.data_dir / "certs"


def _write_certificate_files(services: Services, world: DemoWorld) -> None:
    """Put each demo PKCS#12 beside the database so people (and `egov submit`) can use it."""
    folder = certificate_dir(services)
    with services.db.session() as s:
        rows = list(s.scalars(select(Certificate)))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    for row in rows:
        path = folder / f"{row.label}.p12"
        if not path.exists() or path.read_bytes() != row.p12:
            path.write_bytes(row.p12)
            path.chmod(0o600)


def certificate_for(services: Services, label: str) -> tuple[bytes, str, x509.Certificate]:
    with services.db.session() as s:
        row = s.scalars(select(Certificate).where(Certificate.label == label)).first()
        if row is None:
            raise KeyError(label)
        return row.p12, row.p12_password, x509.load_pem_x509_certificate(row.certificate_pem.encode())
