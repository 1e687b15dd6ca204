"""Helpers shared by every test folder (not shipped in the connector's package)."""
