"""The plugin contract, as tests: behaviours every Source and every Target must show.

A plugin joins the suite with a *harness* (how to build its source/target against a real peer,
how to put records in the peer, how to make the peer fail) and a test class that inherits the
behaviours::

    class TestSftpSource(SourceContract):
        @pytest.fixture(scope="class")
        def harness(self):
            with SftpSourceHarness() as harness:   # starts sshd, creates files, ...
                yield harness

Every ``test_*`` method of ``SourceContract`` / ``TargetContract`` then runs for that plugin.
A behaviour a plugin cannot show (a source that has no cursor, a target whose peer never
refuses one record) is skipped with the reason the harness gives, never silently passed.
See README.md in this folder.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ContextManager

import pytest

from runtime import redact
from runtime.errors import KoppelError, RecordError, TransientError
from runtime.plugin import Batch, Item, Outcome, Record, Source, Target


class Unsupported(Exception):
    """Raised by a harness method for a behaviour its plugin does not have; the test skips."""


class SourceHarness(ABC):
    #: the ``batch_size`` option the harness passes in ``PluginContext.options``
    batch_size: int = 3
    #: read(cursor of the last batch) yields only what was added since (False: full reads)
    resumable: bool = True

    @abstractmethod
    def make_source(self) -> Source:
        """A new, unopened Source reading from the harness's peer, batch size ``batch_size``."""

    @abstractmethod
    def seed(self, count: int) -> list[str]:
        """Add ``count`` new records to the peer; return their keys (as ``Record.key`` will be)."""

    def reset(self) -> None:
        """Empty the peer and clear its faults; called before every test."""

    def transient_failure(self) -> ContextManager[None]:
        """While active, the peer fails in a way a retry may fix (500, timeout, refused)."""
        raise Unsupported("the harness cannot make its peer fail")

    def secrets(self) -> list[str]:
        """Secret values the plugin is configured with; none may appear in an error message."""
        return []


class TargetHarness(ABC):
    @abstractmethod
    def make_target(self) -> Target:
        """A new, unopened Target writing to the harness's peer."""

    @abstractmethod
    def items(self, count: int) -> list[Item]:
        """``count`` valid items with distinct keys that the peer accepts."""

    def reset(self) -> None:
        """Empty the peer and clear its faults; called before every test."""

    def rejected_item(self) -> Item:
        """An item the peer refuses for itself alone (a 4xx, a Client fault, a bad file name)."""
        raise Unsupported("the peer never refuses a single record")

    def delivered_keys(self) -> list[str]:
        """Keys of the items the peer has accepted, in arrival order."""
        raise Unsupported("the peer cannot tell what it received")

    def transient_failure(self) -> ContextManager[None]:
        """While active, the peer fails in a way a retry may fix (500, timeout, refused)."""
        raise Unsupported("the harness cannot make its peer fail")

    def secrets(self) -> list[str]:
        """Secret values the plugin is configured with; none may appear in output or errors."""
        return []


def _supported(call, *args):
    try:
        return call(*args)
    except Unsupported as reason:
        pytest.skip(str(reason))


@contextlib.contextmanager
def opened(plugin: Source | Target) -> Iterator:
    plugin.open()
    try:
        yield plugin
    finally:
        plugin.close()


def read_all(source: Source, cursor: str | None) -> list[Batch]:
    return list(source.read(cursor))


def _assert_no_secret(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, "a secret value appears in plugin output"
    assert redact.text(text) == text, "unmasked BSN or secret in plugin output"


class SourceContract:
    """Behaviours of every Source. Subclasses provide the ``harness`` fixture."""

    @pytest.fixture
    def harness(self) -> SourceHarness:  # pragma: no cover - overridden
        raise NotImplementedError("a SourceContract subclass must define the 'harness' fixture")

    @pytest.fixture(autouse=True)
    def _fresh_peer(self, harness: SourceHarness) -> None:
        harness.reset()

    def test_open_and_close_are_idempotent(self, harness: SourceHarness) -> None:
        source = harness.make_source()
        source.open()
        source.open()
        source.close()
        source.close()

    def test_close_without_open_is_harmless(self, harness: SourceHarness) -> None:
        harness.make_source().close()

    def test_read_yields_bounded_batches_of_records(self, harness: SourceHarness) -> None:
        keys = harness.seed(2 * harness.batch_size + 1)
        with opened(harness.make_source()) as source:
            batches = read_all(source, None)
        records = [r for b in batches for r in b.records]
        assert all(isinstance(b, Batch) for b in batches)
        assert all(len(b.records) <= harness.batch_size for b in batches), "a batch exceeds batch_size"
        assert len(batches) >= 3, "records were not split into batches"
        assert all(isinstance(r, Record) and isinstance(r.key, str) and isinstance(r.data, dict) for r in records)
        assert sorted(r.key for r in records) == sorted(keys), "records lost or repeated"

    def test_nothing_to_read_yields_no_records(self, harness: SourceHarness) -> None:
        with opened(harness.make_source()) as source:
            assert [r for b in read_all(source, None) for r in b.records] == []

    def test_cursor_resumes_after_the_last_batch(self, harness: SourceHarness) -> None:
        if not harness.resumable:
            pytest.skip("this source reads everything on every run (no cursor)")
        harness.seed(harness.batch_size + 1)
        with opened(harness.make_source()) as source:
            cursor = read_all(source, None)[-1].cursor
            assert cursor is not None, "a resumable source must give its last batch a cursor"
            again = [r for b in read_all(source, cursor) for r in b.records]
            assert again == [], "reading from the last cursor repeated records"
            new = harness.seed(2)
            resumed = read_all(source, cursor)
        assert sorted(r.key for b in resumed for r in b.records) == sorted(new)
        assert resumed[-1].cursor is not None and resumed[-1].cursor != cursor, "the cursor did not move"

    def test_commit_is_idempotent(self, harness: SourceHarness) -> None:
        harness.seed(1)
        with opened(harness.make_source()) as source:
            for batch in read_all(source, None):
                source.commit(batch)
                source.commit(batch)

    def test_transient_failure_raises_transient_error(self, harness: SourceHarness) -> None:
        harness.seed(1)
        failure = _supported(harness.transient_failure)
        with opened(harness.make_source()) as source, failure, pytest.raises(TransientError) as caught:
            read_all(source, None)
        _assert_no_secret(str(caught.value), harness.secrets())

    def test_works_again_after_a_failure(self, harness: SourceHarness) -> None:
        keys = harness.seed(1)
        failure = _supported(harness.transient_failure)
        with opened(harness.make_source()) as source:
            with failure, pytest.raises(TransientError):
                read_all(source, None)
            assert [r.key for b in read_all(source, None) for r in b.records] == keys


def _transient_errors(target, items: list) -> list[BaseException]:
    """The errors of a write under a transient failure: raised for all, or per item."""
    try:
        outcomes = target.write(items)
    except KoppelError as exc:
        return [exc]
    assert len(outcomes) == len(items)
    return [o.error for o in outcomes if o.error is not None]


class TargetContract:
    """Behaviours of every Target. Subclasses provide the ``harness`` fixture."""

    @pytest.fixture
    def harness(self) -> TargetHarness:  # pragma: no cover - overridden
        raise NotImplementedError("a TargetContract subclass must define the 'harness' fixture")

    @pytest.fixture(autouse=True)
    def _fresh_peer(self, harness: TargetHarness) -> None:
        harness.reset()

    def test_open_and_close_are_idempotent(self, harness: TargetHarness) -> None:
        target = harness.make_target()
        target.open()
        target.open()
        target.close()
        target.close()

    def test_write_returns_one_outcome_per_item_in_order(self, harness: TargetHarness) -> None:
        items = harness.items(5)
        with opened(harness.make_target()) as target:
            outcomes = target.write(items)
        assert len(outcomes) == len(items)
        assert all(isinstance(o, Outcome) for o in outcomes)
        assert [o.ok for o in outcomes] == [True] * len(items), [str(o.error) for o in outcomes if o.error]
        try:
            assert sorted(harness.delivered_keys()) == sorted(i.key for i in items)
        except Unsupported:
            pass

    def test_write_of_nothing_returns_nothing(self, harness: TargetHarness) -> None:
        with opened(harness.make_target()) as target:
            assert target.write([]) == []

    def test_refused_record_fails_alone(self, harness: TargetHarness) -> None:
        bad = _supported(harness.rejected_item)
        good = harness.items(2)
        with opened(harness.make_target()) as target:
            outcomes = target.write([good[0], bad, good[1]])
        assert len(outcomes) == 3
        assert outcomes[0].ok and outcomes[2].ok
        assert isinstance(outcomes[1].error, RecordError), f"expected a RecordError, got {outcomes[1].error!r}"
        _assert_no_secret(str(outcomes[1].error), harness.secrets())
        try:
            delivered = harness.delivered_keys()
        except Unsupported:
            return
        assert good[0].key in delivered and good[1].key in delivered and bad.key not in delivered

    def test_transient_failure_is_a_transient_error(self, harness: TargetHarness) -> None:
        # runtime.plugin: a target that writes the items together raises; one that calls its
        # peer per item puts each call's TransientError in that item's Outcome
        failure = _supported(harness.transient_failure)
        with opened(harness.make_target()) as target, failure:
            errors = _transient_errors(target, harness.items(2))
        assert errors and all(isinstance(e, TransientError) for e in errors), errors
        for error in errors:
            _assert_no_secret(str(error), harness.secrets())

    def test_works_again_after_a_failure(self, harness: TargetHarness) -> None:
        failure = _supported(harness.transient_failure)
        items = harness.items(2)
        with opened(harness.make_target()) as target:
            with failure:
                assert _transient_errors(target, items)
            assert all(o.ok for o in target.write(items))

    def test_render_shows_the_payload_without_secrets(self, harness: TargetHarness) -> None:
        item = harness.items(1)[0]
        target = harness.make_target()
        text = target.render(item)
        assert isinstance(text, str) and text.strip()
        _assert_no_secret(text, harness.secrets())
