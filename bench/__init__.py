"""The govmilter benchmark (issue #7): ``python -m bench.run``; see docs/performance.md.

The private Postfix, smtp-sink and ``govmilter run`` management is NOT copied here: it is the
end-to-end tests' harness, ``tests/postfix_harness.py``, one implementation for both. tests/ is
not a package (pytest puts it on ``sys.path`` itself), so importing ``bench`` puts it there once,
here, for every bench module.
"""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent.parent / "tests")
if _TESTS not in sys.path:
    sys.path.append(_TESTS)
