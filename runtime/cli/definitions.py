"""Commands about the definitions themselves: validate, schema, catalog, docs, plugins."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from runtime.cli.output import format_option


def _project_root(ctx: click.Context) -> Path:
    return ctx.obj["project"]


@click.command()
@click.option("--quiet", "-q", is_flag=True, help="Print only the problems.")
@click.option("--no-cache", is_flag=True,
              help="Validate even if nothing changed since the last run (whose verdict is kept otherwise); "
                   "each file's parse is still kept by its content. KOPPEL_VALIDATE_CACHE=off keeps nothing.")
@format_option(help="json: one object with every problem (file, line, column, path, message).")
@click.pass_context
def validate(ctx: click.Context, quiet: bool, no_cache: bool, as_json: bool) -> None:
    """Check every definition before anything runs.

    YAML syntax and duplicate keys, the schema, cross-references between catalog.yaml,
    interfaces/ and mappings/, systems, plugin types, operations in contracts, cron
    expressions, JMESPath expressions and secret references. All problems are reported
    together as FILE:LINE:COL: PATH: MESSAGE; the exit code is 1 if there is any.

    The verdict is kept (runtime/cli/validate_cache.py): run again on the same files, plugins and
    Koppel, it is printed without validating again. So is each file's parse, by its content:
    after an edit, only the edited file is parsed again.
    """
    import gc

    from runtime.cli import end_without_teardown
    from runtime.diagnostics import Diagnostic
    from runtime.gcpause import paused_gc

    # validating imports pydantic, the models and every plugin and loads the whole project: the
    # collections on the way (some 150, one over everything) were a tenth of an edited project's
    # validate, measured. Frozen before the collector resumes, as koppel run's start-up is
    # (runtime/engine/cli.py): else its first collection walks every object made meanwhile, all
    # still young (0.1-0.15 s of an edited project's validate, measured), for no garbage
    with paused_gc():
        try:
            verdict = _verdict(_project_root(ctx), use_cache=not no_cache)
        finally:
            gc.freeze()
            ctx.call_on_close(gc.unfreeze)  # an in-process caller (tests) gets its collector back
    # what it writes is written (the verdict and the parses by os.replace, the report by click.echo,
    # flushed at the end): the interpreter's teardown (a last collection over the ~50 MB of
    # pydantic's, the plugins' and the project's objects, then freeing them one by one) was a fifth
    # of an edited project's validate, measured. Only for the process's own command line.
    end_without_teardown()
    if as_json:
        click.echo(json.dumps({"ok": not verdict["problems"], "problems": verdict["problems"],
                               "warnings": verdict["warnings"], "interfaces": verdict["interfaces"],
                               "wakes": verdict["wakes"]}, ensure_ascii=False))
        ctx.exit(1 if verdict["problems"] else 0)
    diagnostics = [Diagnostic(**d) for d in verdict["problems"]]
    for warning in verdict["warnings"]:  # reported, but not a reason to refuse the definitions
        click.secho(f"warning: {Diagnostic(**warning)}", fg="yellow")
    for diagnostic in diagnostics:
        click.echo(str(diagnostic))
    if diagnostics:
        n = len(diagnostics)
        click.secho(f"{n} problem{'s' if n != 1 else ''} found", fg="red", err=True)
        ctx.exit(1)
    if not quiet:
        click.secho(
            f"ok: {len(verdict['interfaces'])} interfaces ({verdict['active']} active), "
            f"{verdict['systems']} systems, {verdict['mappings']} mappings",
            fg="green",
        )
        for line in wakeup_lines(verdict["wakes"]):
            click.echo(line)


def _verdict(root: Path, use_cache: bool) -> dict:
    """What validate reports on the project at ``root``: kept from the last run when nothing it
    reads has changed, else validated (and kept, when the cache can vouch for it)."""
    from runtime.cli import validate_cache as cache

    if not cache.enabled():
        return _validated(root)
    if not use_cache:
        cache.use_artifacts(root)  # each file's parse kept by its bytes: after an edit only that one is parsed
        return _validated(root)
    fingerprint = cache.Fingerprint(root)
    kept = cache.load(root, fingerprint)
    if kept is not None:
        return kept  # printed without the parses: not even PyYAML imported
    cache.use_artifacts(root)
    with cache.recording() as seen:
        verdict = _validated(root)
    cache.store(root, fingerprint, seen, verdict)
    return verdict


def _validated(root: Path) -> dict:
    """Load and check the whole project; the verdict as plain data (what the cache keeps)."""
    from runtime.project import load_project

    project = load_project(root)
    return {
        "problems": [asdict(d) for d in sorted(project.diagnostics)],
        "warnings": [asdict(d) for d in sorted(project.warnings)],
        "interfaces": sorted(project.interfaces),
        "active": sum(1 for i in project.interfaces.values() if i.status == "active"),
        "systems": len(project.catalog.systems) if project.catalog else 0,
        "mappings": len(list((project.root / "mappings").glob("*.yaml"))),
        "wakes": _wakeups(project),
    }


def wakeup_lines(wakes: dict[str, dict[str, list[str]]]) -> list[str]:
    """The text form: one line per outbox interface, named objects first, then the included ones."""
    if not wakes:
        return []
    lines = ["what wakes each realtime interface (changes in the outbox of):"]
    for iid, reasons in wakes.items():
        named = [o for o, why in reasons.items() if any(not w.startswith("included") for w in why)]
        included = [o for o in reasons if o not in named]
        tail = f"; included by its source: {', '.join(included)}" if included else ""
        lines.append(f"  {iid:>2}  {', '.join(named)}{tail}")
    return lines


def _wakeups(project) -> dict[str, dict[str, list[str]]]:
    """Outbox interface → SIS object → why a change of it wakes the interface (runtime/engine/realtime.py)."""
    from runtime.engine.realtime import explain_wakeups

    return {str(iid): reasons for iid, reasons in explain_wakeups(project).items()}


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="schemas",
    show_default=True,
    help="Folder for the JSON Schema files (relative to the project).",
)
@click.pass_context
def schema(ctx: click.Context, out: str) -> None:
    """Write JSON Schema files for interface, mapping and catalog files.

    The YAML files point to them with a `# yaml-language-server: $schema=...` line, so an
    editor with the YAML language server completes and checks as you type.
    """
    from runtime.diagnostics import relative
    from runtime.schemas import write_schemas

    folder = _project_root(ctx) / out
    for path in write_schemas(folder):
        click.echo(f"wrote {relative(path, _project_root(ctx))}")


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown", "mermaid"]),
    default="table",
    show_default=True,
)
@click.pass_context
def catalog(ctx: click.Context, fmt: str) -> None:
    """Print the college's interface overview from catalog.yaml."""
    from runtime import catalog_render
    from runtime.project import load_project

    project = load_project(_project_root(ctx))
    if project.catalog is None:
        project.require_valid()
    render = {
        "table": catalog_render.table,
        "json": lambda p: json.dumps(catalog_render.as_json(p), ensure_ascii=False, indent=2),
        "markdown": catalog_render.markdown,
        "mermaid": catalog_render.mermaid,
    }[fmt]
    click.echo(render(project))


@click.command()
@click.option("--out", type=click.Path(file_okay=False), default="docs", show_default=True)
@click.pass_context
def docs(ctx: click.Context, out: str) -> None:
    """Write docs/: the catalogue in Markdown and the architecture diagram (Mermaid).

    Both are generated from catalog.yaml and the interface files, so the overview and its
    picture cannot drift apart.
    """
    from runtime import catalog_render
    from runtime.project import load_project

    root = _project_root(ctx)
    project = load_project(root)
    project.require_valid()
    folder = root / out
    folder.mkdir(parents=True, exist_ok=True)
    from runtime.diagnostics import relative

    for name, text in catalog_render.documents(project).items():
        (folder / name).write_text(text, encoding="utf-8")
        click.echo(f"wrote {relative(folder / name, root)}")


@click.command()
def plugins() -> None:
    """List the registered plugins (entry-point group koppel.plugins) and their roles."""
    from runtime.registry import registry

    for plugin in registry():
        click.echo(f"{plugin.type:<10} {'/'.join(plugin.roles):<14} {plugin.description}")
