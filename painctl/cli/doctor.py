"""`painctl doctor`: what this machine can run, and the line that fixes each missing part."""

import json

import click


@click.command("doctor")
@click.option("--model", "models", multiple=True, metavar="KIND=PATH",
              help="Look for a model here (a directory or Hub id) instead of the usual Hub ids; KIND is prior, controlnet, "
                   "inpaint, hunyuan or dinov3. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of the report.")
def doctor(models: tuple[str, ...], as_json: bool) -> None:
    """Report what this machine can run: the EGL renderer and its GL_RENDERER string, CUDA and its
    devices, the optional backends (PyTorch3D, accelerate, Hunyuan3D) and weights (Kandinsky 2.2,
    Hunyuan3D, DINOv3: in the Hugging Face cache or where --model points), the anny cache and free
    disk. Each missing part is followed by the line that installs it or points painctl to it.

    Exits 0 when the embedded defaults (anny head, EGL renderer, tiny ViTPain) work, 1 otherwise.

    \b
    Examples:
      painctl doctor
      painctl doctor --model dinov3=/data/dinov3-vitb16 --json
    """
    from painctl.diagnostics import defaults_work, format_report, report_dict, run_checks

    given = {}
    for item in models:
        kind, sep, path = item.partition("=")
        if not sep or not kind or not path:
            raise click.BadParameter(f"{item!r} is not KIND=PATH", param_hint="--model")
        given[kind.strip()] = path
    checks = run_checks(given)
    if as_json:
        click.echo(json.dumps(report_dict(checks), indent=2))
    else:
        click.echo(format_report(checks), nl=False)
    if not defaults_work(checks):
        raise SystemExit(1)
