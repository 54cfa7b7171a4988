"""`painctl inspect`: what an artefact holds."""

import json

import click


@click.command("inspect")
@click.argument("art", metavar="ART")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of tables.")
def inspect_cmd(art: str, as_json: bool) -> None:
    """Show what artefact ART holds: stage, parameters, inputs, datasets and label counts.

    ART may be '-' to read an artefact streamed on stdin.

    \b
    Example:
      painctl inspect heads/
      painctl sample-mesh -n 8 - | painctl inspect --json -
    """
    from painctl.artefact import open_artefact
    from painctl.artefact.describe import describe

    info = describe(open_artefact(art))
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    _print_tables(info)


def _print_tables(info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False)
    out.print(f"[bold]{info['path']}[/bold]: {info['stage']} artefact, {info['rows']} rows")
    out.print(f"painctl {info['painctl_version']}, schema {info['schema_version']}, created {info['created']}")
    out.print(f"digest {info['digest']}")
    for inp in info["inputs"]:
        out.print(f"input {inp.get('stage')} {inp.get('path')} ({inp.get('digest', '')[:12]})")
    if info["params"]:
        table = Table("parameter", "value", title="parameters", title_justify="left")
        for key, value in sorted(info["params"].items()):
            table.add_row(key, json.dumps(value))
        out.print(table)
    if info["attributes"]:
        table = Table("attribute", "value", title="attributes", title_justify="left")
        for key, value in sorted(info["attributes"].items()):
            table.add_row(key, str(value) if len(str(value)) < 200 else str(value)[:197] + "...")
        out.print(table)
    table = Table("dataset", "shape", "dtype", title="datasets", title_justify="left")
    for name, d in sorted(info["datasets"].items()):
        table.add_row("/" + name, "x".join(map(str, d["shape"])) or "scalar", d["dtype"] + (" (virtual)" if d["virtual"] else ""))
    out.print(table)
    for name, counts in info["counts"].items():
        table = Table(name, "count", title=f"counts per {name}", title_justify="left")
        for value, count in counts.items():
            table.add_row(value, str(count))
        out.print(table)
