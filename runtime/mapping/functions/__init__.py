"""The function library of mapping expressions.

Every function is a plain Python callable registered with ``@function``. The compiler calls them
directly; the JMESPath interpreter (used for the shapes the compiler does not translate) reaches
them through :class:`KoppelFunctions`. A function signals a bad input by raising
:class:`FunctionError` with a reason that never contains the input value (it may be a BSN).

Conventions every function follows, so integration specialists can rely on them:
- ``null`` in, ``null`` out: a function whose main input is null returns null (use ``default:``
  or ``coalesce()`` to fill it), except where its documentation says otherwise.
- Dates come out as ISO 8601 strings; naive date-times are read in Europe/Amsterdam.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jmespath.functions
from jmespath import exceptions as jexc


class FunctionError(ValueError):
    """A function could not work on its input. The message must not contain the input value."""


@dataclass(frozen=True)
class FunctionDef:
    name: str
    func: Callable[..., Any]
    min_args: int
    max_args: int | None  # None: any number (variadic)
    category: str
    #: takes the mapping's context (value maps, the root record) as a hidden first argument
    contextual: bool = False

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    @property
    def usage(self) -> str:
        params = []
        for p in list(inspect.signature(self.func).parameters.values())[1 if self.contextual else 0 :]:
            if p.kind is p.VAR_POSITIONAL:
                params.append(f"{p.name}...")
            elif p.default is not p.empty:
                params.append(f"[{p.name}]")
            else:
                params.append(p.name)
        return f"{self.name}({', '.join(params)})"

    def check_arity(self, count: int) -> str | None:
        """A reason when ``count`` arguments do not fit this function, else None."""
        if count < self.min_args:
            return f"{self.usage} needs at least {self.min_args} argument(s), got {count}"
        if self.max_args is not None and count > self.max_args:
            return f"{self.usage} takes at most {self.max_args} argument(s), got {count}"
        return None


FUNCTIONS: dict[str, FunctionDef] = {}


def function(name: str, category: str, contextual: bool = False) -> Callable[[Callable], Callable]:
    """Register ``func`` as the expression function ``name``."""

    def register(func: Callable) -> Callable:
        params = list(inspect.signature(func).parameters.values())[1 if contextual else 0 :]
        required = sum(1 for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD)
        variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
        if name in FUNCTIONS or name in BUILTIN_NAMES:
            raise RuntimeError(f"expression function '{name}' registered twice")
        FUNCTIONS[name] = FunctionDef(
            name, func, required, None if variadic else len(params), category, contextual
        )
        return func

    return register


#: JMESPath's own functions (length, join, to_string, ...), available in every expression
BUILTIN_NAMES: frozenset[str] = frozenset(jmespath.functions.Functions.FUNCTION_TABLE)


class KoppelFunctions(jmespath.functions.Functions):
    """JMESPath's built-in functions plus Koppel's library, for the interpreter fallback.

    ``context`` is the compiled mapping's context (value maps, root record), handed to the
    functions registered as contextual.
    """

    def __init__(self, context: Any = None) -> None:
        self.context = context

    def call_function(self, function_name: str, resolved_args: list) -> Any:
        spec = FUNCTIONS.get(function_name)
        if spec is None:
            return super().call_function(function_name, resolved_args)
        reason = spec.check_arity(len(resolved_args))
        if reason:
            raise FunctionError(reason)
        if spec.contextual:
            return spec.func(self.context, *resolved_args)
        return spec.func(*resolved_args)


_BUILTINS = KoppelFunctions()


def call_builtin(name: str, args: list) -> Any:
    """Call one of JMESPath's own functions with its type checks."""
    return _BUILTINS.call_function(name, args)


def safe_reason(exc: BaseException) -> str:
    """A reason for ``exc`` that names types, never the value that caused it."""
    if isinstance(exc, FunctionError):
        return str(exc)
    if isinstance(exc, jexc.JMESPathTypeError):
        expected = " or ".join(exc.expected_types)
        return f"{exc.function_name}(): expected {expected}, got {exc.actual_type}"
    if isinstance(exc, jexc.ArityError):
        return str(exc)
    if isinstance(exc, jexc.UnknownFunctionError):
        return str(exc)
    return f"{type(exc).__name__} while evaluating the expression"


def all_functions() -> dict[str, FunctionDef]:
    """Every registered function, importing the library modules on first use."""
    from runtime.mapping.functions import dates, ids, text, values  # noqa: F401  (they register)

    return FUNCTIONS


all_functions()
