"""The documentation: docs/ builds with mkdocs in strict mode, and a broken link fails it.

``scripts/test.sh`` builds the site on every CI run; these tests show that the configuration
in ``mkdocs.yml`` does what CI relies on: a link to a missing page or anchor fails the build,
while a page added to docs/ without a nav entry does not (engineers add pages freely). The
README's own links (it is not part of the site) are checked here too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``project``'s mkdocs.yml into ``site``."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(project / "mkdocs.yml"), "--site-dir", str(site)],
        text=True, capture_output=True, timeout=120, check=False)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of mkdocs.yml and docs/, to break without touching the repository."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", project)
    shutil.copytree(ROOT / "docs", project / "docs")
    return project


def test_the_docs_build_in_strict_mode(tmp_path: Path) -> None:
    result = build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "admin" / "index.html").exists()


@pytest.mark.parametrize(("link", "complaint"), [
    pytest.param("[the guide](no-such-page.md)", "'no-such-page.md'", id="missing-page"),
    pytest.param("[faults](admin.md#no-such-section)", "'#no-such-section'",
                 id="missing-anchor"),
    pytest.param("[here](#nowhere)", "'#nowhere'", id="missing-anchor-on-same-page"),
    pytest.param("[changes](../CHANGELOG.md)", "'../CHANGELOG.md'", id="outside-docs"),
])
def test_a_broken_link_fails_the_build(copy: Path, tmp_path: Path, link: str,
                                       complaint: str) -> None:
    policy = copy / "docs" / "policy.md"
    policy.write_text(policy.read_text(encoding="utf-8") + f"\nSee {link}.\n", encoding="utf-8")
    result = build(copy, tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Aborted with 1 warnings in strict mode" in output, output
    assert complaint in output, output


def test_a_page_missing_from_the_nav_still_builds(copy: Path, tmp_path: Path) -> None:
    (copy / "docs" / "new-feature.md").write_text(
        "# A new feature\n\nSee the [administrator guide](admin.md#upgrades).\n",
        encoding="utf-8")
    result = build(copy, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "new-feature" / "index.html").exists()


def test_the_readme_links_to_files_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [target for target in targets if "://" not in target]
    assert "docs/admin.md" in local
    assert [target for target in local if not (ROOT / target).exists()] == []


def test_the_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300


def shell_commands(markdown: str) -> list[str]:
    """The command lines of a page's ``sh`` blocks, comments left out (they are translated)."""
    blocks = re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)
    return [line.split("  #")[0].rstrip() for block in blocks for line in block.splitlines()]


def backticked_cells(markdown: str) -> list[list[str]]:
    """Per table row, the ``code`` spans in it: what a translation must keep as it is."""
    return [re.findall(r"`([^`]+)`", line) for line in markdown.splitlines()
            if line.startswith("| `")]


def test_the_vietnamese_admin_guide_keeps_the_english_ones_commands_and_settings() -> None:
    english = (ROOT / "docs" / "admin.md").read_text(encoding="utf-8")
    vietnamese = (ROOT / "docs" / "vi" / "admin.md").read_text(encoding="utf-8")
    follow = "docs/vi/admin.md must follow docs/admin.md: translate the change there too"
    assert shell_commands(vietnamese) == shell_commands(english), follow
    assert "systemctl enable --now govmilter" in shell_commands(english)
    assert backticked_cells(vietnamese) == backticked_cells(english), follow
    sections = [re.findall(r"^## ", text, flags=re.MULTILINE) for text in (english, vietnamese)]
    assert len(sections[0]) == len(sections[1]), follow
    assert "Cài đặt" in vietnamese and "Nâng cấp" in vietnamese  # written with its diacritics
