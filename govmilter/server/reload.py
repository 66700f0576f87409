"""The running policy and its reload: an atomic swap and a file watcher.

The reload signals (SIGHUP, SIGUSR1) are taken by the daemon's main thread
(:mod:`govmilter.server.signals`), which calls :meth:`PolicyHolder.reload`.

A reload never drops the running policy: an unreadable or invalid file is logged, counted and
refused, and the previous policy keeps running. Connections read :attr:`PolicyHolder.policy` once
when they open and keep that snapshot until they close.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from govmilter.policy import Policy, PolicyError, load_policy

#: How long a changed policy file must hold still before it is read.
FILE_SETTLE_SECONDS = 0.2

log = logging.getLogger("govmilter")

PolicyListener = Callable[[Policy], None]


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    # inode catches an atomic rename by config management, mtime and size an edit in place
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class PolicyHolder:
    """Holds the active :class:`Policy` and replaces it atomically on a successful reload.

    ``path`` None means the embedded default policy (nothing to watch). ``on_load`` is called with
    each policy a reload makes active (not the first one), ``on_failure`` after each refused
    reload: the metrics hook in here.
    """

    def __init__(self, path: str | Path | None, *,
                 loader: Callable[[str | Path | None], Policy] = load_policy,
                 on_load: PolicyListener | None = None,
                 on_failure: Callable[[], None] | None = None) -> None:
        self.path = Path(path).resolve() if path is not None else None
        self._loader = loader
        self._on_load = on_load
        self._on_failure = on_failure
        self._lock = threading.Lock()  # one reload at a time; readers never wait
        self._stop = threading.Event()
        self._state = _file_state(self.path) if self.path else None
        self._policy = loader(self.path)  # PolicyError propagates: the daemon refuses to start

    @property
    def policy(self) -> Policy:
        """The active policy (reading one attribute is atomic, so no lock is needed)."""
        return self._policy

    def reload(self, reason: str) -> bool:
        """Load the file again; swap it in if valid, else keep the old policy. True if swapped."""
        with self._lock:
            if self.path is not None:
                self._state = _file_state(self.path)
            try:
                new = self._loader(self.path)
            except PolicyError as exc:
                problems = "; ".join(str(p) for p in exc.problems[:5])
                log.error("policy reload refused (%s): %s; still running policy sha256=%s",
                          reason, problems, self._policy.source.sha256)
                if self._on_failure is not None:
                    self._on_failure()
                return False
            old = self._policy
            self._policy = new
            log.info("policy reloaded (%s): path=%s sha256=%s mode=%s rules=%d previous=%s",
                     reason, new.source.path, new.source.sha256, new.mode, len(new.rules),
                     old.source.sha256[:12])
            for warning in new.warnings:
                log.warning("policy: %s", warning)
            if self._on_load is not None:
                self._on_load(new)
            return True

    def check_file(self) -> bool:
        """Reload if the file changed since the last look; True if a reload was attempted."""
        if self.path is None:
            return False
        state = _file_state(self.path)
        if state is None or state == self._state:
            return False  # a vanished file is a deployment in progress: keep what runs
        # an edit in place (truncate, then write) can be seen half done: wait until the file
        # holds still, or leave it to the next poll
        self._stop.wait(FILE_SETTLE_SECONDS)
        if _file_state(self.path) != state:
            return False
        self.reload("file changed")
        return True

    def start_file_watch(self, interval: float = 2.0) -> threading.Thread | None:
        """Poll the policy file every ``interval`` seconds in a daemon thread."""
        if self.path is None:
            return None

        def watch() -> None:
            while not self._stop.wait(interval):
                try:
                    self.check_file()
                except Exception:  # never let the watcher die: the next poll tries again
                    log.exception("policy file watch failed")
        thread = threading.Thread(target=watch, name="govmilter-policy-watch", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop the file watcher."""
        self._stop.set()


def describe(policy: Policy) -> str:
    """``path=... sha256=... mode=...``: how log lines name a policy."""
    return f"policy={policy.source.path} sha256={policy.source.sha256} mode={policy.mode}"

