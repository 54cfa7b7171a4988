"""`painctl convert-checkpoint`: the authors' released ViTPain (Lightning .ckpt) as a painctl checkpoint."""

from __future__ import annotations

from pathlib import Path

import click

from painctl.cli.options import big_ok_option


@click.command("convert-checkpoint")
@click.argument("ckpt", metavar="CKPT", type=click.Path(path_type=Path))
@click.argument("out", metavar="OUT", type=click.Path(path_type=Path))
@click.option("--image-size", default=224, show_default=True, type=click.IntRange(min=16), help="Input side the model was trained at (theirs: 224).")
@click.option("--force", is_flag=True, help="Replace OUT if painctl wrote it (a checkpoint this command converted).")
@big_ok_option
def convert_checkpoint(ckpt, out, image_size, force, big_ok):
    """Convert the authors' ViTPain checkpoint CKPT (PyTorch Lightning .ckpt from Hugging Face
    xinlei55555/ViTPain, e.g. vitpain-epoch=141-val_regression_mae=1.859.ckpt) into the painctl
    checkpoint directory OUT, for 'painctl predict' and 'painctl eval --checkpoint'.

    The file is read with torch.load(weights_only=True): a file that would run code is refused.
    LoRA is merged into the DINOv3 weights; the result records that it was trained with the
    authors' forward pass, which --forward authors reproduces.

    \b
      painctl convert-checkpoint vitpain-epoch=141-val_regression_mae=1.859.ckpt vitpain-authors/
      painctl predict -c vitpain-authors/ --forward authors -n neutral.png pain.png
    """
    from painctl.stages.convert_checkpoint import convert_checkpoint as convert

    click.echo(str(convert(ckpt, out, image_size=image_size, force=force, big_ok=big_ok)))
