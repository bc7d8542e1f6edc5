"""Tessera's command line: thin loops over the library."""
