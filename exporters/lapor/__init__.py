"""exporters/lapor."""
