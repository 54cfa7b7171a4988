"""File formats painctl reads and writes besides artefacts (mesh files for any viewer)."""
