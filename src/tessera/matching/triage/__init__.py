"""Triage: for every file of a seizure, known, near a known item, or new.

* **known**: its SHA-256 (or MD5 / SHA-1) is in the database;
* **near**: its PDQ hash is within the radius (31) of a stored fingerprint of
  enough quality (both >= 50), optionally also through the 8 dihedral variants
  (rotated and mirrored copies);
* **near** also: a file no hash matched that local features show to be an edited
  copy (crop, rotation, mirror, caption, overlay, bars) of a known item, with the
  reason (second stage, ``tessera.matching.scene_triage``);
* **near** also: a still with little detail (a smooth gradient, a blurred photo, a
  plain wall with one object) whose colour layout a crop, small rotation, mirror
  image or quarter turn places in a known picture's (``layouts``, via
  ``colour-layout``): such pictures have neither a PDQ of enough quality nor the
  keypoints to verify;
* **new**: none of these. New files are clustered among themselves (same content, or
  PDQ within the radius) so that an investigator sees each new picture once, not
  once per copy.

Hits are grouped by series with the series' status: victim and offender
identified or not, by which agency and when, the owning agency's contact, and how
many agencies submitted the matched media. Files that are not known are also
listed with what they share with stored media: the same scene, a marker, the same
camera body, a nearby GPS point ("similar scenes"). Nothing is written to the
database.

The seizure is walked and fingerprinted by the one file pipeline
(``tessera.pipeline.run``; ``tessera.app.triage_resume`` leaves out what an
interrupted run's ``journal`` already decided). The steps, one module each:
``exact`` (digest lookups), ``near`` (PDQ, dihedral variants), then the video /
audio alignment (``tessera.matching.av_match``), ``layouts`` (colour layout of
low-texture stills), ``copies`` (the copy check) and the second stage
(``tessera.matching.scene_triage``), ``verdict`` (status, matches and series per
file), ``grouping`` (new files clustered); ``report`` holds the result types and
``run`` the orchestration, ``decided`` and ``journal`` what a run keeps to resume.
"""

from tessera.matching.triage.report import (
    Match,
    RelatedMatch,
    SeriesHit,
    Status,
    TriageItem,
    TriageReport,
)
from tessera.matching.triage.run import triage

__all__ = [
    "Match",
    "RelatedMatch",
    "SeriesHit",
    "Status",
    "TriageItem",
    "TriageReport",
    "triage",
]
