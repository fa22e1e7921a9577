"""``koppel new interface``: start a new interface from a skeleton that validates at once."""

from __future__ import annotations

import re

import click

from runtime.cli.scaffold import SOURCES, TARGETS, Scaffold, add_to_catalog


@click.group()
def new() -> None:
    """Write skeletons of new definitions."""


@new.command("interface")
@click.argument("number", type=click.IntRange(min=0))
@click.argument("name")
@click.option("--source", "source", type=click.Choice(SOURCES), default="sis", show_default=True)
@click.option("--target", "target", type=click.Choice(TARGETS), default="rest", show_default=True)
@click.option("--system", default=None, help="The other system (a key of catalog.yaml's systems); default NAME.")
@click.option("--object", "sis_object", default="student", show_default=True, help="The SIS object it moves.")
@click.pass_context
def new_interface(ctx: click.Context, number: int, name: str, source: str, target: str, system: str | None,
                  sis_object: str) -> None:
    """Write interface NUMBER (NAME in lower case with dashes): the interface file, a mapping with
    test cases, its catalog row and, if the system is new, the system. Then: koppel validate."""
    from runtime.yamlsource import YamlProblem, load_file

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise click.BadParameter("lower-case letters, digits and dashes, e.g. sis-bibliotheek", param_hint="NAME")
    if source != "sis" and target != "sis":
        raise click.UsageError("one side of an interface is the SIS: --source sis or --target sis")
    root = ctx.obj["project"]
    from runtime.sis.models import OBJECTS, natural_key

    if sis_object not in OBJECTS:
        raise click.BadParameter(f"unknown SIS object '{sis_object}'; known: {', '.join(sorted(OBJECTS))}",
                                 param_hint="--object")
    scaffold = Scaffold(number, name, source, target, system or name.removeprefix("sis-"), sis_object,
                        tuple(natural_key(sis_object)))
    catalog_path = root / "catalog.yaml"
    try:
        catalog = load_file(catalog_path, "catalog.yaml").data or {}
    except YamlProblem as exc:
        raise click.ClickException(f"fix catalog.yaml first: {exc}") from exc
    if any(isinstance(row, dict) and row.get("id") == number for row in catalog.get("interfaces") or []):
        raise click.ClickException(f"catalog.yaml has interface {number} already")
    files = {root / scaffold.interface_file: scaffold.interface_yaml(),
             root / "mappings" / f"{scaffold.mapping}.yaml": scaffold.mapping_yaml(),
             root / "mappings" / "tests" / f"{scaffold.mapping}.yaml": scaffold.tests_yaml()}
    existing = [p for p in files if p.exists()] + list((root / "interfaces").glob(f"{number:02d}-*.yaml"))
    if existing:
        raise click.ClickException(f"{existing[0].relative_to(root)} exists already; nothing written")
    new_system = scaffold.system not in (catalog.get("systems") or {})
    updated = add_to_catalog(catalog_path.read_text(encoding="utf-8"), scaffold, new_system)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path.relative_to(root)}")
    catalog_path.write_text(updated, encoding="utf-8")
    click.echo(f"added interface {number}" + (f" and system '{scaffold.system}'" if new_system else "")
               + " to catalog.yaml")
    click.echo(f"next: koppel validate; koppel test {scaffold.mapping}; koppel dry-run {number} --from-start")
