"""`painctl eval`: subject-independent K-fold cross-validation of ViTPain, with a metrics report."""

from __future__ import annotations

from pathlib import Path

import click

from painctl.cli.options import FiniteFloatRange, force_option, fresh_output, out_option, pick_out, seed_option, training_options


@click.command("eval")
@click.argument("data", metavar="DATA")
@click.argument("out", metavar="[OUT]", required=False)
@out_option
@click.option("--folds", "k", default=5, show_default=True, type=click.IntRange(min=2), help="Number of subject folds K.")
@click.option("--folds-file", type=click.Path(path_type=Path), metavar="F",
              help="Fixed folds: JSON {\"folds\": [[subject, ...], ...]} or CSV rows 'subject,fold' (reproduces published splits; overrides --folds).")
@click.option("--split-csv", type=click.Path(path_type=Path), metavar="FILE",
              help="3D-Pain tree: one fixed split instead of folds (columns annotation_base_name,split): train on 'train', "
                   "select and calibrate on 'val', report on 'test'. With --checkpoint: score 'test', calibrate on 'val'.")
@click.option("--checkpoint", type=click.Path(path_type=Path), metavar="CKPT", help="Only evaluate this checkpoint on every fold; no training.")
@click.option("--forward", type=click.Choice(["model", "authors"]), default=None,
              help="With --checkpoint: 'authors' runs a checkpoint converted from the authors' release with their forward pass "
                   "(DINOv3 without RoPE and registers, ImageNet statistics), to reproduce their numbers. [default: model]")
@click.option("--calibration", type=click.Path(path_type=Path), metavar="DATA",
              help="With --checkpoint: data of OTHER subjects to calibrate the F1 thresholds on. [default: threshold 0.5]")
@click.option("--shots", default=1, show_default=True, type=click.IntRange(min=1), help="Neutral references averaged per test frame.")
@click.option("--backbone", default="tiny", show_default=True, metavar="NAME",
              help="As in 'painctl train': 'tiny' (embedded small DINOv3, random init, TRAINED IN FULL), or a HF id / local DINOv3 or DINOv2 dir (frozen, LoRA).")
@click.option("--no-reference", is_flag=True, help="Single-image variant: no neutral reference encoder.")
@click.option("--init", type=click.Path(path_type=Path), metavar="CKPT", help="Start every fold from this checkpoint (e.g. synthetic-pretrained).")
@click.option("--val-fraction", default=0.2, show_default=True, type=FiniteFloatRange(0, 1, min_open=True, max_open=True),
              help="Fraction of each fold's TRAINING subjects held out for model selection and threshold calibration.")
@training_options
@seed_option
@force_option
def eval_cmd(data, out, out_option, k, folds_file, split_csv, checkpoint, forward, calibration, shots, backbone, no_reference, init, epochs, batch_size, lr_heads,
             lr_lora, weight_decay, au_weight, weighted_sampling, val_fraction, image_size, lora_r, lora_alpha, lora_targets,
             num_workers, no_amp, no_augment, seed, force):
    """Cross-validate ViTPain on DATA by subject (K folds): the summary table on stdout, the full report in OUT.

    Each fold trains on the other folds' subjects, selects the epoch and calibrates the F1 thresholds
    on an inner validation split of those TRAINING subjects, and tests on the held-out subjects (each
    frame against PSPI-0 frames of its own subject). With --checkpoint nothing is trained.
    OUT (or --out DIR) gets report.json, predictions.csv, summary.md, roc.png, calibration.png,
    scatter.png and the fold checkpoints; without it a new directory named after DATA and today's date
    (unbc-eval-2026-12-01, never an existing one) is made in the working directory and named on stderr.

    \b
      painctl eval --folds 5 unbc/
      painctl eval --folds 5 unbc/ report/
      painctl eval --folds-file folds.json --init run/best --epochs 5 unbc/ report/
      painctl eval --checkpoint run/best --calibration synth/ unbc/ report/
    """
    from painctl import console
    from painctl.cli.flags import flag_words
    from painctl.evaluation.reports import summary_table
    from painctl.stages.eval import evaluate

    out = pick_out(out, out_option)
    if out is None:
        out = str(fresh_output(data, "eval"))
        console.info(f"the report will be written to {out}/ (--out DIR to choose)")
    with flag_words(FLAGS, {"to checkpoint only": "to --checkpoint only", "with checkpoint nothing": "with --checkpoint nothing"}):
        report = evaluate(data, out, folds=k, folds_file=folds_file, split_csv=split_csv, checkpoint=checkpoint, forward=forward,
                          calibration=calibration, shots=shots, backbone=backbone, reference=not no_reference, init=init,
                          val_fraction=val_fraction, epochs=epochs, batch_size=batch_size, lr_heads=lr_heads, lr_lora=lr_lora,
                          weight_decay=weight_decay, au_weight=au_weight, weighted_sampling=weighted_sampling, image_size=image_size,
                          lora_r=lora_r, lora_alpha=lora_alpha, lora_targets=lora_targets, num_workers=num_workers, amp=not no_amp,
                          augment=not no_augment, seed=seed, force=force)
    click.echo(summary_table(report), nl=False)


#: The library's parameters as this command's options (see painctl.cli.flags).
FLAGS = {name: "--" + name.replace("_", "-") for name in (
    "force", "init", "checkpoint", "forward", "calibration", "split_csv", "folds_file", "folds", "val_fraction", "image_size", "batch_size",
    "lr_heads", "lr_lora", "weight_decay", "au_weight", "lora_r", "lora_alpha", "num_workers", "epochs", "shots", "seed", "backbone")} | {"data": "DATA"}
