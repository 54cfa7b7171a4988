"""Options shared by several stages, declared once so they read the same everywhere."""

from __future__ import annotations

import click

from painctl.shard import Shard, parse_shard


def _shard_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Shard:
    try:
        return parse_shard(value)
    except Exception as exc:  # parse_shard raises PainctlError; report it as a usage error
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Random seed; same seed, same bytes.")
force_option = click.option("--force", is_flag=True, help="Replace OUT if it exists with other parameters.")
shard_option = click.option(
    "--shard",
    metavar="K/N",
    default=None,
    callback=_shard_callback,
    help="Do only the K-th (1-based) of N equal parts of the work, e.g. for a job array; join with 'painctl merge'.",
)
in_argument = click.argument("in_path", metavar="IN", type=str)
out_argument = click.argument("out", metavar="OUT", type=str)
