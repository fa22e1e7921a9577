"""The ``koppel`` command. Subcommands live in their own modules and are imported only when
used, so ``koppel validate`` does not pay for SQLAlchemy, zeep or uvicorn.

This is the single error boundary: a KoppelError becomes a clear message and exit code 1;
a traceback appears only with ``--debug``.
"""

from __future__ import annotations

import importlib

import click

from runtime.cli import exitcodes
from runtime.errors import DefinitionError, KoppelError

#: command name → "module:attribute"
COMMANDS = {
    "validate": "runtime.cli.definitions:validate",
    "schema": "runtime.cli.definitions:schema",
    "catalog": "runtime.cli.definitions:catalog",
    "docs": "runtime.cli.definitions:docs",
    "plugins": "runtime.cli.definitions:plugins",
    "sis": "runtime.sis.cli:sis",
    "test": "runtime.mapping.cli:test",
    "run": "runtime.engine.cli:run",
    "dry-run": "runtime.engine.cli:dry_run",
    "runs": "runtime.engine.cli:runs",
    "deadletters": "runtime.engine.cli:deadletters",
    "audit": "runtime.cli.audit:audit",
    "state": "runtime.cli.state:state",
    "purge": "runtime.cli.state:purge",
    "serve": "runtime.engine.cli:serve",
    "sandbox": "sandbox.cli:sandbox",
    "demo": "sandbox.demo:demo",
    "new": "runtime.cli.new:new",
}


#: commands a plugin ships ("koppel sbb" with the soap plugin) come through this entry-point group,
#: as the plugins themselves do, so this module names none of them; a built-in name wins
COMMAND_GROUP = "koppel.commands"


def commands() -> dict[str, str]:
    """command name → "module:attribute": the built-ins and the plugins' (not imported yet)."""
    from importlib.metadata import entry_points

    return {**{ep.name: ep.value for ep in entry_points(group=COMMAND_GROUP)}, **COMMANDS}


#: set by a command whose process may end without the interpreter's teardown (see LazyGroup.main)
_end_without_teardown = False


def end_without_teardown() -> None:
    """For ``koppel run``: once the command is done, its process may end straight away. The
    interpreter's teardown (a last collection over the ~500k objects of SQLAlchemy, psycopg, the
    project's models, then freeing them one by one) took 100-200 ms of every run, measured. Only
    for the process's own command line: an in-process caller (tests) ends nothing."""
    global _end_without_teardown
    _end_without_teardown = True


def _exit_now(code: str | int | None) -> None:
    """``sys.exit(code)`` without the teardown: atexit handlers (logging, tracing) run, the
    standard streams are flushed, then the process ends. Falls back to the usual exit while a
    non-daemon thread still runs (the interpreter would wait for it)."""
    import atexit
    import os
    import sys
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


class LazyGroup(click.Group):
    def main(self, args=None, *rest, **kwargs):  # type: ignore[override]
        if args is not None or not kwargs.get("standalone_mode", True):
            return super().main(args, *rest, **kwargs)
        try:
            return super().main(args, *rest, **kwargs)
        except SystemExit as exc:
            if not _end_without_teardown:
                raise
            _exit_now(exc.code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(commands())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name) or commands().get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return _unavailable(name)
            raise
        return getattr(module, attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DefinitionError as exc:
            for d in exc.diagnostics:
                click.echo(str(d), err=True)
            click.secho(f"koppel: {exc}", fg="red", err=True)
            _maybe_traceback(ctx)
            ctx.exit(exitcodes.FAILURE)
        except KoppelError as exc:
            from runtime import redact

            click.secho(f"koppel: {redact.text(str(exc))}", fg="red", err=True)
            _maybe_traceback(ctx)
            ctx.exit(exitcodes.FAILURE)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # `koppel runs | head`: the reader has all it wanted
            from runtime.cli.output import quiet_broken_pipe

            quiet_broken_pipe()
            ctx.exit(exitcodes.OK)
        except Exception as exc:  # a bug: say so plainly, the traceback only on --debug
            from runtime import redact

            click.secho(
                f"koppel: unexpected {type(exc).__name__}: {redact.text(str(exc))} "
                "(this is a bug in Koppel; --debug shows where)",
                fg="red",
                err=True,
            )
            _maybe_traceback(ctx)
            ctx.exit(exitcodes.FAILURE)


def _maybe_traceback(ctx: click.Context) -> None:
    if ctx.find_root().params.get("debug"):
        import traceback

        traceback.print_exc()


def _unavailable(name: str) -> click.Command:
    @click.command(name=name, help="(not available in this installation)")
    def command() -> None:
        raise click.ClickException(f"'koppel {name}' is not available in this installation")

    return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=exitcodes.HELP)
@click.version_option(package_name="koppel", prog_name="koppel", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option(
    "--project",
    type=click.Path(file_okay=False, exists=True),
    envvar="KOPPEL_PROJECT",
    default=".",
    show_default=True,
    help="Project folder holding catalog.yaml, interfaces/ and mappings/.",
)
@click.option(
    "--env",
    "environment",
    type=click.Choice(["sandbox", "acceptatie", "productie"]),
    envvar="KOPPEL_ENV",
    default="sandbox",
    show_default=True,
    help="Which connection settings to use.",
)
@click.pass_context
def main(ctx: click.Context, debug: bool, project: str, environment: str) -> None:
    """Koppel: the college's SIS interfaces, declared in YAML, validated, tested and run."""
    from pathlib import Path

    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["project"] = Path(project).resolve()
    ctx.obj["environment"] = environment
    # runtime.settings.environment() and the mapping functions read KOPPEL_ENV: --env must win
    import os

    previous = os.environ.get("KOPPEL_ENV")
    os.environ["KOPPEL_ENV"] = environment
    ctx.call_on_close(  # restored afterwards, so an in-process caller (tests) is not changed
        lambda: os.environ.pop("KOPPEL_ENV", None) if previous is None else os.environ.update(KOPPEL_ENV=previous)
    )
