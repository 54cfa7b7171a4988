"""The artefact contract: a directory with manifest.json, data.h5 and (where made) PNG files."""

from painctl.artefact.schema import IDENTITY, check_datasets
from painctl.artefact.store import (
    DATA,
    MANIFEST,
    ROWS_ATTR,
    SCHEMA_VERSION,
    Artefact,
    ArtefactWriter,
    content_digest,
    open_artefact,
    write_dataset,
)

__all__ = [
    "Artefact",
    "ArtefactWriter",
    "DATA",
    "IDENTITY",
    "MANIFEST",
    "ROWS_ATTR",
    "SCHEMA_VERSION",
    "check_datasets",
    "content_digest",
    "open_artefact",
    "write_dataset",
]
