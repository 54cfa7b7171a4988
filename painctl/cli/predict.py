"""`painctl predict`: PSPI, pain probabilities and AU intensities for face images, against neutral references."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from painctl.cli.options import seed_option

_DEFAULT_CSV = "\0default"  # what a bare --csv stands for
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def _print_table(rows: list[dict]) -> None:
    if not sys.stdout.isatty():
        # Pipes get tab-separated text with a header and the full image paths, for scripts.
        click.echo("\t".join(rows[0]))
        for row in rows:
            click.echo("\t".join(str(v) for v in row.values()))
        return
    from rich.console import Console
    from rich.table import Table

    from painctl import console

    out = Console(highlight=False)
    headers = {"p_pspi_ge_1": "P(≥1)", "p_pspi_ge_2": "P(≥2)", "p_pspi_ge_3": "P(≥3)"}
    full = console.verbosity >= 1  # -v: the whole path; else the file name
    names = [str(row["image"]) if full else Path(str(row["image"])).name for row in rows]
    columns = [c for c in rows[0] if c != "image"]
    cells = [[f"{row[c]:.2f}" if isinstance(row[c], float) else str(row[c]) for c in columns] for row in rows]
    widths = [max(len(headers.get(c, c)), *(len(r[j]) for r in cells)) + 2 for j, c in enumerate(columns)]
    # One line per image, within the terminal: the last columns (shots, then AUs) go first, then the
    # image name loses its start (names differ at the end: ..._pain_2_view_000.png), never wrapped.
    image_min = 14
    while len(columns) > 1 and sum(widths) + image_min > out.width:
        columns, widths = columns[:-1], widths[:-1]
    room = max(image_min, out.width - sum(widths))
    names = [name if len(name) <= room else "…" + name[len(name) - room + 1:] for name in names]
    table = Table(box=None, header_style="bold", pad_edge=False)
    # Fixed widths: rich would otherwise shrink every column (numbers too) rather than cut the name.
    table.add_column("image", justify="left", no_wrap=True, overflow="ellipsis", max_width=room)
    for c, width in zip(columns, widths):
        table.add_column(headers.get(c, c), justify="right", no_wrap=True, min_width=width - 2)
    for name, cell in zip(names, cells):
        table.add_row(name, *cell[: len(columns)])
    out.print(table)


@click.command("predict")
@click.option("--checkpoint", "-c", "checkpoint", required=True, metavar="CKPT", help="Checkpoint directory written by 'painctl train'.")
@click.option("--neutral", "-n", "neutrals", multiple=True, metavar="REF",
              help="Neutral (no pain) image of the same person, or a directory of them; repeatable.")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--shots", "-k", default=1, show_default=True, type=click.IntRange(min=1), help="Average over this many neutral references per image.")
@click.option("--crop", is_flag=True, help="Find the face with OpenCV's Haar cascade and crop it first (for uncropped photos).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per image (JSONL) instead of a table.")
@click.option("--csv", "csv_file", is_flag=False, flag_value=_DEFAULT_CSV, default=None, metavar="[FILE]",
              help="Also write the predictions as CSV to FILE; a bare --csv (after the images, or --csv= ) writes a new "
                   "<first IMAGE>-predictions-<date>.csv in the working directory.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1), help="Images per forward pass.")
@click.option("--forward", type=click.Choice(["model", "authors"]), default="model", show_default=True,
              help="'authors' runs a checkpoint converted by 'painctl convert-checkpoint' with the authors' forward pass "
                   "(DINOv3 without RoPE and registers, ImageNet statistics), as it was trained; refused for other checkpoints.")
@seed_option
@click.option("--force", is_flag=True, help="Replace the --csv FILE if painctl wrote it before.")
def predict(checkpoint, neutrals, images, shots, crop, as_json, csv_file, batch_size, forward, seed, force):
    """Predict pain for face IMAGE files or directories.

    Prints PSPI (0-16), P(PSPI >= 1, 2, 3) and the AU4, AU6, AU7, AU9, AU10, AU43 intensities per
    image: on a terminal a table of file names (full paths with -v) that fits its width, into a pipe
    tab-separated text with full paths. The model compares each face with a neutral face of the same person: pass it with
    --neutral (several with --shots k average the predictions over k of them).

    \b
      painctl predict --checkpoint run/best --neutral me_neutral.png frames/
      painctl predict -c run/best -n ref/ --shots 3 --json photo.jpg --crop
    """
    from painctl.cli.flags import flag_words
    from painctl.cli.options import fresh_output
    from painctl.stages.predict import predict as run

    if csv_file not in (None, _DEFAULT_CSV, "") and (Path(csv_file).is_dir() or Path(csv_file).suffix.lower() in _IMAGE_SUFFIXES):
        raise click.BadParameter(f"{csv_file} looks like an IMAGE; give the CSV a name (--csv out.csv) or put a bare --csv after the images",
                                 param_hint="--csv")
    csv_path = None
    if csv_file is not None:
        csv_path = fresh_output(images[0], "predictions", ".csv") if csv_file in (_DEFAULT_CSV, "") else Path(csv_file)
    with flag_words({"forward": "--forward", "csv": "--csv", "force": "--force", "shots": "--shots", "batch_size": "--batch-size"},
                    {"give neutrals (images of that person without pain)": "pass --neutral REF"}):
        rows = run(checkpoint, images, neutrals, shots=shots, crop=crop, batch_size=batch_size, forward=forward, seed=seed, csv=csv_path,
                   force=force).records()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
    else:
        _print_table(rows)
