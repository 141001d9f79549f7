"""The RP's settings: defaults here, changes stored in the database (PUT /__admin/keieikakushin/settings).

Where the seed is silent the choice is a setting: which GビズID account types may apply (seed: プライム
and メンバー; エントリー refused), which 都道府県 ask for an application password and which post the
承認書 instead of offering 承認書出力. The 提出先 names are demo data, not the prefectures' real offices.
The seed does not describe the prefecture's side: its reviewers here are demo accounts (login ID and
password, one 都道府県 each) with a lockout after repeated failures, on the virtual clock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .models import KkSetting

# the RP's GビズID registration (made by the demo world; a world's has its own client id: `gbizid_clients`)
RP_CLIENT_ID = "keieikakushin"
RP_NAME = "経営革新計画電子申請システム"
SYSTEM_CD = "KEIEIKAKUSHIN"
CALLBACK_PATH = "/keieikakushin/callback"  # below the world's entry path in a world (ops/world_routing.py)

PREFECTURES: dict[str, dict[str, Any]] = {
    "13": {"name": "東京都", "offices": ["東京都産業労働局 商工部 経営支援課", "東京都中小企業振興公社"],
           "password": "", "post_certificate": False},
    "14": {"name": "神奈川県", "offices": ["神奈川県産業労働局 中小企業部", "神奈川県 県西地域県政総合センター"],
           "password": "", "post_certificate": True},
    "23": {"name": "愛知県", "offices": ["愛知県経済産業局 中小企業部 中小企業金融課"],
           "password": "", "post_certificate": False},
    "27": {"name": "大阪府", "offices": ["大阪府商工労働部 中小企業支援室 経営支援課", "大阪産業局"],
           "password": "osaka-kakushin", "post_certificate": False},
}

DEFAULTS: dict[str, Any] = {
    # the seed's host pair: links in mails point to the chosen one
    "base_url_production": "https://www.keieikakushin.go.jp/",
    "base_url_test": "https://www.keieikakushin-test.go.jp/",
    "environment": "test",  # production | test
    # GビズID account_type values allowed to log in ("1" エントリー, "2" プライム, "3" メンバー)
    "allowed_account_types": ["2", "3"],
    # the OP's host for the back channel over sockets ("" = this server's /gbizid through the WSGI stack)
    "gbizid_base": "",
    "session_minutes": 60,
    "max_upload_bytes": 10 * 1024 * 1024,
    "upload_types": ["application/pdf", "image/png", "image/jpeg",
                     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
    "prefectures": PREFECTURES,
    # the prefectures' reviewer accounts (demo data): login ID → 都道府県 code, display name, password
    "reviewers": {
        "shinsa-tokyo": {"prefecture": "13", "name": "東京都 審査担当", "password": "tokyo-shinsa-2026"},
        "shinsa-kanagawa": {"prefecture": "14", "name": "神奈川県 審査担当", "password": "kanagawa-shinsa-2026"},
        "shinsa-aichi": {"prefecture": "23", "name": "愛知県 審査担当", "password": "aichi-shinsa-2026"},
        "shinsa-osaka": {"prefecture": "27", "name": "大阪府 審査担当", "password": "osaka-shinsa-2026"},
    },
    "reviewer_max_failures": 5,  # consecutive wrong passwords before the account is locked
    "reviewer_lock_minutes": 30,
    "helpdesk_mail": "helpdesk@keieikakushin-sim.example.jp",  # where お問い合わせ go (a copy to the outbox)
}


def load(s: Session) -> dict[str, Any]:
    row = s.get(KkSetting, 1)
    return {**DEFAULTS, **(row.values if row else {})}


def update(s: Session, changes: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(unknown)}")
    if "environment" in changes and changes["environment"] not in ("production", "test"):
        raise ValueError("environment must be production or test")
    if "allowed_account_types" in changes and not set(changes["allowed_account_types"]) <= {"1", "2", "3"}:
        raise ValueError("allowed_account_types are among \"1\", \"2\", \"3\"")
    if "reviewers" in changes:
        prefectures = changes.get("prefectures") or load(s)["prefectures"]
        for login_id, r in (changes["reviewers"] or {}).items():
            if not isinstance(r, dict) or r.get("prefecture") not in prefectures or not r.get("password"):
                raise ValueError(f"reviewers.{login_id}: a prefecture among the prefectures and a password are needed")
    row = s.get(KkSetting, 1)
    if row is None:
        row = KkSetting(id=1, values={})
        s.add(row)
    row.values = {**row.values, **changes}
    return {**DEFAULTS, **row.values}


def site_url(settings: dict[str, Any]) -> str:
    return str(settings["base_url_production" if settings["environment"] == "production" else "base_url_test"])
