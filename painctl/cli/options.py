"""Options shared by several stages, declared once so they read the same everywhere."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from painctl.artefact.shard import Shard, parse_shard
from painctl.errors import BadValue


def _shard_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Shard:
    try:
        return parse_shard(value)
    except BadValue as exc:  # a usage error; click names the option itself
        raise click.BadParameter(exc.detail, ctx=ctx, param=param) from None


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
big_ok_option = click.option("--i-know-it-is-big", "big_ok", is_flag=True,
                             help="Run even when the output is estimated not to fit on the disk, or the work in memory.")
shard_option = click.option(
    "--shard",
    metavar="K/N",
    default=None,
    callback=_shard_callback,
    help="Do only the K-th (1-based) of N equal parts of the work, e.g. for a job array; join with 'painctl merge'.",
)
def source_name(path: str) -> str:
    """The name a default output is called after: the last part of ``path`` without a file's suffix
    ('unbc/' -> 'unbc', 'img/a.png' -> 'a', '-' -> 'stdin')."""
    if path == "-":
        return "stdin"
    p = Path(path)
    name = (p.name if p.name not in ("", ".", "..") else p.resolve().name) or "data"
    return p.stem if p.is_file() and p.stem else name


def fresh_output(source: str, what: str, suffix: str = "", today: date | None = None) -> Path:
    """A path in the working directory that nothing occupies, named after ``source``, ``what`` and today's
    date: ``unbc-eval-2026-12-01`` (``suffix`` '.csv' for a file), then ``...-2``, ``...-3``: a default output
    never replaces an existing one."""
    stem = f"{source_name(source)}-{what}-{(today or date.today()).isoformat()}"
    candidate, n = Path(stem + suffix), 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = Path(f"{stem}-{n}{suffix}")
    return candidate


def pick_out(positional: str | None, option: str | None) -> str | None:
    """OUT given as the old positional argument or as --out (at most one of them, or both the same)."""
    if positional is not None and option is not None and positional != option:
        raise click.UsageError(f"OUT given twice ({positional} and --out {option}); give one")
    return option if option is not None else positional


out_option = click.option("--out", "out_option", metavar="DIR", default=None, help="Where to write (default: a new directory named after the data and today's date).")
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
    click.option("--no-augment", is_flag=True,
                 help="No training augmentation (shared crop/flip/rotation, per-image colour jitter); the tiny backbone learns "
                      "small synthetic data sets only without it."),
)


def training_options(function):
    """Add the shared ViTPain training options (epochs, learning rates, LoRA, ...) to a command."""
    for option in reversed(_TRAINING_OPTIONS):
        function = option(function)
    return function
