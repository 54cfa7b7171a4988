"""Scoring ViTPain: metrics, subject-independent cross-validation and the reports they make."""
