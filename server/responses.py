"""The server's JSON answers, encoded by orjson.

FastAPI deprecated its ``ORJSONResponse`` in favour of Pydantic encoding response models; the answers here
are mostly plain dicts and lists built by the reads (history rows, series, summaries), which orjson encodes
directly, numpy arrays included.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """A JSON answer encoded by orjson (non-string keys and numpy arrays as they are)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
