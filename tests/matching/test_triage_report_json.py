"""Defect 15 (issue 10): a local-features match had ``"distance": -1`` in ``--json``."""

from __future__ import annotations

from tessera.matching.triage.report import Match


def test_local_features_match_has_no_fake_distance() -> None:
    m = Match(7, "local-features", -1, 1, ("Amber",), {"inliers": 120, "reason": "mirrored"})
    out = m.to_json()
    assert out["distance"] is None
    assert out["inliers"] == 120


def test_pdq_match_keeps_its_distance() -> None:
    assert Match(7, "pdq", 12, 1, (), {}).to_json()["distance"] == 12
    assert Match(7, "sha256", 0, 1, (), {}).to_json()["distance"] == 0
