"""What a PDQ search needs, whichever index answers it.

The command line searches the writer's ``PdqStore``; a server worker searches its
``LivePdqIndex`` (read-only, refreshed in the background). Matching code and use
cases take either through this protocol.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from tessera.matching.pdq_store import PdqHit


class PdqSearcher(Protocol):
    def search(
        self,
        codes: NDArray[np.uint8],
        *,
        radius: int = ...,
        min_quality: int = ...,
    ) -> list[PdqHit]:
        """Stored fingerprints within ``radius`` of each query code, quality-filtered."""
        ...


__all__ = ["PdqSearcher"]
