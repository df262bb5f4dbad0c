"""Imported by the entry module from the installed package, not from the source directory."""

MESSAGE = "packaged helper"
