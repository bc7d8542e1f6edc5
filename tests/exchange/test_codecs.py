"""Round trips of every codec: read(write(records)) == what the format carries."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.exchange import bundle, hashlist, icse_csv, te_csv, vics
from tessera.exchange.model import ExchangeRecord

from .strategies import records

_settings = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_lists = st.lists(records(), max_size=6)


def _bytes(write: object, rs: list[ExchangeRecord], **kw: object) -> io.BytesIO:
    out = io.StringIO()
    write(rs, out, **kw)  # type: ignore[operator]
    return io.BytesIO(out.getvalue().encode("utf-8"))


@_settings
@given(_lists, st.sampled_from(["Default", "US", "UK", "CUSTOM"]))
def test_vics_2_round_trip(rs: list[ExchangeRecord], profile: str) -> None:
    rs = [
        r.model_copy(update={"category_profile": profile if r.category is not None else None})
        for r in rs
    ]
    back = list(vics.read(_bytes(vics.write, rs, profile=profile)))
    assert back == [vics.carried(r, i) for i, r in enumerate(rs, 1)]


@_settings
@given(
    st.lists(
        st.tuples(records(), st.sampled_from([None, "2026-1", "2026-2", 'K; {"x"}'])),
        max_size=8,
    ),
    st.sampled_from(["1.3", "2.0"]),
)
def test_vics_cases_round_trip(
    pairs: list[tuple[ExchangeRecord, str | None]], version: str
) -> None:
    rs = [
        r.model_copy(
            update={
                "case_ref": case,
                "category_profile": "US" if r.category is not None and version == "2.0" else None,
            }
        )
        for r, case in pairs
    ]
    text = _bytes(vics.write, rs, version=version, profile="US", root="Cases")
    assert vics.read_header(text).root == "Cases"
    back = list(vics.read(text))
    assert back == [vics.carried(r, i, version=version, root="Cases") for i, r in enumerate(rs, 1)]
    assert [b.case_ref for b in back] == [case for _, case in pairs]


@_settings
@given(_lists, st.sampled_from(["1.2", "1.3"]))
def test_vics_1_round_trip(rs: list[ExchangeRecord], version: str) -> None:
    back = list(vics.read(_bytes(vics.write, rs, version=version)))
    assert back == [vics.carried(r, i, version=version) for i, r in enumerate(rs, 1)]


@_settings
@given(_lists)
def test_icse_csv_round_trip(rs: list[ExchangeRecord]) -> None:
    rs = [r for r in rs if r.md5 or r.sha1 or r.photodna]
    back = list(icse_csv.read(_bytes(icse_csv.write, rs)))
    assert back == [icse_csv.carried(r) for r in rs]


@_settings
@given(_lists)
def test_hashlist_round_trip(rs: list[ExchangeRecord]) -> None:
    back = list(hashlist.read(_bytes(hashlist.write, rs)))
    assert back == [c for r in rs for c in hashlist.carried(r)]


@_settings
@given(_lists, st.sampled_from(["md5", "sha1", "sha256", "pdq"]))
def test_bare_hashlist_round_trip(rs: list[ExchangeRecord], kind: str) -> None:
    back = list(hashlist.read(_bytes(hashlist.write, rs, hash_type=kind), hash_type=kind))
    assert back == [c for r in rs for c in hashlist.carried(r, hash_type=kind)]


@_settings
@given(_lists)
def test_te_csv_round_trip(rs: list[ExchangeRecord]) -> None:
    back = list(te_csv.read(_bytes(te_csv.write, rs)))
    assert back == [c for r in rs for c in te_csv.carried(r)]


@_settings
@given(_lists, st.sampled_from(["hashes", "full"]))
def test_bundle_round_trip(rs: list[ExchangeRecord], level: bundle.Level) -> None:
    back = list(bundle.read(_bytes(bundle.write, rs, level=level)))
    assert back == [bundle.carried(r, level=level) for r in rs]


@_settings
@given(records())
def test_carried_is_a_projection(r: ExchangeRecord) -> None:
    """Writing what a format carries carries the same again (carried is idempotent)."""
    assert icse_csv.carried(icse_csv.carried(r)) == icse_csv.carried(r)
    assert vics.carried(vics.carried(r, 1), 1) == vics.carried(r, 1)
    assert bundle.carried(bundle.carried(r, level="hashes"), level="hashes") == bundle.carried(
        r, level="hashes"
    )
