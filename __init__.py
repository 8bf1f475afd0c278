"""Muara: gathers citizen complaints from every channel and files them into SP4N-LAPOR!."""

__version__ = "0.1.0"
