"""Busy-season latency profiles (seed 001: 「通常時の送信時間は、3 秒～5 分程度」, slower at month
end, in the 入退社 season of late March – early April, and right after a maintenance window).

A profile turns (virtual now, method, path, calendar) into a delay distribution; the middleware
samples it and sleeps in the worker thread, scaled by `scale` (1.0 = real seconds as in the seeds;
0.01 for demos and load tests that want the shape without the wait).
"""

from __future__ import annotations

import calendar as _cal
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .errors import FaultError
from .maintenance import Calendar

MAX_LATENCY = 900.0  # seconds: no single injected delay is longer than this

@dataclass(frozen=True)
class Latency:
    """A delay distribution in seconds: fixed, uniform [low, high] or log-normal (median, sigma)."""

    kind: str
    a: float
    b: float = 0.0
    cap: float = MAX_LATENCY

    @classmethod
    def parse(cls, spec: Any) -> Latency:
        if isinstance(spec, int | float):
            spec = {"fixed": spec}
        if not isinstance(spec, dict) or len(spec) < 1:
            raise FaultError("latency は {fixed: s} / {uniform: [min, max]} / {lognormal: {median, sigma}} です。")
        cap = float(spec.get("max", MAX_LATENCY))
        if "fixed" in spec:
            return cls("fixed", nonneg(spec["fixed"]), cap=cap)
        if "uniform" in spec:
            low, high = (spec["uniform"] + [None, None])[:2] if isinstance(spec["uniform"], list) else (None, None)
            if low is None or high is None or nonneg(low) > nonneg(high):
                raise FaultError("latency.uniform は [min, max] (秒) です。")
            return cls("uniform", float(low), float(high), cap)
        if "lognormal" in spec:
            ln = spec["lognormal"]
            if not isinstance(ln, dict) or "median" not in ln:
                raise FaultError("latency.lognormal は {median: 秒, sigma: 数値} です。")
            return cls("lognormal", nonneg(ln["median"]), nonneg(ln.get("sigma", 0.5)), float(ln.get("max", cap)))
        raise FaultError("latency の種類は fixed / uniform / lognormal です。")

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            value = self.a
        elif self.kind == "uniform":
            value = rng.uniform(self.a, self.b)
        else:
            value = rng.lognormvariate(math.log(self.a), self.b) if self.a > 0 else 0.0
        return min(max(value, 0.0), self.cap, MAX_LATENCY)

    def as_dict(self) -> dict[str, Any]:
        if self.kind == "fixed":
            return {"fixed": self.a}
        if self.kind == "uniform":
            return {"uniform": [self.a, self.b]}
        return {"lognormal": {"median": self.a, "sigma": self.b, "max": self.cap}}


def nonneg(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise FaultError(f"数値で指定してください: {v!r}") from None
    if f < 0 or not math.isfinite(f):
        raise FaultError(f"0以上の数値で指定してください: {v!r}")
    return f

AFTER_MAINTENANCE = timedelta(hours=2)

# (send, inquiry) distributions
CALM = (Latency("lognormal", 3.0, 0.6, 60.0), Latency("lognormal", 0.3, 0.5, 10.0))
BUSY = (Latency("lognormal", 25.0, 1.0, 300.0), Latency("lognormal", 2.0, 0.8, 60.0))

PROFILES = ("off", "calm", "busy-season", "always-busy")


@dataclass(frozen=True)
class LatencyConfig:
    profile: str = "off"
    scale: float = 1.0

    def as_dict(self) -> dict[str, object]:
        return {"profile": self.profile, "scale": self.scale, "profiles": list(PROFILES)}


def validate(profile: object, scale: object) -> LatencyConfig:
    if profile not in PROFILES:
        raise ValueError(f"profile は {', '.join(PROFILES)} のいずれかです。")
    try:
        s = float(scale)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("scale は数値です。") from None
    if not 0 <= s <= 10:
        raise ValueError("scale は 0 以上 10 以下です。")
    return LatencyConfig(str(profile), s)


def busy_reason(now: datetime, calendar: Calendar) -> str | None:
    """Why `now` is a busy period, or None."""
    last_day = _cal.monthrange(now.year, now.month)[1]
    if now.day >= last_day - 2 or now.day <= 1:
        return "month-end"
    if (now.month == 3 and now.day >= 20) or (now.month == 4 and now.day <= 10):
        return "spring"
    for w in calendar.windows:
        for occ in w.occurrences(now - AFTER_MAINTENANCE, now):
            if occ.end <= now < occ.end + AFTER_MAINTENANCE:
                return "after-maintenance"
    return None


def is_send(method: str, path: str) -> bool:
    return method == "POST" and path.rstrip("/").endswith(("/apply", "/bulk-apply", "/apply/amend",
                                                         "/apply/withdraw", "/post-apply"))


def distribution(config: LatencyConfig, now: datetime, method: str, path: str,
                 calendar: Calendar) -> tuple[Latency | None, str | None]:
    """The delay distribution for a request under the configured profile, and the reason."""
    if config.profile == "off" or config.scale <= 0:
        return None, None
    reason = "always" if config.profile == "always-busy" else None
    if config.profile == "busy-season":
        reason = busy_reason(now, calendar)
    pair = BUSY if reason else CALM
    if config.profile == "busy-season" and reason is None:
        pair = CALM
    return pair[0] if is_send(method, path) else pair[1], reason or "calm"
