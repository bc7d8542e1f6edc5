"""Exchange formats: reading and writing what agencies already share.

One module per format (``vics``, ``icse_csv``, ``hashlist``, ``te_csv``,
``ncmec_xml`` read only, ``bundle``), each converting to and from the one
:class:`~tessera.exchange.model.ExchangeRecord`. Codecs are pure (streams in,
records out); applying records to the database lives in ``tessera.storage``
(``storage.exchange``) and the use cases in ``tessera.app``.
"""

from __future__ import annotations

FORMATS = ("vics", "icse-csv", "hashlist", "te-csv", "ncmec-xml", "bundle")
EXPORT_FORMATS = ("vics", "icse-csv", "hashlist", "te-csv", "bundle")

__all__ = ["EXPORT_FORMATS", "FORMATS"]
