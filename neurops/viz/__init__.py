"""Matplotlib figures (Agg backend; nothing is shown, everything is saved)."""
