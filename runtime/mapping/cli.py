"""``koppel test``: run the mapping test cases; a readable diff per failure; exit 1 on any failure."""

from __future__ import annotations

import click


@click.command("test")
@click.argument("names", nargs=-1)
@click.option("-k", "case_filter", help="Only the cases whose name contains this text.")
@click.option("-q", "--quiet", is_flag=True, help="Print only failures and the summary.")
@click.pass_context
def test(ctx: click.Context, names: tuple[str, ...], case_filter: str | None, quiet: bool) -> None:
    """Run the test cases in mappings/tests/ (all, or those of the named mappings).

    Every case maps its input record and compares the result with what it expects: the exact
    output, an error at a field path, or a skip by the mapping's `where`. No system needs to run.
    """
    from runtime.mapping import testing

    report = testing.run(ctx.obj["project"], list(names) or None, case_filter)
    for result in report.results:
        if result.skipped:
            click.echo(f"{click.style('SKIP', fg='yellow')}  {result.mapping} :: {result.case} (expects a contract error; contract not available)")
            continue
        if result.passed:
            if not quiet:
                click.echo(f"{click.style('PASS', fg='green')}  {result.mapping} :: {result.case}")
            continue
        click.echo(f"{click.style('FAIL', fg='red')}  {result.mapping} :: {result.case}")
        for line in result.detail.splitlines():
            style = {"-": "red", "+": "green"}.get(line[:1]) if not line.startswith(("---", "+++")) else None
            click.echo("      " + (click.style(line, fg=style) if style else line))
    for warning in report.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    if report.untested:
        click.secho(f"no test cases: {', '.join(report.untested)}", fg="yellow")
    summary = f"{report.passed} passed, {report.failed} failed"
    if report.skipped:
        summary += f", {report.skipped} skipped"
    click.secho(summary, fg="red" if report.failed else "green", bold=True)
    if report.failed:
        ctx.exit(1)
