"""``stored.values_from_item`` (the VICS export's record fields without a record object)
is ``record_from_item(...).__dict__``, and ``vics.write_values`` of those fields writes
the bytes ``vics.write`` writes of the records; so do ``given_from_item``'s fields alone."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tessera.exchange import vics
from tessera.exchange.model import ExchangeRecord
from tessera.exchange.stored import given_from_item, record_from_item, values_from_item
from tessera.storage.exchange.export import StoredItem
from tessera.storage.exchange.records import OPAQUE_VERSION, PDQ_VERSION
from tests.exchange.strategies import records

_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_series = st.tuples(
    st.sampled_from(["S1", "Series 2"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(["US", "Default"])),
    st.one_of(st.none(), st.integers(0, 5)),
)


@st.composite
def items(draw: st.DrawFn) -> StoredItem:
    r: ExchangeRecord = draw(records())
    fps: list[tuple[str, int, bytes]] = []
    if r.pdq:
        fps.append(("pdq", PDQ_VERSION, bytes.fromhex(r.pdq)))
    if r.photodna:
        fps.append(("photodna", OPAQUE_VERSION, r.photodna.encode()))
    fps.extend((h.name, OPAQUE_VERSION, h.value.encode()) for h in r.other_hashes)
    entry = draw(
        st.one_of(
            st.none(),
            st.just(("vics", r.source_id, r.category_profile, r.category, r.entry_data())),
            # an entry stored with a key that is no field (an older version's)
            st.just(
                ("vics", r.source_id, r.category_profile, r.category, {**r.entry_data(), "x": 1})
            ),
        )
    )
    return StoredItem(
        media_id=draw(st.integers(1, 10**6)),
        md5=bytes.fromhex(r.md5) if r.md5 else None,
        sha1=bytes.fromhex(r.sha1) if r.sha1 else None,
        sha256=bytes.fromhex(r.sha256) if r.sha256 else None,
        kind=draw(st.sampled_from(["image", "video", "other"])),
        byte_size=draw(st.one_of(st.none(), st.integers(0, 2**40))),
        submissions=draw(st.integers(0, 5)),
        fingerprints=tuple(fps),
        series=tuple(draw(st.lists(_series, max_size=2))),
        entry=entry,
    )


@_settings
@given(st.lists(items(), min_size=1, max_size=4), st.sampled_from(["1.3", "2.0"]))
def test_values_from_item_are_the_records_fields(got: list[StoredItem], version: str) -> None:
    made = [record_from_item(i) for i in got]
    for item, record in zip(got, made, strict=True):
        assert values_from_item(item) == record.__dict__
        assert list(values_from_item(item)) == list(record.__dict__)
    for root in ("Media", "Cases"):
        a, b = io.StringIO(), io.StringIO()
        n = vics.write(made, a, version=version, profile="US", root=root)
        m = vics.write_values(
            [values_from_item(i) for i in got], b, version=version, profile="US", root=root
        )
        assert (n, a.getvalue()) == (m, b.getvalue())
        # only the fields an item gives (what an export of everything writes from)
        c = io.StringIO()
        k = vics.write_values(
            [given_from_item(i) for i in got], c, version=version, profile="US", root=root
        )
        assert (n, a.getvalue()) == (k, c.getvalue())
