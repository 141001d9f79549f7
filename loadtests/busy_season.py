"""The busy-season ramp (算定基礎届・年度更新 season, seed 000): the mixed profile of locustfile.py
under a load shape that climbs in steps to a peak, holds it, and drains.

    locust -f loadtests/busy_season.py --host http://127.0.0.1:8080 --headless

LOAD_PEAK_USERS (default 200) and LOAD_STAGE_SECONDS (default 60) scale the shape.
"""

from __future__ import annotations

import os

from locust import LoadTestShape
from locustfile import BatchUser, PollUser, SubmitUser, WithdrawUser  # noqa: F401 - the users to run

PEAK = int(os.environ.get("LOAD_PEAK_USERS", "200"))
STAGE = float(os.environ.get("LOAD_STAGE_SECONDS", "60"))

# (share of the peak, spawn rate per second) for each stage: morning, late morning, month-end peak,
# held, then the evening drain.
STAGES = [(0.1, 5), (0.3, 10), (0.6, 20), (1.0, 40), (1.0, 40), (0.4, 20), (0.0, 20)]


class BusySeason(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        stage = int(self.get_run_time() // STAGE)
        if stage >= len(STAGES):
            return None
        share, rate = STAGES[stage]
        users = max(int(PEAK * share), 1 if stage < len(STAGES) - 1 else 0)
        return users, rate
