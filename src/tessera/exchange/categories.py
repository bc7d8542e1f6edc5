"""VICS categories, stored raw with their profile and read per profile.

The integer means different things under different profiles, so Tessera never
converts it on import: it keeps ``(profile, raw integer)`` and maps for display.
US profile (Project VIC): 0 non-pertinent, 1 child abuse material, 2 child
exploitive (non-CAM) / age difficult, 3 CGI/animation, 4 comparison images;
"uncategorised" is no category at all (null). The Default profile of VICS 1.x and
2.0 uses the same numbering. UK law grades A/B/C, but the integers UK-profile
files use for them are not public, so UK and CUSTOM values are shown raw.
"""

from __future__ import annotations

_PROJECT_VIC = {
    0: "non-pertinent",
    1: "child abuse material",
    2: "child exploitive (non-CAM) / age difficult",
    3: "CGI / animation",
    4: "comparison images",
}
_BY_PROFILE = {"Default": _PROJECT_VIC, "US": _PROJECT_VIC}


def category_label(profile: str | None, category: int | None) -> str:
    """A readable label for a stored (profile, category)."""
    if category is None:
        return "uncategorised"
    label = _BY_PROFILE.get(profile or "", {}).get(category)
    if label is not None:
        return label
    return f"{profile or 'unknown'} profile category {category}"


__all__ = ["category_label"]
