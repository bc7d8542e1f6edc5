"""Route modules: ``v1`` (Tessera's REST API), ``hma`` (Meta HMA-compatible), ``health``."""
