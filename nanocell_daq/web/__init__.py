"""``nanocell serve``: a read-only web monitor of a run database (FastAPI + uvicorn; the only package that
imports them). Every script and style is shipped in ``assets/`` (works on an offline lab network)."""
