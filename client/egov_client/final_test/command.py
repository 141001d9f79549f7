"""`egov final-test prepare|run`: the kit's command group (cli.py adds it to `egov`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .runner import FinalTest, summary
from .sheet import write_all
from .target import TargetNotReady, resolve

TARGET_HELP = "sandbox（e-Gov 検証環境）またはシミュレーターのURL（例 http://127.0.0.1:8080）"


def _kit(target: str, out: str, poll_seconds: float) -> FinalTest:
    try:
        kit_target = resolve(target)
    except TargetNotReady as exc:
        click.echo(f"最終確認試験を開始できません: {exc}", err=True)
        sys.exit(2)
    if sys.stdin.isatty():
        kit_target.ask_code = lambda what: click.prompt(what)
    return FinalTest(kit_target, Path(out), poll_seconds=poll_seconds)


@click.group("final-test")
def final_test() -> None:
    """e-Gov 最終確認試験のリハーサルと証跡（項目ごとの要求・応答、結果一覧 CSV/XLSX、HTML レポート）。"""


@final_test.command("prepare")
@click.option("--target", required=True, help=TARGET_HELP)
@click.option("--out", default="final-test", show_default=True, type=click.Path(file_okay=False))
def prepare(target: str, out: str) -> None:
    """第1段階: 職員の操作が要る案件（再提出・補正の依頼、公文書の発行）と電子送達の利用申込みを送信し記録する。"""
    kit = _kit(target, out, 0)
    try:
        state = kit.prepare()
    finally:
        kit.close()
    click.echo(f"準備完了 ({kit.state_path()}). e-Gov の職員に依頼する内容:")
    for line in state["staff"].values():
        click.echo(f"  {line}")


@final_test.command("run")
@click.option("--target", required=True, help=TARGET_HELP)
@click.option("--out", default="final-test", show_default=True, type=click.Path(file_okay=False))
@click.option("--item", "only", multiple=True, help="この項番だけ実施する（複数可）")
@click.option("--poll-seconds", default=60.0, show_default=True, help="自動で届くもの（一括送信のレポート）を待つ秒数")
@click.option("--json", "as_json", is_flag=True, help="結果を JSON で出力します")
def run(target: str, out: str, only: tuple[str, ...], poll_seconds: float, as_json: bool) -> None:
    """第2段階: 全項目を実施し、証跡と結果一覧を出力する（シミュレーターでは案件を自分で進める）。"""
    kit = _kit(target, out, poll_seconds)
    try:
        results = kit.run(set(only) or None)
    finally:
        kit.close()
    title = f"最終確認試験 — {kit.target.name}"
    files = write_all(results, kit.out, title)
    counts = summary(results)
    if as_json:
        click.echo(json.dumps({"summary": counts, "items": [r.__dict__ for r in results],
                               "files": [str(f) for f in files]}, ensure_ascii=False, indent=2))
    else:
        for r in results:
            click.echo(f"{r.id:6} {r.result:8} {r.name} — {r.reason}")
        click.echo(f"合格 {counts['pass']} / 不合格 {counts['fail']} / 待ち {counts['waiting']} "
                   f"(全 {len(results)} 項目)")
        click.echo("出力: " + ", ".join(str(f) for f in files) + f", {kit.out / 'evidence'}/")
    sys.exit(0 if counts["pass"] == len(results) else 1)
