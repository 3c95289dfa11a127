"""Donor-need matching engine for small arms control assistance (UN PoA / ITI)."""

__version__ = "0.3.2"
