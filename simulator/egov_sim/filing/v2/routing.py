"""URL converters of /shinsei/v2."""

from __future__ import annotations

from werkzeug.routing import BaseConverter

OPERATIONS = ("amend", "check", "withdraw", "lists", "report")  # static /apply/<name> routes


class ArriveIdConverter(BaseConverter):
    """`/apply/<arrive_id>`: any segment but the names of the static /apply operations, so that
    `GET /apply/amend` is the 405 of the POST-only operation (with its own Allow), not a bad 到達番号."""

    regex = r"(?!(?:" + "|".join(OPERATIONS) + r")$)[^/]+"
