"""The counts of the legacy lists' `Apply` items, from the case's real state on the virtual clock:
StatusDate (the last change of Status), CommentCountNotRead (コメント not yet 取得完了), PayWaitCount
(payments awaited). The oracle is the catalogue's scenario timing (950A010700005000's toml) and the
calls that move each count, never the code that computes them."""

from __future__ import annotations

from datetime import datetime, timedelta

import test_legacy_api as api
from conftest import advance
from egov_client.legacy import LegacyClient
from lxml import etree
from test_legacy_api import _later, _send

legacy, logged_in, _frozen = api.legacy, api.logged_in, api._frozen  # the legacy tests' fixtures


def _item(client: LegacyClient, number: str) -> etree._Element:
    """The one Apply of a send, as 申請案件一覧 and 送信案件一覧 (by id) both list it (they must agree)."""
    apply = client.arrived_applications(number).appl.find("Apply")
    by_id = client.sended_applications_by_id(number).appl.find("PackageApply/Apply")
    assert [(e.tag, e.text) for e in apply] == [(e.tag, e.text) for e in by_id]
    return apply


def _stamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%d%H%M%S")


def test_status_date_is_the_last_change_of_status(logged_in: LegacyClient, services, signer) -> None:
    number = _send(logged_in, services, signer, scenario="default")
    advance(services, "PT5M")
    item = _item(logged_in, number)
    arrived = _stamp(logged_in.reference(item.findtext("ArriveID")).text("ArriveDate"))
    assert item.findtext("Status") == "到達" and _stamp(item.findtext("StatusDate")) == arrived
    _later(logged_in, services, signer, "PT3H")  # the scenario's 審査中 comes 2 hours after arrival
    item = _item(logged_in, number)
    assert item.findtext("Status") == "審査中" and _stamp(item.findtext("StatusDate")) == arrived + timedelta(hours=2)
    _later(logged_in, services, signer, "P1D")  # nothing changes the status: the date stays
    assert _stamp(_item(logged_in, number).findtext("StatusDate")) == arrived + timedelta(hours=2)
    _later(logged_in, services, signer, "P3D")  # 審査終了 at 3 days, 手続終了 at 3 days 1 hour
    item = _item(logged_in, number)
    assert item.findtext("Status") == "手続終了"
    assert _stamp(item.findtext("StatusDate")) == arrived + timedelta(days=3, hours=1)


def test_comment_count_not_read_falls_when_the_comment_is_done(logged_in: LegacyClient, services, signer) -> None:
    number = _send(logged_in, services, signer, scenario="notice")
    _later(logged_in, services, signer, "PT5M")
    item = _item(logged_in, number)
    assert (item.findtext("CommentCount"), item.findtext("CommentCountNotRead")) == ("0", "0")
    _later(logged_in, services, signer, "P1DT1H")  # the scenario's お知らせ, a day after arrival
    item = _item(logged_in, number)
    assert (item.findtext("CommentCount"), item.findtext("CommentCountNotRead")) == ("1", "1")
    arrive_id = item.findtext("ArriveID")
    sub = int(logged_in.notices(arrive_id).text("Comment/NoticeSubID"))
    logged_in.comment(arrive_id, sub)  # fetched, not yet 取得完了: still unread
    assert _item(logged_in, number).findtext("CommentCountNotRead") == "1"
    logged_in.done_comment(arrive_id, sub)
    item = _item(logged_in, number)
    assert (item.findtext("CommentCount"), item.findtext("CommentCountNotRead")) == ("1", "0")


def test_pay_wait_count_follows_the_payment(logged_in: LegacyClient, services, signer, http) -> None:
    paid_send = _send(logged_in, services, signer, scenario="payment")
    lapsing_send = _send(logged_in, services, signer, scenario="payment")
    _later(logged_in, services, signer, "PT5M")
    for number in (paid_send, lapsing_send):  # the scenario's 1,000 円 at arrival, 7 days to pay
        assert _item(logged_in, number).findtext("PayWaitCount") == "1"
    paid = _item(logged_in, paid_send).findtext("ArriveID")
    assert http.post(f"/__admin/applications/{paid}/pay", json={}).status_code == 200
    assert _item(logged_in, paid_send).findtext("PayWaitCount") == "0"
    assert _item(logged_in, lapsing_send).findtext("PayWaitCount") == "1"
    _later(logged_in, services, signer, "P8D")  # past the 払込期限: no longer awaited
    item = _item(logged_in, lapsing_send)
    assert item.findtext("PayWaitCount") == "0" and item.findtext("PayStatus") == "納付期限切れ"
