"""Zip safety: nothing escapes, explodes, hides or gets mis-named."""

from __future__ import annotations

import io
import stat
import struct
import warnings
import zipfile

import pytest
from egov_client.errors import PackageError, PackageTooLargeError, UnsafeZipError
from egov_format.zipsafe import read_zip, write_zip


def make_zip(
    entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names on purpose
        with zipfile.ZipFile(out, "w", compression) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return out.getvalue()


def patch_name(data: bytes, placeholder: bytes, raw: bytes) -> bytes:
    """Replace an entry name in the local and central headers (same byte length)."""
    assert len(placeholder) == len(raw)
    assert data.count(placeholder) == 2
    return data.replace(placeholder, raw)


def set_flag_bits(data: bytes, bits: int) -> bytes:
    """OR general-purpose flag bits into every local and central header."""
    buf = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (pos := buf.find(signature, start)) != -1:
            (flags,) = struct.unpack_from("<H", buf, pos + offset)
            struct.pack_into("<H", buf, pos + offset, flags | bits)
            start = pos + 4
    return bytes(buf)


def set_declared_size(data: bytes, size: int) -> bytes:
    """Lie about the uncompressed size in the central directory (and local header)."""
    buf = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = buf.find(signature)
        struct.pack_into("<I", buf, pos + offset, size)
    return bytes(buf)


def test_reads_files_and_skips_directories():
    data = make_zip([("proc/", b""), ("proc/kousei.xml", b"<a/>"), ("proc/sub/x.txt", b"x")])
    assert read_zip(data) == {"proc/kousei.xml": b"<a/>", "proc/sub/x.txt": b"x"}


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "proc/../../x",
        "/abs/x",
        "proc\\x",
        "C:/x",
        "c:x",
        "proc//x",
        "proc/./x",
        "proc/..",
        "proc/\x01x",
    ],
)
def test_unsafe_names_are_refused(name):
    with pytest.raises(UnsafeZipError, match="不正なファイル名"):
        read_zip(make_zip([("proc/ok.txt", b"ok"), (name, b"evil")]))


def test_nul_in_name_is_refused():
    data = patch_name(make_zip([("proc/aXb.txt", b"x")]), b"proc/aXb.txt", b"proc/a\x00b.txt")
    with pytest.raises(UnsafeZipError):
        read_zip(data)


def test_symlink_entry_is_refused():
    info = zipfile.ZipInfo("proc/link")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(UnsafeZipError, match="シンボリックリンク"):
        read_zip(make_zip([(info, b"/etc/passwd")]))


def test_regular_unix_mode_is_fine():
    info = zipfile.ZipInfo("proc/file")
    info.create_system = 3
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    assert read_zip(make_zip([(info, b"x")])) == {"proc/file": b"x"}


def test_too_many_entries():
    data = make_zip([(f"proc/{i}.txt", b"x") for i in range(6)])
    assert len(read_zip(data, max_entries=6)) == 6
    with pytest.raises(UnsafeZipError, match="上限"):
        read_zip(data, max_entries=5)


def test_duplicate_names_are_refused():
    with pytest.raises(UnsafeZipError, match="同じ名前"):
        read_zip(make_zip([("proc/a.txt", b"1"), ("proc/a.txt", b"2")]))


def test_encrypted_entry_is_refused():
    with pytest.raises(UnsafeZipError, match="暗号化"):
        read_zip(set_flag_bits(make_zip([("proc/a.txt", b"secret")]), 0x1))


def test_zip_bomb_by_ratio_is_refused_before_extraction():
    bomb = make_zip([("proc/zeros.bin", b"\0" * 200_000)])
    with pytest.raises(UnsafeZipError, match="圧縮率"):
        read_zip(bomb, max_ratio=50, ratio_threshold=1024)
    # with the default threshold such a small file is fine
    assert len(read_zip(bomb, max_ratio=50)["proc/zeros.bin"]) == 200_000


def test_small_well_compressible_text_is_not_a_bomb():
    text = b" " * 20_000
    assert read_zip(make_zip([("proc/form.xml", text)]))["proc/form.xml"] == text


def test_declared_size_over_file_limit():
    with pytest.raises(PackageTooLargeError) as exc:
        read_zip(make_zip([("proc/a.bin", b"x" * 2000)]), max_file_bytes=1000)
    assert exc.value.limit == 1000
    assert exc.value.file_name == "proc/a.bin"


def test_declared_total_over_limit():
    data = make_zip([("proc/a.bin", b"a" * 600), ("proc/b.bin", b"b" * 600)])
    with pytest.raises(PackageTooLargeError):
        read_zip(data, max_total_bytes=1000)


def test_lying_header_is_capped_while_streaming():
    data = set_declared_size(make_zip([("proc/a.bin", b"x" * 100_000)]), 10)
    with pytest.raises(PackageError):
        read_zip(data)


def test_stored_entry_is_fine():
    assert read_zip(make_zip([("proc/a.txt", b"abc")], zipfile.ZIP_STORED)) == {"proc/a.txt": b"abc"}


def test_unsupported_compression_is_refused():
    with pytest.raises(UnsafeZipError, match="圧縮形式"):
        read_zip(make_zip([("proc/a.txt", b"abc")], zipfile.ZIP_BZIP2))


@pytest.mark.parametrize("data", [b"", b"hello", b"PK\x03\x04broken", b"%PDF-1.4"])
def test_not_a_zip(data):
    with pytest.raises(PackageError, match="ZIPファイルの形式に誤りがあります"):
        read_zip(data)


def test_cp932_names_are_decoded():
    # Japanese Windows tools write CP932 names without the UTF-8 flag; ソ (0x83 0x5C) hides a backslash byte.
    names = {"申請書.pdf": b"A" * 10, "ソフト/表.xml": b"B" * 13}
    entries = []
    data_parts = []
    for i, (name, content) in enumerate(names.items()):
        raw = name.encode("cp932")
        placeholder = (f"{i}" * len(raw)).encode()
        entries.append((placeholder.decode(), content))
        data_parts.append((placeholder, raw))
    data = make_zip(entries)
    for placeholder, raw in data_parts:
        data = patch_name(data, placeholder, raw)
    assert read_zip(data) == names


def test_utf8_flagged_names_are_decoded():
    assert read_zip(make_zip([("手続/申請書.xml", b"x")])) == {"手続/申請書.xml": b"x"}


def test_write_zip_round_trip_and_determinism():
    files = {"900A010200001000/kousei.xml": b"<DataRoot/>", "900A010200001000/写し.pdf": b"%PDF"}
    first, second = write_zip(files), write_zip(dict(files))
    assert first == second
    assert read_zip(first) == files
    infos = zipfile.ZipFile(io.BytesIO(first)).infolist()
    assert [i.filename for i in infos] == list(files)
    assert all(
        i.compress_type == zipfile.ZIP_DEFLATED and i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos
    )
    assert infos[1].flag_bits & 0x800


def test_write_zip_refuses_unsafe_names():
    with pytest.raises(UnsafeZipError):
        write_zip({"../evil": b"x"})
