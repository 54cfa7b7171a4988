"""`painctl merge`: one artefact over shard artefacts, without copying."""

import click

from painctl.cli.options import force_option


@click.command()
@click.argument("out", metavar="OUT")
@click.argument("shards", metavar="SHARD...", nargs=-1, required=True)
@force_option
def merge(out: str, shards: tuple[str, ...], force: bool) -> None:
    """Join SHARD artefacts (from --shard K/N runs) into OUT.

    OUT's data.h5 holds HDF5 virtual datasets that read the shards in place, so keep the shards
    next to OUT (relative paths are stored). Shards must share stage and parameters.

    \b
    Example:
      for k in 1 2 3 4; do painctl sample-mesh -n 2500 --shard $k/4 part$k/; done
      painctl merge heads/ part1/ part2/ part3/ part4/
    """
    from painctl.stages.merge import merge

    merge(out, shards, force=force)
