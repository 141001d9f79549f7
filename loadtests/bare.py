"""The framework ceiling for the benchmark: a bare Flask app whose endpoint returns a JSON body
of the same size as a status poll (GET /shinsei/v2/apply/{arrive_id}), with no auth, database or
rules. Served by the same server and measured by the same load tool as the simulator.
"""

from __future__ import annotations

import json
import os

from flask import Flask, Response

BODY_BYTES = int(os.environ.get("BARE_BODY_BYTES", "700"))


def create_app() -> Flask:
    app = Flask(__name__)
    payload = {"metadata": {"title": "申請案件取得", "detail": "正常に終了しました。"}, "results": {"pad": ""}}
    filler = BODY_BYTES - len(json.dumps(payload, ensure_ascii=False).encode())
    payload["results"]["pad"] = "x" * max(filler, 0)

    @app.get("/bare/<arrive_id>")
    def bare(arrive_id: str) -> Response:
        return app.json.response(payload)  # serialised per request, as the simulator does

    return app
