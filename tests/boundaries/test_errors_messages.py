"""runtime/errors.py: the class labels the engine and `deadletters --error-class` dispatch on, and
the exact text a user reads (field path first, code last)."""

from __future__ import annotations

import pytest

from runtime.errors import (
    ConfigError,
    ContractError,
    DefinitionError,
    KoppelError,
    MappingError,
    RecordError,
    TransientError,
    classify,
)


@pytest.mark.parametrize("error, label", [
    (ConfigError("x"), "configuration"),
    (DefinitionError([]), "configuration"),
    (TransientError("x"), "transient"),
    (RecordError("x"), "record"),
    (MappingError("x"), "record"),
    (ContractError("x"), "record"),
    (KoppelError("x"), "transient"),     # no branch: like any unexpected exception
])
def test_every_class_has_the_label_the_engine_dispatches_on(error, label):
    assert error.error_class == label
    assert classify(error) == label


def test_labels_are_the_three_that_deadletters_accepts():
    from runtime.engine.cli import dl_list

    choices = next(p for p in dl_list.params if p.name == "error_class").type.choices
    assert set(choices) == {classify(e) for e in (ConfigError("c"), TransientError("t"), RecordError("r"), KoppelError("k"))}


def test_a_subclass_of_a_plugin_keeps_its_branch():
    class SoapFault(RecordError):
        pass

    class Throttled(TransientError):
        pass

    assert classify(SoapFault("f")) == "record" and classify(Throttled("t")) == "transient"


@pytest.mark.parametrize("exc", [ValueError("v"), KeyError("k"), OSError("o"), RuntimeError()])
def test_anything_unexpected_counts_as_transient(exc):
    assert classify(exc) == "transient"


def test_the_message_users_read_has_the_path_first_and_the_code_last():
    assert str(MappingError("unknown code 'X'", path="opleiding.crebo")) == "opleiding.crebo: unknown code 'X'"
    assert str(ContractError("is required", path="student.naam", code="xsd")) == "student.naam: is required [xsd]"
    assert str(RecordError("refused", code="422")) == "refused [422]"
    assert str(RecordError("refused")) == "refused"
    assert str(TransientError("HTTP 503", code="503", retry_after=12.5)) == "HTTP 503 [503]"
    assert str(ConfigError("fix tls.ca_file", code="tls")) == "fix tls.ca_file [tls]"


def test_fields_are_kept_for_the_engine():
    error = RecordError("refused", path="a.b", code="422", detail={"status": 422})
    assert (error.message, error.path, error.code, error.detail) == ("refused", "a.b", "422", {"status": 422})
    assert error.args == ("refused",)
    transient = TransientError("slow down", retry_after=30.0)
    assert transient.retry_after == 30.0 and transient.code is None and transient.detail is None
    assert TransientError("x", detail={"attempt": 2}, code="503").detail == {"attempt": 2}
    assert TransientError("x").retry_after is None
    assert RecordError("x").path is None


def test_a_code_given_per_error_does_not_leak_to_the_class():
    RecordError("one", code="422")
    assert RecordError("two").code is None and KoppelError.code is None


def test_a_definition_error_counts_its_problems_in_words():
    assert str(DefinitionError(["a"])) == "1 problem in the definitions"
    assert str(DefinitionError(["a", "b"])) == "2 problems in the definitions"
    assert str(DefinitionError([])) == "0 problems in the definitions"
    problems = ["a", "b"]
    error = DefinitionError(problems)
    problems.append("c")
    assert error.diagnostics == ["a", "b"]  # a copy: later changes to the list do not show up
