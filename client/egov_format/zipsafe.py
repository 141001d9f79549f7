"""Reading untrusted zips safely and writing deterministic ones.

Every entry is vetted from the central directory before anything is decompressed, and the
limits are enforced again while streaming, so lying headers cannot explode or escape.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile

from .errors import PackageError, PackageTooLargeError, UnsafeZipError

__all__ = ["MAX_FILE_BYTES", "read_zip", "write_zip"]

MAX_FILE_BYTES = 50 * 1024 * 1024  # e-Gov: 50 MB per file
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_ALLOWED_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f]")  # control characters in an entry name
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g}MB"


def decode_name(info: zipfile.ZipInfo) -> str:
    """The entry name as the creating tool meant it: UTF-8 when flagged, else CP932 (Japanese Windows)."""
    raw_name = info.orig_filename
    if info.flag_bits & _UTF8_FLAG:
        return raw_name
    try:
        raw = raw_name.encode("cp437")  # zipfile decoded the raw bytes as cp437
    except UnicodeEncodeError:
        return raw_name  # set by metadata_encoding or similar: already decoded
    for codec in ("cp932", "utf-8"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw_name


def _check_name(name: str) -> str:
    """Return the name without a trailing '/', or raise if it could escape or confuse."""
    bad = UnsafeZipError(
        f"ZIPファイルに不正なファイル名が含まれています({name!r})",
        file_name=name or "-",
        detail="unsafe entry name",
    )
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or _DRIVE.match(name):
        raise bad
    if _CONTROL.search(name):
        raise bad
    stripped = name[:-1] if name.endswith("/") else name
    if any(part in ("", ".", "..") for part in stripped.split("/")):
        raise bad
    return stripped


def _check_entry(
    info: zipfile.ZipInfo, name: str, *, max_file_bytes: int, max_ratio: float, ratio_threshold: int
) -> None:
    mode = info.external_attr >> 16
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = "シンボリックリンク" if stat.S_ISLNK(mode) else "特殊ファイル"
        raise UnsafeZipError(
            f"ZIPファイルに{kind}が含まれています({name})",
            file_name=name,
            detail="symlinks and special files are refused",
        )
    if info.flag_bits & _ENCRYPTED_FLAG:
        raise UnsafeZipError(
            f"暗号化されたZIPファイルは受け付けられません({name})", file_name=name, detail="encrypted entry"
        )
    if info.is_dir():
        return
    if info.compress_type not in _ALLOWED_METHODS:
        raise UnsafeZipError(
            f"ZIPファイルの圧縮形式はサポートされていません({name})",
            file_name=name,
            detail=f"compression method {info.compress_type}",
        )
    if info.file_size > max_file_bytes:
        raise PackageTooLargeError(
            f"ファイルサイズが上限({_mb(max_file_bytes)})を超えています({name})",
            limit=max_file_bytes,
            file_name=name,
            detail="declared size over limit",
        )
    if info.file_size > ratio_threshold and info.file_size > max_ratio * max(info.compress_size, 1):
        raise UnsafeZipError(
            f"ZIPファイルの圧縮率が異常です({name})",
            file_name=name,
            detail="compression ratio over limit (zip bomb)",
        )


def _read_capped(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, cap: int, max_file_bytes: int
) -> bytes:
    """Decompress one entry, never producing more than its declared size or the caps."""
    buf = bytearray()
    with zf.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            buf += chunk
            if len(buf) > info.file_size:
                raise UnsafeZipError(
                    f"ZIPファイルの形式に誤りがあります({name})",
                    file_name=name,
                    detail="entry larger than declared",
                )
            if len(buf) > max_file_bytes:
                raise PackageTooLargeError(
                    f"ファイルサイズが上限({_mb(max_file_bytes)})を超えています({name})",
                    limit=max_file_bytes,
                    file_name=name,
                    detail="size over limit",
                )
            if len(buf) > cap:
                raise PackageTooLargeError(
                    f"申請データのサイズが上限({_mb(cap)})を超えています",
                    limit=cap,
                    file_name=name,
                    detail="total size over limit",
                )
    return bytes(buf)


def read_zip(
    data: bytes,
    *,
    max_entries: int = 2000,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = 200 * 1024 * 1024,
    max_ratio: float = 200,
    ratio_threshold: int = 1024 * 1024,
) -> dict[str, bytes]:
    """Vet and extract an untrusted zip into {name: bytes}; directory entries are skipped.

    The compression-ratio check applies to entries larger than ``ratio_threshold`` bytes (small
    text files legitimately compress very well) and to the archive as a whole once its inflated
    total passes that threshold; size caps apply to every entry and to the total.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise PackageError("ZIPファイルの形式に誤りがあります", detail=f"not a zip: {exc}") from None
    if len(infos) > max_entries:
        raise UnsafeZipError(
            f"ZIPファイルに含まれるファイル数が上限({max_entries})を超えています",
            detail=f"{len(infos)} entries",
        )

    vetted: list[tuple[zipfile.ZipInfo, str]] = []
    seen: set[str] = set()
    declared_total = 0
    for info in infos:
        name = _check_name(decode_name(info))
        if name in seen:
            raise UnsafeZipError(
                f"ZIPファイルに同じ名前のファイルが複数含まれています({name})",
                file_name=name,
                detail="duplicate entry",
            )
        seen.add(name)
        _check_entry(
            info, name, max_file_bytes=max_file_bytes, max_ratio=max_ratio, ratio_threshold=ratio_threshold
        )
        if not info.is_dir():
            declared_total += info.file_size
            vetted.append((info, name))
    if declared_total > ratio_threshold and declared_total > max_ratio * max(len(data), 1):
        raise UnsafeZipError(  # many entries each under the per-entry threshold: the same bomb, spread out
            "ZIPファイルの圧縮率が異常です",
            detail="aggregate compression ratio over limit (zip bomb)",
        )
    if declared_total > max_total_bytes:
        raise PackageTooLargeError(
            f"申請データのサイズが上限({_mb(max_total_bytes)})を超えています",
            limit=max_total_bytes,
            detail="declared total size over limit",
        )

    files: dict[str, bytes] = {}
    remaining = max_total_bytes
    with zf:
        for info, name in vetted:
            try:
                content = _read_capped(zf, info, name, remaining, max_file_bytes)
            except (
                zipfile.BadZipFile,
                zipfile.LargeZipFile,
                ValueError,
                EOFError,
                OSError,
                NotImplementedError,
                RuntimeError,
            ) as exc:
                raise PackageError(
                    f"ZIPファイルの形式に誤りがあります({name})", file_name=name, detail=str(exc)
                ) from None
            remaining -= len(content)
            files[name] = content
    return files


def write_zip(files: dict[str, bytes]) -> bytes:
    """Deflated zip with UTF-8 names (flag 0x800 for non-ASCII) and fixed timestamps, in the given order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            _check_name(name)
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode bits below are meaningful
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, content)
    return out.getvalue()
