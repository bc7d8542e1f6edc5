"""Matching stored media: the indexes kept in step with the database, and triage.

(A regular package: without this file setuptools' ``find`` left it out of wheels.)
"""
