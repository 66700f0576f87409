"""The library internals govmilter.server.speedups relies on: each test fails when the library
changes under its tweak (then the tweak goes, or follows the library)."""

from __future__ import annotations

import logging
import os

import Milter
import pytest
from prometheus_client import CollectorRegistry, Counter
from samples import policy_yaml

from govmilter.policy import parse_policy
from govmilter.server.milter import GovMilter, MilterRuntime
from govmilter.server.speedups import LabelledChildren, skip_log_record_lookups


def test_negotiation_asks_postfix_for_what_pymilter_itself_would() -> None:
    """GovMilter.negotiate leaves out pymilter's search for @Milter.symlist callbacks: right only
    while none has one (with one, pymilter's own would set a symbol list, or fail here) and
    while pymilter negotiates nothing else."""
    runtime = MilterRuntime(lambda: parse_policy(policy_yaml()))
    offered = [0x1FF, 0x1FFFFF, 7, 7]  # every action and protocol flag the MTA may offer
    ours, pymilters = list(offered), list(offered)
    mine, theirs = GovMilter(runtime), GovMilter(runtime)
    assert mine.negotiate(ours) == Milter.CONTINUE
    assert Milter.Base.negotiate(theirs, pymilters) == Milter.CONTINUE
    assert ours == pymilters
    assert (mine._actions, mine._protocol) == (theirs._actions, theirs._protocol)
    assert ours[1] & Milter.P_NR_HDR and ours[1] & Milter.P_NOHELO  # headers unanswered, no HELO


def test_a_remembered_metric_child_is_the_one_labels_gives() -> None:
    """prometheus_client keeps one child per label values: counting through the remembered one
    is counting through ``labels()``."""
    registry = CollectorRegistry()
    counter = Counter("speedups_test", "test", ["document", "compliance"], registry=registry)
    children = LabelledChildren(counter)
    child = children("secret", "compliant")
    assert child is counter.labels("secret", "compliant")
    assert child is counter.labels(document="secret", compliance="compliant")
    assert children("secret", "compliant") is child
    child.inc()
    counter.labels("secret", "compliant").inc()
    assert registry.get_sample_value(
        "speedups_test_total", {"document": "secret", "compliance": "compliant"}) == 2


class Recording(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_log_records_skip_the_caller_thread_and_process_lookups(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The switches exist and still stop the lookups (a renamed one would silently do nothing)."""
    for switch in ("_srcfile", "logThreads", "logMultiprocessing"):
        assert hasattr(logging, switch), switch
    # as the logging module sets them itself (a daemon test in this process may have changed
    # them); restored afterwards
    monkeypatch.setattr(logging, "_srcfile",
                        os.path.normcase(logging.addLevelName.__code__.co_filename))
    monkeypatch.setattr(logging, "logThreads", True)
    monkeypatch.setattr(logging, "logMultiprocessing", True)
    handler = Recording()
    logger = logging.getLogger("govmilter.test_speedups")
    logger.addHandler(handler)
    try:
        logger.warning("with lookups")
        skip_log_record_lookups()
        logger.warning("without")
    finally:
        logger.removeHandler(handler)
    looked_up, skipped = handler.records
    assert looked_up.lineno > 0 and looked_up.threadName is not None
    assert (skipped.pathname, skipped.lineno, skipped.funcName) == \
        ("(unknown file)", 0, "(unknown function)")
    assert skipped.thread is None and skipped.threadName is None and skipped.processName is None
