"""Local features and same-scene / same-marker search (second triage stage).

PDQ finds near-duplicates of whole pictures; this package finds *other* pictures
taken in the same room or showing the same marker (poster, artwork, sign), and
edited copies PDQ misses (crops, rotations, mirrors, captions, letterbox bars).

* :mod:`tessera.features.local`: RootSIFT keypoints per image or marker box;
* :mod:`tessera.features.retrieval`: visual-word vocabulary + inverted-file tf-idf;
* :mod:`tessera.features.verify`: ratio-test matching + MAGSAC homography /
  fundamental matrix, inlier counts and matched regions;
* :func:`similar`: retrieval shortlist, then verification.
"""

from __future__ import annotations

from tessera.features.local import (
    LocalFeatures,
    extract,
    extract_mirrored,
    extract_region,
)
from tessera.features.retrieval import Candidate, SceneIndex, Vocabulary
from tessera.features.scene import SceneMatch, similar
from tessera.features.verify import Verification, verify

__all__ = [
    "Candidate",
    "LocalFeatures",
    "SceneIndex",
    "SceneMatch",
    "Verification",
    "Vocabulary",
    "extract",
    "extract_mirrored",
    "extract_region",
    "similar",
    "verify",
]
