"""WireMock's standalone server as the benchmark's peer: a static stub answering one GET with a given
body. The jar ships in the npm package `wiremock`; it is looked for in `$WIREMOCK_JAR`, then in the
cache dir (`$EGOV_BENCH_CACHE`, default ~/.cache/egov-sim-bench), and fetched there with
`npm pack wiremock` when absent. Every failure is a reason string, never an exception: the bench
prints it as a skip line and goes on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import httpx

CACHE = Path(os.environ.get("EGOV_BENCH_CACHE", Path.home() / ".cache" / "egov-sim-bench"))


def find_jar(fetch: bool = True) -> Path | str:
    """The standalone jar, or why there is none."""
    if env := os.environ.get("WIREMOCK_JAR"):
        return Path(env) if Path(env).is_file() else f"WIREMOCK_JAR={env} is not a file"
    cached = sorted(CACHE.glob("wiremock-standalone-*.jar"))
    if cached:
        return cached[-1]
    if not fetch:
        return f"no WireMock jar in {CACHE}"
    if shutil.which("npm") is None:
        return "npm not found (needed to fetch the wiremock package); set WIREMOCK_JAR"
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(["npm", "pack", "wiremock", "--pack-destination", tmp], capture_output=True, text=True,
                           check=True, timeout=300)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            return f"npm pack wiremock failed: {getattr(exc, 'stderr', '') or exc}"[:300]
        tgz = next(Path(tmp).glob("wiremock-*.tgz"), None)
        if tgz is None:
            return "npm pack wiremock produced no tarball"
        with tarfile.open(tgz) as tar:
            member = next((m for m in tar.getmembers() if m.name.endswith(".jar") and "standalone" in m.name), None)
            if member is None:
                return f"{tgz.name} holds no standalone jar"
            source = tar.extractfile(member)
            assert source is not None
            target = CACHE / Path(member.name).name
            with target.open("wb") as out:
                shutil.copyfileobj(source, out)
    return target


class WireMock:
    """`java -jar wiremock-standalone.jar` on a port, with one static stub (GET `path` → `body`)."""

    def __init__(self, jar: Path, port: int, root: Path, log: Path) -> None:
        self.jar, self.port, self.root, self.log = jar, port, root, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, path: str, body: bytes, content_type: str, timeout: float = 60) -> str | None:
        """Start with the stub in place; None when it serves `body`, else the reason it does not."""
        if shutil.which("java") is None:
            return "java not found"
        mappings = self.root / "mappings"
        mappings.mkdir(parents=True, exist_ok=True)
        (self.root / "__files").mkdir(exist_ok=True)
        # the body inline in the mapping (held in memory), not a bodyFileName read from disk per request
        (mappings / "poll.json").write_text(json.dumps({
            "request": {"method": "GET", "url": path},
            "response": {"status": 200, "body": body.decode(), "headers": {"Content-Type": content_type}},
        }, ensure_ascii=False), encoding="utf-8")
        # As a static stub is run for speed: no request journal, no per-request logging.
        cmd = ["java", "-Xmx512m", "-jar", str(self.jar), "--port", str(self.port), "--bind-address", "127.0.0.1",
               "--root-dir", str(self.root), "--no-request-journal", "--disable-banner", "--disable-gzip"]
        self.proc = subprocess.Popen(cmd, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"WireMock exited: {self.log.read_text()[-500:]}"
            try:
                r = httpx.get(f"{self.base}{path}", timeout=2)
                if r.status_code == 200:
                    return None if r.content == body else "WireMock answered another body"
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        return f"WireMock did not answer within {timeout:.0f}s"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
