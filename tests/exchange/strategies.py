"""Hypothesis strategies for exchange records (valid by construction)."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from tessera.exchange.model import ExchangeRecord, OpaqueHash


def _hex(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789abcdef", min_size=n, max_size=n)


_line = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=30
)
_tag = _line.map(lambda s: s.replace(",", "").strip()).filter(bool)
_b64 = st.text(string.ascii_letters + string.digits + "+/=", min_size=1, max_size=200)
_opaque = st.builds(
    OpaqueHash,
    name=st.sampled_from(["netclean", "videntifier", "tmk-pdqf", "ssvh_pdna", "x:custom"]),
    value=st.text(string.ascii_letters + string.digits + "+/=-_", min_size=1, max_size=80),
)
_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), _line)
_extra = st.dictionaries(
    st.sampled_from(["MediaFiles", "Exifs", "DateUpdated", "IsPrecategorized", "VendorX"]),
    st.one_of(
        _json_scalar,
        st.lists(st.dictionaries(st.sampled_from(["FileName", "PropertyName"]), _line), max_size=3),
    ),
    max_size=3,
)


@st.composite
def records(draw: st.DrawFn) -> ExchangeRecord:
    md5 = draw(st.one_of(st.none(), _hex(32)))
    sha1 = draw(st.one_of(st.none(), _hex(40)))
    photodna = draw(st.one_of(st.none(), _b64))
    if not (md5 or sha1 or photodna):
        md5 = draw(_hex(32))
    category = draw(st.one_of(st.none(), st.integers(0, 30)))
    return ExchangeRecord(
        md5=md5,
        sha1=sha1,
        sha256=draw(st.one_of(st.none(), _hex(64))),
        pdq=draw(st.one_of(st.none(), _hex(64))),
        photodna=photodna,
        other_hashes=tuple(
            draw(st.lists(_opaque, max_size=2, unique_by=lambda h: (h.name, h.value)))
        ),
        kind=draw(st.one_of(st.none(), st.sampled_from(["image", "video"]))),
        mime_type=draw(st.one_of(st.none(), st.sampled_from(["image/jpeg", "video/mp4"]))),
        source_id=draw(st.one_of(st.none(), _line)),
        collab=draw(st.one_of(st.none(), _line)),
        series=draw(st.one_of(st.none(), _line)),
        category=category,
        category_profile=None
        if category is None
        else draw(st.sampled_from(["Default", "US", "UK", "CUSTOM"])),
        classification=draw(st.one_of(st.none(), _line)),
        victim_identified=draw(st.one_of(st.none(), st.booleans())),
        offender_identified=draw(st.one_of(st.none(), st.booleans())),
        is_distributed=draw(st.one_of(st.none(), st.booleans())),
        baseline=draw(st.one_of(st.none(), st.booleans())),
        file_available=draw(st.one_of(st.none(), st.booleans())),
        submissions=draw(st.one_of(st.none(), st.integers(0, 10_000))),
        tags=tuple(draw(st.lists(_tag, max_size=4, unique=True))),
        comments=draw(st.one_of(st.none(), st.text(max_size=40).filter(_no_control))),
        media_size=draw(st.one_of(st.none(), st.integers(0, 2**40))),
        relative_path=draw(st.one_of(st.none(), _line)),
        vics_extra=draw(_extra),
    )


def _no_control(s: str) -> bool:
    return not any((ord(c) < 32 and c not in "\n\r\t") or ord(c) == 127 for c in s)
