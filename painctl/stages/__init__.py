"""The stages: one module per command, each reading and writing artefacts (the only layer that does)."""
