"""Bounds on the work done per message: the policy's ``limits:`` section as a value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the work done per message (the policy's ``limits:`` section)."""

    max_scan_bytes: int = 20 * 1024 * 1024
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 50
    max_depth: int = 10
    max_pdf_pages: int = 30
    max_zip_entries: int = 200
    max_zip_ratio: int = 100
    max_archive_depth: int = 3
    max_seconds: float = 10.0
    memory_bytes: int = 1024 * 1024
