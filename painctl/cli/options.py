"""Options shared by several stages, declared once so they read the same everywhere."""

from __future__ import annotations

import click

from painctl.shard import Shard, parse_shard


def _shard_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Shard:
    try:
        return parse_shard(value)
    except Exception as exc:  # parse_shard raises PainctlError; report it as a usage error
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf (which every comparison lets through)."""

    name = "finite float range"

    def convert(self, value, param, ctx):
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


seed_option = click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
                           help="Random seed, 0..4294967295 (2**32-1); same seed, same bytes.")
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


# ViTPain optimisation and model options, shared by `painctl train` and `painctl eval` so the two
# can never drift apart in names or defaults.
_TRAINING_OPTIONS = (
    click.option("--epochs", default=10, show_default=True, type=click.IntRange(min=1)),
    click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1)),
    click.option("--lr-heads", default=1e-4, show_default=True, type=FiniteFloatRange(min=0, min_open=True),
                 help="AdamW learning rate of the fusion and heads."),
    click.option("--lr-lora", default=None, type=FiniteFloatRange(min=0, min_open=True),
                 help="Learning rate of the backbone's trainable part (LoRA; the whole tiny backbone). [default: 1e-5; tiny: --lr-heads]"),
    click.option("--weight-decay", default=0.1, show_default=True, type=FiniteFloatRange(min=0)),
    click.option("--au-weight", default=None, type=FiniteFloatRange(min=0), help="Weight of the AU loss. [default: 0.1 on UNBC-McMaster, else 1.0]"),
    click.option("--weighted-sampling/--no-weighted-sampling", default=None,
                 help="Sample PSPI >= 1 frames twice as often. [default: on for UNBC-McMaster]"),
    click.option("--image-size", default=None, type=click.IntRange(min=16), help="Input side in pixels, a multiple of 16. [default: 64 tiny, 224 otherwise]"),
    click.option("--lora-r", default=8, show_default=True, type=click.IntRange(min=1)),
    click.option("--lora-alpha", default=16, show_default=True, type=click.IntRange(min=1)),
    click.option("--lora-targets", default="q_proj,v_proj", show_default=True, help="Comma-separated attention projections that get LoRA."),
    click.option("--num-workers", default=0, show_default=True, type=click.IntRange(min=0), help="Data-loading worker processes."),
    click.option("--no-amp", is_flag=True, help="No mixed precision on CUDA."),
)


def training_options(function):
    """Add the shared ViTPain training options (epochs, learning rates, LoRA, ...) to a command."""
    for option in reversed(_TRAINING_OPTIONS):
        function = option(function)
    return function
