"""`painctl predict`: PSPI, pain probabilities and AU intensities for face images, against neutral references."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import click

from painctl.cli.options import seed_option

PROB_COLUMNS = ("p_pspi_ge_1", "p_pspi_ge_2", "p_pspi_ge_3")


def prediction_rows(pred) -> list[dict]:
    """One flat dict per image: image, pspi, the three probabilities, the six AUs, shots."""
    from painctl.facs import AU_NAMES

    rows = []
    for i, key in enumerate(pred.keys):
        row = {"image": key, "pspi": round(float(pred.pspi[i]), 4)}
        row.update({name: round(float(pred.prob[i, j]), 4) for j, name in enumerate(PROB_COLUMNS)})
        row.update({name: round(float(pred.au[i, j]), 4) for j, name in enumerate(AU_NAMES)})
        row["shots"] = int(pred.shots[i]) if pred.shots is not None else 1
        rows.append(row)
    return rows


def _is_our_csv(path: Path) -> bool:
    """True when ``path`` starts with the header painctl's predictions CSV has."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().startswith("image,pspi," + ",".join(PROB_COLUMNS))
    except (OSError, UnicodeDecodeError):
        return False


def _write_csv(rows: list[dict], target) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with target as tmp:
        tmp.write_text(buf.getvalue())


def _print_table(rows: list[dict]) -> None:
    if not sys.stdout.isatty():
        # Pipes get tab-separated text with a header, like the terminal table without the boxes.
        click.echo("\t".join(rows[0]))
        for row in rows:
            click.echo("\t".join(str(v) for v in row.values()))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for name in rows[0]:
        table.add_column({"p_pspi_ge_1": "P(≥1)", "p_pspi_ge_2": "P(≥2)", "p_pspi_ge_3": "P(≥3)"}.get(name, name),
                         justify="left" if name == "image" else "right", overflow="fold")
    for row in rows:
        table.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row.values()))
    Console().print(table)


@click.command("predict")
@click.option("--checkpoint", "-c", "checkpoint", required=True, metavar="CKPT", help="Checkpoint directory written by 'painctl train'.")
@click.option("--neutral", "-n", "neutrals", multiple=True, metavar="REF",
              help="Neutral (no pain) image of the same person, or a directory of them; repeatable.")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--shots", "-k", default=1, show_default=True, type=click.IntRange(min=1), help="Average over this many neutral references per image.")
@click.option("--crop", is_flag=True, help="Find the face with OpenCV's Haar cascade and crop it first (for uncropped photos).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per image (JSONL) instead of a table.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE", help="Also write the predictions as CSV to FILE.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1), help="Images per forward pass.")
@seed_option
@click.option("--force", is_flag=True, help="Replace the --csv FILE if painctl wrote it before.")
def predict(checkpoint, neutrals, images, shots, crop, as_json, csv_file, batch_size, seed, force):
    """Predict pain for face IMAGE files or directories.

    Prints PSPI (0-16), P(PSPI >= 1, 2, 3) and the AU4, AU6, AU7, AU9, AU10, AU43 intensities per
    image. The model compares each face with a neutral face of the same person: pass it with
    --neutral (several with --shots k average the predictions over k of them).

    \b
      painctl predict --checkpoint run/best --neutral me_neutral.png frames/
      painctl predict -c run/best -n ref/ --shots 3 --json photo.jpg --crop
    """
    from painctl.artefact.store import FileOutput
    from painctl.vitpain.inference import predict_images

    # Checked before any image is scored: a CSV that cannot be written fails now, not after the work.
    target = FileOutput(csv_file, force, ours=_is_our_csv, what="CSV file") if csv_file is not None else None
    pred = predict_images(checkpoint, images, neutrals, shots=shots, crop=crop, batch_size=batch_size, seed=seed)
    rows = prediction_rows(pred)
    if csv_file is not None:
        _write_csv(rows, target)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
    else:
        _print_table(rows)
