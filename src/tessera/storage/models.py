"""The shared database's tables, as SQLAlchemy 2 typed ORM classes.

The shape follows how victim-identification units work (ICSE, Project VIC):

* an **Agency** (a unit of a member country) owns **Cases** and **Series**;
* a **Media** item is one distinct file content, unique by SHA-256; every place it
  was found is a **Sighting** (case, original path, file times, submitting agency),
  so the same image seized in three countries is one Media with three Sightings and
  a submission count of three agencies;
* a **FingerprintModel** stores a self-describing value of a Media item: PDQ of a
  still or of a video frame (``position``), a Chromaprint, or the local features
  (``rootsift``) that same-scene search verifies against;
* **MediaText** (OCR words, full-text indexed), **MediaMetadataModel** (camera, serial,
  GPS) and **Markers** (investigators' boxes around posters, signs...) describe
  what is *in* a media item;
* **Victims** and **Offenders** are pseudonymous ids with identified-or-not status,
  who identified them and when; no names are stored;
* **Locations** describe places (optionally with coordinates);
* link tables tie series to media, victims, offenders and locations, and media to
  locations.

Models of values that also exist as pure types are named ``...Model``
(``FingerprintModel`` stores a ``tessera.fingerprints.value.Fingerprint``,
``MediaMetadataModel`` a ``tessera.media.metadata.MediaMetadata``), so no two classes
share a name.

Ingest bookkeeping (``IngestRun``, ``IngestItem``) makes interrupted runs resumable:
an item is written in the same transaction as the rows it produced.

Deletes are soft (migration 0003): ``deleted_at`` / ``deleted_by`` on series, media,
sightings and series membership, ``undone_at`` / ``undone_by`` on ingest runs. A row
so marked is kept (recoverable) but every read path leaves it out.

Digests are stored as raw bytes (16/20/32), not hex, to halve index sizes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class Meta(Base):
    """Key/value facts about this database (``instance_id`` ties index files to it)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Agency(Base):
    """A unit of a member country that owns cases and series."""

    __tablename__ = "agency"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Case(Base):
    """An investigation of an agency; sightings belong to a case."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("agency_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    number: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    agency: Mapped[Agency] = relationship()


series_media = Table(
    "series_media",
    Base.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("media_id", ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    Column("deleted_at", DateTime(timezone=True)),  # soft removal (0003): when and who
    Column("deleted_by", String(200)),
    Index("ix_series_media_media_id", "media_id"),  # media -> series on every lookup (0008)
)
series_victim = Table(
    "series_victim",
    Base.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("victim_id", ForeignKey("victim.id", ondelete="CASCADE"), primary_key=True),
)
series_offender = Table(
    "series_offender",
    Base.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("offender_id", ForeignKey("offender.id", ondelete="CASCADE"), primary_key=True),
)
series_location = Table(
    "series_location",
    Base.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("location.id", ondelete="CASCADE"), primary_key=True),
)
media_location = Table(
    "media_location",
    Base.metadata,
    Column("media_id", ForeignKey("media.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("location.id", ondelete="CASCADE"), primary_key=True),
)


class Series(Base):
    """A set of media showing the same victim(s), owned by one agency."""

    __tablename__ = "series"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    victim_identified: Mapped[bool] = mapped_column(Boolean, default=False)
    victim_identified_by: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    victim_identified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    offender_identified: Mapped[bool] = mapped_column(Boolean, default=False)
    offender_identified_by: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    offender_identified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    category_profile: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(String(200))
    agency: Mapped[Agency] = relationship(foreign_keys=[agency_id])


SHARE_LEVELS = ("none", "hash", "status", "full")
"""Sharing levels, least to most (``tessera.app.visibility`` says what each shows)."""
SHARE_SCOPES = ("network", "country", "agency")


class SharingGrant(Base):
    """What one grantee (the network, a country, an agency) may see of a series or case.

    ``grantee`` is ``*`` for the network, an ISO country code, or an agency code.
    No row for a grantee means the default (migration 0006; ``storage.sharing``).
    """

    __tablename__ = "sharing_grant"
    __table_args__ = (
        UniqueConstraint("series_id", "scope", "grantee"),
        UniqueConstraint("case_id", "scope", "grantee"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(8))
    grantee: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8))
    granted_by: Mapped[str | None] = mapped_column(String(254))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Media(Base):
    """One distinct file content, unique by SHA-256 when its content was seen.

    Media imported from an exchange file (``has_content`` false) carry only the
    digests the file gave: often MD5 and SHA-1 without SHA-256, sometimes only a
    PhotoDNA or PDQ (as fingerprints). Ingesting the actual file later fills in
    the rest on the same row (matched by its digests).
    """

    __tablename__ = "media"
    __table_args__ = (
        # the web's media grid sorted by these (then id) reads a page, not the table (0017)
        Index("ix_media_byte_size", "byte_size", "id"),
        Index("ix_media_first_seen_at", "first_seen_at", "id"),
        Index("ix_media_submissions", "submissions", "id"),
        Index("ix_media_kind", "kind", "id"),
        # SQLite: only rows that have the digest (hash-only media mostly lack both; 0034)
        Index("ix_media_md5", "md5", sqlite_where=text("md5 IS NOT NULL")),
        Index("ix_media_sha1", "sha1", sqlite_where=text("sha1 IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sha256: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    md5: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    sha1: Mapped[bytes | None] = mapped_column(LargeBinary(20))
    kind: Mapped[str] = mapped_column(String(16))  # image, video, audio, other
    format: Mapped[str | None] = mapped_column(String(16))
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    has_content: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """False for hash-only media known from an exchange file, not from the file itself."""
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    """How many distinct agencies reported this media item."""
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(String(200))


class Sighting(Base):
    """Where and when a media item was found: case, original path, file times."""

    __tablename__ = "sighting"
    __table_args__ = (UniqueConstraint("case_id", "original_path", "media_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    original_path: Mapped[str] = mapped_column(Text)
    file_mtime: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    file_ctime: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_run.id"), index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(String(200))


# Per-series counts kept by triggers (migration 0023 says how); never written by Python.
series_stats = Table(
    "series_stats",
    Base.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("members", Integer, nullable=False, server_default="0"),
)
media_agency_sightings = Table(
    "media_agency_sightings",
    Base.metadata,
    Column("media_id", BigInteger, primary_key=True),
    Column("agency_id", Integer, primary_key=True),
    Column("n", Integer, nullable=False, server_default="0"),
)
series_agency_submissions = Table(
    "series_agency_submissions",
    Base.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("agency_id", Integer, primary_key=True),
    Column("media", Integer, nullable=False, server_default="0"),
    Column("first_seen", DateTime(timezone=True)),
    Column("last_seen", DateTime(timezone=True)),
    Column("exact", Boolean, nullable=False, server_default=true()),
)
series_case_sightings = Table(
    "series_case_sightings",
    Base.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("case_id", Integer, primary_key=True),
    Column("n", Integer, nullable=False, server_default="0"),
    Index("ix_series_case_sightings_case_id", "case_id"),
)
series_camera_members = Table(  # kept by triggers (0024): live members per camera key
    "series_camera_members",
    Base.metadata,
    Column("series_id", ForeignKey("series.id", ondelete="CASCADE"), primary_key=True),
    Column("camera_key", String(128), primary_key=True),
    Column("members", Integer, nullable=False, server_default="0"),
)
camera_media = Table(  # kept by triggers (0024): metadata rows per camera key
    "camera_media",
    Base.metadata,
    Column("camera_key", String(128), primary_key=True),
    Column("media", Integer, nullable=False, server_default="0"),
)


class FingerprintModel(Base):
    """A self-describing hash of a media item (``position`` for frames; 0 for stills)."""

    __tablename__ = "fingerprint"
    __table_args__ = (
        UniqueConstraint("media_id", "algorithm", "version", "position"),
        Index("ix_fingerprint_algorithm_id", "algorithm", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    algorithm: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[bytes] = mapped_column(LargeBinary)  # PDQ 32 bytes; audio text; rootsift
    quality: Mapped[int | None] = mapped_column(Integer)


class MediaText(Base):
    """Words read from a media item (OCR), with boxes and language; full-text searchable.

    SQLite keeps an FTS5 index (``media_text_fts``) and PostgreSQL a GIN index on
    ``to_tsvector('simple', text)``; both are created by migration 0002.
    """

    __tablename__ = "media_text"
    __table_args__ = (UniqueConstraint("media_id", "position", "engine"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    engine: Mapped[str] = mapped_column(String(32))  # e.g. "tesseract"
    language: Mapped[str] = mapped_column(String(64))  # e.g. "eng" or "eng+fra"
    text: Mapped[str] = mapped_column(Text)
    boxes: Mapped[list[Any]] = mapped_column(JSON)  # [[x, y, w, h, word, confidence], ...]


class MediaMetadataModel(Base):
    """Camera and place facts from EXIF/XMP of one media item."""

    __tablename__ = "media_metadata"
    __table_args__ = (
        Index("ix_media_metadata_lat_lon", "latitude", "longitude"),
        # one camera's media in id order, read up to a page's limit (0029)
        Index("ix_media_metadata_camera_key_media_id", "camera_key", "media_id"),
    )
    media_id: Mapped[int] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    make: Mapped[str | None] = mapped_column(String(256))
    model: Mapped[str | None] = mapped_column(String(256))
    body_serial: Mapped[str | None] = mapped_column(String(256))
    camera_key: Mapped[str | None] = mapped_column(String(128))
    """Normalised make + body serial; equal keys mean the same camera body."""
    lens: Mapped[str | None] = mapped_column(String(256))
    software: Mapped[str | None] = mapped_column(String(256))
    captured_at: Mapped[str | None] = mapped_column(String(40))
    """ISO 8601 as the file gives it (with offset when known, else camera-local)."""
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Everything extracted (XMP, warnings...), as JSON values."""


MARKER_KINDS = (
    "signage",
    "artwork",
    "poster",
    "product",
    "clothing",
    "furniture",
    "wallpaper",
    "other",
)


class Marker(Base):
    """A region of a media item an investigator marked as a clue (a poster, a sign...).

    ``features`` are the region's local features (``tessera.features`` bytes), so
    "find this elsewhere" needs neither the file nor the picture.
    """

    __tablename__ = "marker"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    x0: Mapped[int] = mapped_column(Integer)
    y0: Mapped[int] = mapped_column(Integer)
    x1: Mapped[int] = mapped_column(Integer)
    y1: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    features: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class _Person:
    """Shared columns of pseudonymous people: identification status only, no names."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(100), unique=True)
    identified: Mapped[bool] = mapped_column(Boolean, default=False)
    identified_by: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    identified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str | None] = mapped_column(Text)


class Victim(_Person, Base):
    """A pseudonymous victim record."""

    __tablename__ = "victim"


class Offender(_Person, Base):
    """A pseudonymous offender record."""

    __tablename__ = "offender"


class Location(Base):
    """A place: description, country, optional coordinates."""

    __tablename__ = "location"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(String(2))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class ExchangeEntry(Base):
    """What one agency's exchange file said about a media item (one row per agency).

    Category stays raw with its profile; ``data`` holds the rest of the record
    (flags, tags, comments, VICS MediaFiles/Exifs...) so an export gives back what
    was imported.
    """

    __tablename__ = "exchange_entry"
    __table_args__ = (
        UniqueConstraint("media_id", "agency_id"),
        Index("ix_exchange_entry_agency_source", "agency_id", "source_id"),
        # the distinct profiles of a VICS export's selection, a seek each (0035)
        Index("ix_exchange_entry_category_profile", "category_profile"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # looked up through the unique (media_id, agency_id) index (migration 0032)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    source_format: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[str | None] = mapped_column(String(512))
    category_profile: Mapped[str | None] = mapped_column(String(32))
    category: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExchangeHash(Base):
    """An imported hash Tessera cannot look up by column (PDQ, PhotoDNA, NetClean...):
    SHA-256 of ``algorithm NUL value``, so a record carrying only such a hash finds
    its media item again on re-import."""

    __tablename__ = "exchange_hash"
    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="CASCADE"), index=True)


class BlindLink(Base):
    """An agency linked its record to content it could not see (held unshared by
    another agency): its own series, cases and entries then show it that media item
    up to ``status`` only, never its ``full`` rows (OCR text, camera metadata,
    markers, locations), which came with the other agency's file. Ingesting the
    file itself removes the row (the agency then has the content).
    Migration 0019; ``tessera.app.visibility`` and ``tessera_media_level``.

    What the agency's record said of the item (its digests, kind, size) and when it
    linked (migration 0025), and its PDQ and opaque hashes (0026): where the agency
    sees the item only through this link, it is shown these instead of the media
    row's columns and fingerprints, which came with the other agency's file
    (``Visibility.own_records``)."""

    __tablename__ = "blind_link"
    media_id: Mapped[int] = mapped_column(
        ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    sha256: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    sha1: Mapped[bytes | None] = mapped_column(LargeBinary(20))
    md5: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    kind: Mapped[str | None] = mapped_column(String(16))
    byte_size: Mapped[int | None] = mapped_column(BigInteger)
    linked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.current_timestamp()
    )
    hashes: Mapped[list[Any] | None] = mapped_column(JSON)
    """The record's own PDQ and opaque hashes, ``[[algorithm, value], ...]`` (0026)."""


class IngestRun(Base):
    """One ``tessera ingest`` of a root path into a case; resumable until finished."""

    __tablename__ = "ingest_run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"))
    root: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[str | None] = mapped_column(String(200))


class IngestItem(Base):
    """A path handled by a run, written in the same transaction as its results."""

    __tablename__ = "ingest_item"
    __table_args__ = (UniqueConstraint("run_id", "path"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_run.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # new, known, error, skipped
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"))
    reason: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)


# -- accounts and the audit trail (issue 11; migration 0005) ------------------------


class User(Base):
    """A person of an agency with one role; disabled, never deleted (the log names them)."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text)  # argon2id PHC string
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agency: Mapped[Agency] = relationship()


class ReviewerPreference(Base):
    """A user's reviewer-wellness settings for the web UI (no row: the safe defaults)."""

    __tablename__ = "reviewer_preference"
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    blur: Mapped[bool] = mapped_column(Boolean, default=True)
    greyscale: Mapped[bool] = mapped_column(Boolean, default=False)
    dedup: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AgencySharingDefault(Base):
    """The network-wide grant a new series / case of the agency gets (migration 0017);
    no row or a NULL level: the node's rule (series ``status``, case ``none``)."""

    __tablename__ = "agency_sharing_default"
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    series_level: Mapped[str | None] = mapped_column(String(8))
    case_level: Mapped[str | None] = mapped_column(String(8))
    set_by: Mapped[str | None] = mapped_column(String(254))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    """A bearer token: only the SHA-256 of its secret is stored; shown once at creation."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # "tsr_<id>", shown
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # scope: at most the user's role
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Failed password logins per key (an e-mail or a client address), for lock-outs."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One append-only audit record and its Merkle leaf hash and the root after it."""

    __tablename__ = "audit_entry"
    # The Admin page's audit list is sorted by seq, user, agency, action or series
    # (then seq) and, for a curator, filtered by agency: one index per key order,
    # with and without the agency in front, so each page is an index range scan on
    # SQLite and PostgreSQL, never a sort of the whole log (migration 0018).
    __table_args__ = (
        Index("ix_audit_entry_user_seq", "user", "seq"),
        Index("ix_audit_entry_agency_seq", "agency", "seq"),
        Index("ix_audit_entry_action_seq", "action", "seq"),
        Index("ix_audit_entry_series_seq", "series", "seq"),
        Index("ix_audit_entry_agency_user", "agency", "user", "seq"),
        Index("ix_audit_entry_agency_action", "agency", "action", "seq"),
        Index("ix_audit_entry_agency_series", "agency", "series", "seq"),
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user: Mapped[str] = mapped_column(String(254))
    agency: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(Text)
    series: Mapped[str | None] = mapped_column(String(200))
    params_digest: Mapped[str] = mapped_column(String(64))
    result_count: Mapped[int | None] = mapped_column(BigInteger)
    request_id: Mapped[str] = mapped_column(String(64))
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    root: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed tree head: C2SP tlog-checkpoint in a C2SP signed note by the node key."""

    __tablename__ = "audit_checkpoint"
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditHead(Base):
    """The one row that serialises appends: size, Merkle frontier, last checkpoint."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[str] = mapped_column(Text, default="")  # "height:hex,..." largest first
    checkpoint_size: Mapped[int] = mapped_column(BigInteger, default=0)


# -- cooperation (migration 0007): overlaps, notifications, delivery ---------------------


class Overlap(Base):
    """Two agencies' work met: a finder's files hit an owner's series (``series``) or
    both submitted the same new, unclassified media (``case``). Each side marks it."""

    __tablename__ = "overlap"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # series | case
    via: Mapped[str] = mapped_column(String(16))  # lookup | triage | ingest
    owner_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    owner_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    finder_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    finder_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    files: Mapped[int] = mapped_column(Integer)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    owner_mark: Mapped[str | None] = mapped_column(String(24))
    owner_note: Mapped[str | None] = mapped_column(Text)
    finder_mark: Mapped[str | None] = mapped_column(String(24))
    finder_note: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """Something an agency (or one of its users, ``user_id``) should know."""

    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    overlap_id: Mapped[int | None] = mapped_column(ForeignKey("overlap.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # migration 0012: the same notice raised again within a window updates this one
    dedup_key: Mapped[str | None] = mapped_column(String(64), index=True)
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationRead(Base):
    """Who (an account's e-mail, or ``operator``) has read which notification."""

    __tablename__ = "notification_read"
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), primary_key=True
    )
    reader: Mapped[str] = mapped_column(String(254), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AgencyDelivery(Base):
    """Where an agency's notifications go besides the API: a webhook and/or e-mail."""

    __tablename__ = "agency_delivery"
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    email_to: Mapped[str | None] = mapped_column(Text)
    smtp_host: Mapped[str | None] = mapped_column(String(253))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_from: Mapped[str | None] = mapped_column(String(254))


class DeliveryAttempt(Base):
    """One attempt to deliver one notification by one channel (the delivery log)."""

    __tablename__ = "delivery_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email
    target: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeliveryOutbox(Base):
    """A notification still to deliver by one channel (migration 0012): survives a
    restart; ``state`` pending | done | failed; retried at ``next_at``."""

    __tablename__ = "delivery_outbox"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel", name="uq_delivery_outbox_channel"),
        Index("ix_delivery_outbox_state_next", "state", "next_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # webhook | email
    state: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NetworkSetting(Base):
    """A value the network's operator set for the whole network (migration 0012)."""

    __tablename__ = "network_setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BaselineReview(Base):
    """A Baseline series (or one of its items) flagged for its owner's review
    (migration 0012): an item disputed, or confirmations from fewer than 2 countries."""

    __tablename__ = "baseline_review"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("media.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(254))


class MediaVerdict(Base):
    """One agency's confirmation or dispute of a media item's classification."""

    __tablename__ = "media_verdict"
    media_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    verdict: Mapped[str] = mapped_column(String(8))  # confirm | dispute
    reason: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NegativeHash(Base):
    """A hash that must never match (logo, stock photo, blank frame...); ``agency_id``
    None: the whole network's list."""

    __tablename__ = "negative_hash"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    kind: Mapped[str] = mapped_column(String(8))  # md5 | sha1 | sha256 | pdq
    value: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(254))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HitLog(Base):
    """A stored media item matched by one distinct query hash of one agency (flood guard),
    at the latest such hit (one row per triple: migration 0022)."""

    __tablename__ = "hit_log"
    __table_args__ = (
        Index("uq_hit_log_media_key_agency", "media_id", "query_key", "agency_id", unique=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("media.id", ondelete="CASCADE"), index=True
    )
    query_key: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Quarantine(Base):
    """A media item whose hash flooded: its matches are reported ``quarantined``."""

    __tablename__ = "quarantine"
    media_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("media.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(String(254))


# -- triage jobs over the API (migration 0009) -------------------------------------------


class TriageJob(Base):
    """A triage of fingerprints a client computed (``tessera hash --json``), run in
    the background by a server worker; the row is the job's whole state, so a
    restarted server resumes it (``tessera.app.triage_jobs``)."""

    __tablename__ = "triage_job"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)  # no FK: kept as sent
    user_email: Mapped[str | None] = mapped_column(String(254))
    agency_code: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued running done ...
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    fingerprints: Mapped[list[Any]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TriageJobFile(Base):
    """One file's line of a finished triage job's report (migration 0018).

    The job's ``result`` keeps the report's head (summary, series, new groups); its
    ``results`` list lives here, a row per file in report order (``seq``), so the
    web UI filters, sorts and pages a job of 10,000 files in SQL. ``item`` is the
    file's ``tessera triage --json`` line (sharing rules applied); the other columns
    are what lists filter and sort on. Written with the job's final state, in one
    transaction: a job killed before it finished has no rows.
    """

    __tablename__ = "triage_job_file"
    __table_args__ = (
        UniqueConstraint("job_id", "seq"),
        Index("ix_triage_job_file_status", "job_id", "status", "seq"),
        Index("ix_triage_job_file_path", "job_id", "path"),
        Index("ix_triage_job_file_group", "job_id", "new_group", "seq"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("triage_job.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    series: Mapped[str] = mapped_column(Text, default="")  # first series name; "" if none
    distance: Mapped[int | None] = mapped_column(Integer)  # closest PDQ match, bits
    new_group: Mapped[int | None] = mapped_column(Integer)
    item: Mapped[dict[str, Any]] = mapped_column(JSON)


# -- federation (issue 15): peers, federated records, the hub's log -----------------------


class FedPeer(Base):
    """A hub or node this one exchanges with: name, URL and Ed25519 verifier key, and
    where the exchange stands (the last checkpoint of its log we accepted, our feed
    cursor in it; on a hub, the last delta it accepted from that node)."""

    __tablename__ = "fed_peer"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str | None] = mapped_column(Text)
    verifier: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(200), unique=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    checkpoint_size: Mapped[int] = mapped_column(BigInteger, default=0)
    checkpoint_root: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    checkpoint_note: Mapped[str | None] = mapped_column(Text)
    feed_after: Mapped[int] = mapped_column(BigInteger, default=0)
    feed_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    last_delta: Mapped[int] = mapped_column(BigInteger, default=0)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    country: Mapped[str | None] = mapped_column(String(2))
    """On a hub: the country this node serves (series shared with it reach the node)."""
    agencies: Mapped[list[str] | None] = mapped_column(JSON)
    """On a hub: the agency codes this node serves."""


class FedRecord(Base):
    """One federated record, keyed by (origin node, origin id), at its newest version.

    ``kind`` 0 is a series (its level, owner and status), 1 a media item of a series
    (hashes). Only the origin changes or deletes it: a higher version replaces it, a
    deleted one keeps only its key. On a hub ``log_seq`` is the log entry that last
    set it (what the feed pages by); on a node the local series / media made of it
    (``local_id``), and a media record keeps no payload there (its local media row
    and fingerprints hold its hashes).
    """

    __tablename__ = "fed_record"
    __table_args__ = (
        UniqueConstraint("origin", "origin_id"),
        Index("ix_fed_record_log_seq_kind_id", "log_seq", "kind", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    origin: Mapped[str] = mapped_column(String(200))
    origin_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[int] = mapped_column(Integer)
    series_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    log_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    local_id: Mapped[int | None] = mapped_column(BigInteger)


class FedAgency(Base):
    """A local agency row standing for another node's agency (never shared onward)."""

    __tablename__ = "fed_agency"
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), primary_key=True)
    origin: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(32))


class FedLogEntry(Base):
    """The hub's append-only log: one accepted delta per entry, an RFC 9162 leaf."""

    __tablename__ = "fed_log"
    __table_args__ = (UniqueConstraint("origin", "delta_no"),)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    origin: Mapped[str] = mapped_column(String(200))
    delta_no: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    """The hub's signed checkpoint of the tree ending at this entry."""
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attest: Mapped[str | None] = mapped_column(Text)
    """The origin's signed manifest of the delta (JSON: manifest line and signature),
    forwarded with its records so nodes re-verify the origin's signature."""


class FedSent(Base):
    """What this node last sent of each of its own records (version and digest)."""

    __tablename__ = "fed_sent"
    origin_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class FedOutbox(Base):
    """A prepared, signed delta not yet accepted by the hub: resent byte for byte."""

    __tablename__ = "fed_outbox"
    delta_no: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FedNotice(Base):
    """A blind-hit notice between nodes, stored once (sender, notice id) wherever it
    passes: the finder's outbox (``carried_by`` 0 until a delta carries it, then that
    delta's number), the hub (the log entry that carried it), the owner's inbox."""

    __tablename__ = "fed_notice"
    __table_args__ = (
        UniqueConstraint("sender", "notice_id"),
        Index("ix_fed_notice_carried_by", "carried_by"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sender: Mapped[str] = mapped_column(String(200))
    notice_id: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(Text)
    """The sender's signed note over the body (the owner checks it, not the hub's word)."""
    carried_by: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


__all__ = [
    "MARKER_KINDS",
    "SHARE_LEVELS",
    "SHARE_SCOPES",
    "Agency",
    "AgencyDelivery",
    "ApiToken",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Case",
    "DeliveryAttempt",
    "ExchangeEntry",
    "ExchangeHash",
    "FedAgency",
    "FedLogEntry",
    "FedNotice",
    "FedOutbox",
    "FedPeer",
    "FedRecord",
    "FedSent",
    "FingerprintModel",
    "HitLog",
    "IngestItem",
    "IngestRun",
    "Location",
    "LoginThrottle",
    "Marker",
    "Media",
    "MediaMetadataModel",
    "MediaText",
    "MediaVerdict",
    "Meta",
    "NegativeHash",
    "Notification",
    "NotificationRead",
    "Offender",
    "Overlap",
    "Quarantine",
    "Series",
    "SharingGrant",
    "Sighting",
    "TriageJob",
    "User",
    "Victim",
    "media_location",
    "series_location",
    "series_media",
    "series_offender",
    "series_victim",
]
