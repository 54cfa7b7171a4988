"""`painctl train`: train ViTPain on labelled face data and keep the best epoch's checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

import click

from painctl.cli.options import FiniteFloatRange, force_option, seed_option, training_options


@click.command("train")
@click.argument("data", nargs=-1, required=True, metavar="DATA...")
@click.argument("out", metavar="OUT")
@click.option("--backbone", default="tiny", show_default=True, metavar="NAME",
              help="'tiny' (embedded small DINOv3, randomly initialised and TRAINED IN FULL, not frozen; runs anywhere), "
                   "or a Hugging Face id / local directory of a DINOv3 or DINOv2 model (frozen, with LoRA; read from the "
                   "local cache only, never downloaded).")
@click.option("--no-reference", is_flag=True, help="Single-image variant: no neutral reference encoder.")
@click.option("--input", "input_kind", type=click.Choice(["rgb", "heatmap"]), default="rgb", show_default=True,
              help="'heatmap' trains a heatmap teacher (single-image) on the data's pain-region heatmaps.")
@click.option("--teacher", type=click.Path(path_type=Path), metavar="CKPT", help="Heatmap-teacher checkpoint to distil into this RGB model.")
@click.option("--distill-weight", default=1.0, show_default=True, type=FiniteFloatRange(min=0), help="Weight of the distillation loss.")
@click.option("--init", type=click.Path(path_type=Path), metavar="CKPT", help="Start from this checkpoint (e.g. synthetic-pretrained) and fine-tune.")
@click.option("--val-fraction", default=0.2, show_default=True, type=FiniteFloatRange(0, 1, max_open=True),
              help="Fraction of DATA's subjects held out (by subject) to select the best epoch; 0 keeps the last epoch.")
@click.option("--split-csv", type=click.Path(path_type=Path), metavar="FILE",
              help="3D-Pain trees: train on the 'train' and select on the 'val' base names of this split file "
                   "(columns annotation_base_name,split; the authors' 70/20/10 file); replaces --val-fraction.")
@click.option("--shots", default=1, show_default=True, type=click.IntRange(min=1), help="Neutral references averaged in validation.")
@training_options
@seed_option
@force_option
@click.option("--i-know-it-is-big", "big_ok", is_flag=True, help="Train even when a step is estimated not to fit in memory.")
def train(data, out, backbone, no_reference, input_kind, teacher, distill_weight, init, epochs, batch_size, lr_heads, lr_lora,
          weight_decay, au_weight, weighted_sampling, val_fraction, split_csv, image_size, lora_r, lora_alpha, lora_targets, shots,
          num_workers, no_amp, no_augment, seed, force, big_ok):
    """Train ViTPain on DATA (painctl render-views/heatmap artefacts, the 3D-Pain layout or
    UNBC-McMaster as distributed) and write checkpoints to OUT.

    A validation split of DATA's subjects (--val-fraction) selects the best epoch: OUT/best. OUT/last
    holds the latest epoch; rerunning the same command after an interruption resumes from it, and a
    larger --epochs (other options unchanged) continues a finished run from it to the new count.
    Prints the best checkpoint's path. Multi-GPU / multi-node: 'accelerate launch -m painctl train ...'.

    \b
      painctl train data/views/ run/
      painctl train unbc/ run_unbc/ --init run/best --epochs 5
      painctl train unbc/ run_unbc/ --init run/best --epochs 10     # continues that run to epoch 10
      painctl train --input heatmap data/views/ teacher/ && painctl train --teacher teacher/best data/views/ student/
    """
    from painctl import console
    from painctl.cli.flags import flag_words
    from painctl.stages.train import train as run

    with flag_words(FLAGS, {"every data path": "every DATA"}):
        best = run(data, out, backbone=backbone, reference=not no_reference, input=input_kind, teacher=teacher, distill_weight=distill_weight,
                   init=init, val_fraction=val_fraction, split_csv=split_csv, shots=shots, epochs=epochs, batch_size=batch_size,
                   lr_heads=lr_heads, lr_lora=lr_lora, weight_decay=weight_decay, au_weight=au_weight, weighted_sampling=weighted_sampling,
                   image_size=image_size, lora_r=lora_r, lora_alpha=lora_alpha, lora_targets=lora_targets, num_workers=num_workers,
                   amp=not no_amp, augment=not no_augment, seed=seed, force=force, big_ok=big_ok)
    if int(os.environ.get("RANK", "0")) == 0:  # under accelerate/torchrun only the main process reports
        console.info(f"best checkpoint: {best}")
        click.echo(str(best))


#: The library's parameters as this command's options (see painctl.cli.flags).
FLAGS = {name: "--" + name.replace("_", "-") for name in (
    "force", "init", "teacher", "input", "split_csv", "val_fraction", "image_size", "batch_size", "lr_heads", "lr_lora", "weight_decay",
    "au_weight", "distill_weight", "lora_r", "lora_alpha", "num_workers", "epochs", "shots", "seed", "backbone")} | {"data": "DATA"}
