"""Write N signed demo packages (distinct applicants) for the simulator at URL, e.g. for `egov queue add`.

    python scripts/demo_packages.py http://127.0.0.1:8089 OUT_DIR 25 --p12 DATA_DIR/certs/valid.p12 --unsigned 7

Uses the simulator's catalogue the valid demo certificate (its password from /__admin/world).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import httpx
from egov_format.signing import load_pkcs12_file
from egov_sim.catalogue import Catalogue
from egov_sim.world.packages import sample_package

SURNAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤", "吉田", "山本", "松本", "井上", "木村", "林", "斎藤", "清水", "山口", "森", "池田", "橋本", "阿部", "石川", "山下"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("out", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--proc", default="950A010700005000")
    parser.add_argument("--p12", type=Path, required=True, help="the valid demo certificate (DATA_DIR/certs/valid.p12)")
    parser.add_argument("--unsigned", type=int, action="append", default=[], help="1-based item left unsigned")
    args = parser.parse_args()
    world = httpx.get(f"{args.url.rstrip('/')}/__admin/world").json()
    cert = next(c for c in world["certificates"] if c["label"] == "valid")
    signer = load_pkcs12_file(args.p12, cert["password"])
    catalogue = Catalogue.load()
    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(1, args.count + 1):
        name = SURNAMES[(i - 1) % len(SURNAMES)] + ("" if i <= len(SURNAMES) else str(i))
        package = sample_package(catalogue, args.proc, None if i in args.unsigned else signer,
                                 applicant_name=f"{name}　太郎")
        (args.out / f"{i:02d}_{args.proc}.zip").write_bytes(package.to_zip())
    print(f"{args.count} packages in {args.out}")


if __name__ == "__main__":
    main()
