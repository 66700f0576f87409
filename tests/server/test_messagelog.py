"""The bounded per-recipient fields of the message log line."""

from __future__ import annotations

from govmilter.server.messagelog import LISTED_RECIPIENTS, NAMED_VALUES, recipient_field


def test_few_recipients_are_listed_in_envelope_order() -> None:
    assert recipient_field([]) == "-"
    assert recipient_field(["official", "freemail", "official"]) == "official,freemail,official"
    assert recipient_field(["a"] * LISTED_RECIPIENTS) == ",".join(["a"] * LISTED_RECIPIENTS)


def test_many_recipients_are_counted_most_frequent_first() -> None:
    values = ["freemail"] * 21 + ["official"] * 480
    assert recipient_field(values) == "official*480,freemail*21"


def test_many_distinct_values_are_named_up_to_a_limit() -> None:
    """Rule ids are the one field with many possible values: the line stays bounded."""
    values = [f"rule-{i:03d}" for i in range(500)] + ["common"] * 5
    field = recipient_field(values)
    items = field.split(",")
    assert len(items) == NAMED_VALUES + 1
    assert items[0] == "common*5" and items[-1] == f"other*{505 - 5 - (NAMED_VALUES - 1)}"
    assert sum(int(item.split("*")[1]) for item in items) == 505
