"""Archives for tests, made by the real tools (7z, tar, gzip, bzip2, xz) or, for RAR, by the
format's specification.

No RAR encoder can be had here (``rar`` is non-free and not in Debian's main archive), so RAR 4
and RAR 5 archives are written field by field from RARLAB's technical notes, with the "store"
method (no compression). ``tests/document/test_archives.py`` checks that 7-Zip, an
implementation independent of the one under test (libarchive), lists and tests them: "Everything
is Ok" for the plain ones, "Encrypted = +" for the encrypted ones.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

from postfix_harness import require

#: Debian package of each tool (scripts/setup.sh installs them)
PACKAGES = {"7z": "p7zip-full", "tar": "tar", "gzip": "gzip", "bzip2": "bzip2", "xz": "xz-utils"}


def need(tool: str) -> None:
    """Skip (fail under CI=true) when ``tool`` is missing."""
    require(shutil.which(tool), f"needs {tool} (Debian package {PACKAGES[tool]}; run "
                                "scripts/setup.sh)")


def _files_in(folder: Path, files: dict[str, bytes]) -> list[str]:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return list(files)


def seven_zip(files: dict[str, bytes], *options: str) -> bytes:
    """A 7z archive of ``files`` made by ``7z a`` with ``options`` (``-pPASSWORD``,
    ``-mhe=on``...)."""
    need("7z")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names = _files_in(folder / "in", files)
        subprocess.run(["7z", "a", "-bd", "-y", *options, str(folder / "out.7z"), *names],
                       cwd=folder / "in", check=True, capture_output=True)
        return (folder / "out.7z").read_bytes()


def tar_archive(files: dict[str, bytes], compress: str = "") -> bytes:
    """A tar archive of ``files`` made by GNU tar; ``compress`` is ``z``, ``j``, ``J`` or ``""``."""
    need("tar")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names = _files_in(folder / "in", files)
        subprocess.run(["tar", f"-c{compress}f", str(folder / "out.tar"), *names],
                       cwd=folder / "in", check=True, capture_output=True)
        return (folder / "out.tar").read_bytes()


def compressed(data: bytes, tool: str) -> bytes:
    """``data`` through ``gzip``, ``bzip2`` or ``xz`` (one stream, no archive)."""
    need(tool)
    return subprocess.run([tool, "-c"], input=data, check=True, capture_output=True).stdout


def zeros_compressed(size: int, tool: str) -> bytes:
    """``size`` zero bytes through ``tool`` (xz, gzip...), streamed: never held in memory."""
    need(tool)
    with subprocess.Popen(["head", "-c", str(size), "/dev/zero"],
                          stdout=subprocess.PIPE) as zeros:
        packed = subprocess.run([tool, "-c"], stdin=zeros.stdout, check=True,
                                capture_output=True).stdout
    return packed


def seven_zip_of_zeros(size: int, name: str = "zeros.txt") -> bytes:
    """A 7z archive holding ``size`` zero bytes as ``name``, streamed through ``7z -si``."""
    need("7z")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.7z"
        with subprocess.Popen(["head", "-c", str(size), "/dev/zero"],
                              stdout=subprocess.PIPE) as zeros:
            subprocess.run(["7z", "a", "-bd", f"-si{name}", str(out)], stdin=zeros.stdout,
                           check=True, capture_output=True)
        return out.read_bytes()


def seven_zip_test(data: bytes, suffix: str) -> str:
    """What ``7z t`` and ``7z l -slt`` say about ``data`` (no password is given)."""
    need("7z")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"a{suffix}"
        path.write_bytes(data)
        said = [subprocess.run(["7z", *command, "-p-", str(path)], capture_output=True,
                               text=True).stdout for command in (["t"], ["l", "-slt"])]
        return "\n".join(said)


# ---- RAR 5 (https://www.rarlab.com/technote.htm, "RAR 5.0 archive format") ------------------

RAR5_SIGNATURE = b"Rar!\x1a\x07\x01\x00"


def vint(value: int) -> bytes:
    """RAR 5's variable-length integer: 7 bits a byte, low bits first, high bit = more."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def rar5_block(kind: int, fields: bytes, extra: bytes = b"", data: bytes = b"") -> bytes:
    """One RAR 5 block: CRC32, header size, type, flags, extra and data sizes, the type's own
    ``fields``, the extra area, then the data area."""
    flags = (0x0001 if extra else 0) | (0x0002 if data else 0)
    header = vint(kind) + vint(flags)
    header += (vint(len(extra)) if extra else b"") + (vint(len(data)) if data else b"")
    header += fields + extra
    sized = vint(len(header)) + header
    return struct.pack("<I", zlib.crc32(sized)) + sized + data


def rar5_encryption_record() -> bytes:
    """A file header's extra record of type 1 (file encryption): AES-256, password check
    present, KDF count 15, salt, IV and check value (zeros: nothing is decrypted here)."""
    record = vint(1) + vint(0) + vint(0x0001) + bytes([15]) + bytes(16 + 16 + 12)
    return vint(len(record)) + record


def rar5(files: dict[str, bytes], encrypted: bool = False) -> bytes:
    """A RAR 5 archive of ``files``, stored; ``encrypted`` marks each file encrypted (its
    data is left as it is, which is all a reader that checks the flag needs)."""
    out = RAR5_SIGNATURE + rar5_block(1, vint(0))  # main archive header, no flags
    for name, data in files.items():
        raw = name.encode()
        fields = (vint(0x0004) + vint(len(data)) + vint(0x20)  # flags: CRC32 present; size; attrs
                  + struct.pack("<I", zlib.crc32(data))
                  + vint(0) + vint(0)  # compression: RAR 5.0, store; host OS Windows
                  + vint(len(raw)) + raw)
        out += rar5_block(2, fields, rar5_encryption_record() if encrypted else b"", data)
    return out + rar5_block(5, vint(0))  # end of archive


def rar5_encrypted_headers() -> bytes:
    """A RAR 5 archive whose headers are encrypted (``rar -hp``): the archive encryption
    header, then what would be encrypted blocks (random-looking bytes here)."""
    header = vint(0) + vint(0x0001) + bytes([15]) + bytes(16) + bytes(12)
    return RAR5_SIGNATURE + rar5_block(4, header) + bytes(range(256))


# ---- RAR 4 (RAR 2.9-4.x format: "RAR version 4.x - Technical information") ---------------

def rar4_block(kind: int, flags: int, fields: bytes, data: bytes = b"") -> bytes:
    """One RAR 4 block: CRC16 (low half of the CRC32 of what follows it), type, flags, size."""
    header = struct.pack("<BHH", kind, flags, 7 + len(fields)) + fields
    return struct.pack("<H", zlib.crc32(header) & 0xFFFF) + header + data


def rar4(files: dict[str, bytes], encrypted: bool = False) -> bytes:
    """A RAR 4 archive of ``files``, stored; ``encrypted`` sets each file's password flag."""
    out = b"Rar!\x1a\x07\x00" + rar4_block(0x73, 0, bytes(6))  # marker, archive header
    for name, data in files.items():
        raw = name.encode()
        flags = 0x8000 | (0x0004 if encrypted else 0)  # LONG_BLOCK (data follows), PASSWORD
        fields = struct.pack("<IIBIIBBHI", len(data), len(data), 3,  # sizes, host OS Unix
                             zlib.crc32(data), 0x5A210000,  # CRC32, DOS date and time
                             29, 0x30, len(raw), 0o100644)  # version 2.9, store, name, mode
        out += rar4_block(0x74, flags, fields + raw, data)
    return out + rar4_block(0x7B, 0x4000, b"")  # end of archive
