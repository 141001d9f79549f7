"""到達状況 and the progress screen's filter of them (seed 000's 申請データ進捗管理:
「全て/審査中/処理中/終了/要再申請/取下げ処理中」), shared by the `egov` ledger and the simulator's console."""

from __future__ import annotations

STATUS_GROUPS = ("全て", "審査中", "処理中", "終了", "要再申請", "取下げ処理中")


def status_group(status: str, *, refused: bool = False) -> str:
    """Which filter a case with this 到達状況 belongs to (one group per case, 全て aside); `refused`: the
    send never arrived (an automatic return)."""
    if refused or "再提出" in status:
        return "要再申請"  # automatic return, or 手続終了（再提出可）
    if "取下げ処理中" in status or "取り消し処理中" in status or "取消し処理中" in status:
        return "取下げ処理中"
    if status.startswith("審査中"):
        return "審査中"  # 審査中, 審査中（補正待ち）
    if "終了" in status or "完了" in status:
        return "終了"  # 審査終了, 手続終了, 手続完了, 取消し完了, 手続終了(取下げ済み)
    return "処理中"  # 到達, or not yet confirmed
