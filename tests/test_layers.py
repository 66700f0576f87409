"""The layer contract: which package of govmilter may import which (docs: development).

Read from the source with :mod:`ast`, lazy imports inside functions included, so a crossing
fails here before it ships. The pure layers are testable and benchmarkable without an MTA; the
daemon's libraries (pymilter, prometheus_client) stay in ``server``; dnspython in one module.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "govmilter"

#: Each layer and the govmilter layers it may import (itself and ``errors`` always).
ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "mail": frozenset(),
    "domains": frozenset({"mail"}),
    "document": frozenset({"mail"}),
    "policy": frozenset({"mail", "domains", "document"}),
    "scan": frozenset({"mail", "domains", "document", "policy"}),
    "store": frozenset({"mail", "domains", "document", "policy", "scan"}),
    "server": frozenset({"mail", "domains", "document", "policy", "scan", "store", "version"}),
    "tools": frozenset({"mail", "domains", "document", "policy", "scan", "store", "version"}),
    "console": frozenset({"mail", "domains", "document", "policy", "scan", "store", "tools",
                          "version"}),
}
#: The top: the command line and the package's front door may import anything.
TOP = frozenset({"cli", "__init__", "__main__"})
#: Third-party libraries that only some modules may import.
RESTRICTED = {
    "Milter": ("govmilter.server",),
    "prometheus_client": ("govmilter.server",),
    "dns": ("govmilter.domains.dnsintel",),
    "libarchive": ("govmilter.document.packed",),
    "olefile": ("govmilter.document.ole",),
}


def layer_of(module: str) -> str:
    """``govmilter.mail.message`` -> ``mail``; ``govmilter`` (its ``__version__``) -> version."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "version"


def imported_modules(source: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """Every absolute import in a module's source: (line, module, names imported from it)."""
    found: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, tuple(a.name for a in node.names)))
    return found


def crossings(sources: Mapping[str, str]) -> list[str]:
    """The imports that break the contract, as ``module:line: imports target`` lines."""
    problems = []
    for module, source in sorted(sources.items()):
        own = layer_of(module)
        for line, target, names in imported_modules(source):
            where = f"{module}:{line}: imports {target}"
            top = target.split(".")[0]
            if top in RESTRICTED and not module.startswith(RESTRICTED[top]):
                problems.append(f"{where} (only {', '.join(RESTRICTED[top])} may)")
            if top != "govmilter" or own in TOP:
                continue
            if target == "govmilter" and names != ("__version__",):
                targets = [f"govmilter.{name}" for name in names]
            else:
                targets = [target]
            for each in targets:
                theirs = layer_of(each)
                if theirs in (own, "errors") or theirs in ALLOWED.get(own, frozenset()):
                    continue
                problems.append(f"{where} (layer {own} may not import {theirs})")
    return problems


def package_sources() -> dict[str, str]:
    """Every module of the package, by dotted name."""
    sources = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if parts[-1] == "__init__" and len(parts) == 2:
            name = "govmilter.__init__"
        sources[name] = path.read_text()
    return sources


def test_every_module_belongs_to_a_known_layer() -> None:
    layers = {layer_of(m) for m in package_sources()}
    assert layers <= set(ALLOWED) | TOP | {"version"}, sorted(layers - set(ALLOWED) - TOP)


def test_no_module_crosses_the_layer_contract() -> None:
    assert crossings(package_sources()) == []


@pytest.mark.parametrize(("module", "source", "why"), [
    pytest.param("govmilter.mail.message", "from govmilter.server.milter import GovMilter\n",
                 "layer mail may not import server", id="pure-imports-server"),
    pytest.param("govmilter.document.detect",
                 "def f():\n    from govmilter.tools.render import class_text\n",
                 "layer document may not import tools", id="lazy-import-in-function"),
    pytest.param("govmilter.mail.names", "from govmilter.domains.classify import DomainClass\n",
                 "layer mail may not import domains", id="upward-within-pure"),
    pytest.param("govmilter.tools.replay", "import govmilter.server.workers\n",
                 "layer tools may not import server", id="tools-import-server"),
    pytest.param("govmilter.policy.decide", "import Milter\n",
                 "only govmilter.server may", id="pymilter-outside-server"),
    pytest.param("govmilter.domains.classify", "import dns.resolver\n",
                 "only govmilter.domains.dnsintel may", id="dnspython-outside-dnsintel"),
    pytest.param("govmilter.document.cues", "from govmilter import server\n",
                 "layer document may not import server", id="from-package-import"),
])
def test_the_checker_reports_a_crossing(module: str, source: str, why: str) -> None:
    problems = crossings({module: source})
    assert len(problems) == 1 and why in problems[0], problems


def test_at_most_six_top_level_modules() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 6, modules


def test_every_package_says_what_it_owns_and_may_import() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc or "may import" in doc, init


@pytest.mark.parametrize("modules", [
    pytest.param(("govmilter.policy", "govmilter.domains.classify", "govmilter.document",
                  "govmilter.mail.message", "govmilter.scan", "govmilter.tools.envelope"),
                 id="pure-core"),
    pytest.param(("govmilter.server.workers",), id="scan-worker-process"),
])
def test_importing_loads_neither_the_milter_nor_the_metrics_library(
        modules: tuple[str, ...]) -> None:
    """Checked on the interpreter too: a scan worker process carries no pymilter or metrics."""
    code = ("import json, sys\n" + "".join(f"import {m}\n" for m in modules)
            + "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, check=True)
    loaded = set(json.loads(result.stdout))
    assert not {"Milter", "milter", "prometheus_client"} & loaded
