"""A feed page read ahead: ``tessera sync`` reads and verifies the next page on its
fetch thread while it applies this one (``tessera.app.federation.pull.feed_reader``),
and the applying thread takes what was made there only for the very bytes it is
given, read with the key it holds then.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from tessera.exchange.delta import SignedBundle
from tessera.storage.federation import records as records_store
from tessera.storage.federation import remote_media as remote_media_store


@dataclass(frozen=True)
class ReadAhead(SignedBundle):
    """A feed page as the fetch thread read it, with what its media records give the
    import made there too (pure functions of the page: the applying thread, the
    sync's bottleneck, then skips two objects a record), its media records' newest
    versions as not stored yet, and its records' signatures by their origins checked."""

    media_in: tuple[records_store.Incoming, ...] = dataclasses.field(default=(), compare=False)
    """``bundle.records`` as ``records_store.Incoming``, in order."""
    media_made: Mapping[int, remote_media_store.MediaInput] = dataclasses.field(
        default_factory=dict, compare=False
    )
    """``remote_media_store.media_inputs(media_in)``: keyed by the ids of ``media_in``'s objects."""
    media_latest: Mapping[str, Mapping[str, records_store.Newer]] = dataclasses.field(
        default_factory=dict, compare=False
    )
    """``records_store.latest_of(media_in)``."""
    attested_with: Mapping[str, str] | None = dataclasses.field(default=None, compare=False)
    """``attested_ahead``: origin -> the key its records were checked with (None: not
    checked); taken when those are the keys the applying transaction holds."""

    @classmethod
    def of(
        cls,
        b: SignedBundle,
        media_in: list[records_store.Incoming],
        made: Mapping[int, remote_media_store.MediaInput],
        latest: Mapping[str, Mapping[str, records_store.Newer]],
        attested_with: Mapping[str, str] | None,
    ) -> ReadAhead:
        fields = {f.name: getattr(b, f.name) for f in dataclasses.fields(SignedBundle)}
        return cls(
            **fields,
            media_in=tuple(media_in),
            media_made=made,
            media_latest=latest,
            attested_with=attested_with,
        )


__all__ = [
    "ReadAhead",
]
