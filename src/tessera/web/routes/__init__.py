"""The web UI's pages, one module per area (each an ``APIRouter`` of ``WebRoute``s)."""
