"""One error taxonomy for all of Koppel. The class of an error decides what happens next.

    KoppelError
    ├── ConfigError        the definitions, settings or secrets are wrong: the run stops,
    │   │                  the message names the file and line where known
    │   └── DefinitionError    a list of Diagnostics from loading and validating YAML
    ├── TransientError     worth trying again later (timeout, 5xx, 429, connection refused):
    │                      retried with exponential backoff and jitter, Retry-After honoured
    └── RecordError        this one record cannot be delivered as it is (mapping failure, 4xx,
        │                  contract violation): dead letter at once, the other records go on
        ├── MappingError       the mapping could not turn the source record into a target record
        └── ContractError      the mapped record does not fit the target's contract

Plugins raise these classes; the engine dispatches on the class, never on message text.
Messages must never carry a secret or a BSN: build them from field paths and codes, not values.
"""

from __future__ import annotations

from typing import Any


class KoppelError(Exception):
    """Base of every error Koppel raises on purpose."""

    #: machine-readable code, e.g. a SOAP fault code (``Server.DK0051``) or an HTTP status
    code: str | None = None

    def __init__(self, message: str, *, code: str | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.detail = detail

    @property
    def error_class(self) -> str:
        """The taxonomy branch, as stored with deliveries and dead letters.

        A bare KoppelError (or a subclass outside the three branches) is "transient", as any
        unexpected exception is (``classify``): retried, then kept as a dead letter. It used to be
        "error", a class that neither the engine nor ``deadletters --class`` knows.
        """
        for cls in type(self).__mro__:
            if cls in _CLASS_NAMES:
                return _CLASS_NAMES[cls]
        return "transient"

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]" if self.code else self.message


class ConfigError(KoppelError):
    """Something the user must fix in YAML, settings or secrets; retrying cannot help."""


class DefinitionError(ConfigError):
    """Loading or validating the definitions found problems; carries all of them."""

    def __init__(self, diagnostics: list) -> None:
        self.diagnostics = list(diagnostics)
        n = len(self.diagnostics)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the definitions")


class TransientError(KoppelError):
    """A temporary failure. ``retry_after`` (seconds) is the peer's own hint, if it gave one."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        detail: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, detail=detail)
        self.retry_after = retry_after


class RecordError(KoppelError):
    """One record cannot be delivered as it is. ``path`` is the dotted field path, if known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        code: str | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message, code=code, detail=detail)
        self.path = path

    def __str__(self) -> str:
        base = super().__str__()
        return f"{self.path}: {base}" if self.path else base


class MappingError(RecordError):
    """The mapping failed on this record (missing value, unknown code, bad date, ...)."""


class ContractError(RecordError):
    """The mapped record violates the target's declared shape (JSON Schema, XSD, OpenAPI)."""


_CLASS_NAMES = {ConfigError: "configuration", TransientError: "transient", RecordError: "record"}


def classify(exc: BaseException) -> str:
    """The taxonomy branch of any exception; unknown exceptions count as transient.

    An unexpected exception is most often a bug or an outage in a peer. Treating it as transient
    means it is retried and, once the attempts run out, kept as a dead letter: never lost.
    """
    if isinstance(exc, KoppelError):
        return exc.error_class
    return "transient"
