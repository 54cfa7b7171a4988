"""The artefact contract: a directory with manifest.json, data.h5 and (where made) PNG files."""

from painctl.artefact.locks import OutputLock
from painctl.artefact.resources import check_resources
from painctl.artefact.schema import IDENTITY, INTRINSIC, check_datasets
from painctl.artefact.store import (
    DATA,
    MANIFEST,
    ROWS_ATTR,
    SCHEMA_VERSION,
    Artefact,
    ArtefactWriter,
    DirectoryOutput,
    FileOutput,
    content_digest,
    copy_attrs,
    copy_file,
    create_rows,
    open_artefact,
    recorded_input,
    write_dataset,
)

__all__ = [
    "Artefact",
    "ArtefactWriter",
    "DATA",
    "DirectoryOutput",
    "FileOutput",
    "IDENTITY",
    "INTRINSIC",
    "MANIFEST",
    "ROWS_ATTR",
    "OutputLock",
    "SCHEMA_VERSION",
    "check_datasets",
    "check_resources",
    "content_digest",
    "copy_attrs",
    "copy_file",
    "create_rows",
    "open_artefact",
    "recorded_input",
    "write_dataset",
]
