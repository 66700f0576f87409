"""Reading ZIP containers (plain archives, DOCX, ODT) without trusting their headers.

A ZIP's declared sizes may lie, and a small file can expand to gigabytes. Every read here is
streamed with a hard cap (the per-attachment limit), the number of entries and the expansion
ratio are bounded by the policy's limits, and encrypted entries are refused.
"""

from __future__ import annotations

import copy
import io
import zipfile

from govmilter.document.budget import ScanBudget, Unscannable

_CHUNK = 64 * 1024


class GuardedZip:
    """A ZIP archive opened within the scan's limits."""

    def __init__(self, data: bytes, budget: ScanBudget, what: str = "ZIP archive",
                 source: str = "") -> None:
        self.what = what
        self.budget = budget
        self.source = source  #: which attachment (``attachment 2``), for reasons noted here
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise Unscannable(f"{what} could not be opened ({type(exc).__name__})") from exc
        limit = budget.limits.max_zip_entries
        if len(infos) > limit:
            raise Unscannable(f"{what} has {len(infos)} entries, more than {limit} "
                              "(limits.max_zip_entries)")
        self.entries = [i for i in infos if not i.is_dir()]

    def names(self) -> list[str]:
        """The file entries' names, in archive order."""
        return [i.filename for i in self.entries]

    def read(self, info: zipfile.ZipInfo | str) -> bytes:
        """Read one entry, capped at the per-attachment limit and checked for expansion.

        :raises Unscannable: encrypted entry, expansion past ``max_zip_ratio``, corrupt data.
        """
        if isinstance(info, str):
            info = self._zip.getinfo(info)
        limits = self.budget.limits
        if info.flag_bits & 0x1:
            raise Unscannable(f"{self.what} is password-protected (encrypted entries)")
        self.budget.check_ratio(info.file_size, info.compress_size, f"{self.what} entry",
                                "ZIP bomb")
        cap = limits.max_attachment_bytes
        # zipfile stops at the declared size, unzip inflates the whole stream: read on to the
        # cap, so what a lying header hides is read (and a CRC made for the prefix fails)
        whole = copy.copy(info)
        whole.file_size = max(info.file_size, cap + 1)
        chunks: list[bytes] = []
        size = 0
        try:
            with self._zip.open(whole) as stream:
                while size <= cap:
                    chunk = stream.read(_CHUNK)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                    # The header may lie about sizes: check the ratio on what was really read.
                    self.budget.check_ratio(size, info.compress_size, f"{self.what} entry",
                                            "ZIP bomb")
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError,
                RuntimeError) as exc:
            raise Unscannable(f"{self.what} entry could not be read ({type(exc).__name__})"
                              ) from exc
        data = b"".join(chunks)
        if len(data) > cap:
            where = f"{self.source}: " if self.source else ""
            self.budget.note(f"{where}{self.what} entry larger than {cap} bytes was cut")
            data = data[:cap]
        return data
