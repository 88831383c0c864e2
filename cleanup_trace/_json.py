"""JSON text by one C encoder made once.

``json.dumps`` and ``JSONEncoder.encode`` make a new C encoder at every call (with a dict
to detect cycles, which the tool's values never have: they are trees, shared objects
being ``py/id`` references). For the many small texts a recording makes (a canonical
text per case, a layout per level of a data file), that making was a third of the time.
"""
from __future__ import annotations

import json
from typing import Any, Callable


def encoder(*, sort_keys: bool = False, item_separator: str = ", ", key_separator: str = ": ") -> Callable[[Any], str]:
    """``json.JSONEncoder(allow_nan=True, sort_keys=..., separators=...).encode`` as a
    function; the standard one where the C accelerator is missing or takes other
    arguments (checked on a sample at once)."""
    standard = json.JSONEncoder(allow_nan=True, sort_keys=sort_keys, separators=(item_separator, key_separator))
    make = getattr(json.encoder, "c_make_encoder", None)
    text_of = getattr(json.encoder, "c_encode_basestring_ascii", None)
    if make is None or text_of is None:
        return standard.encode
    try:
        # (the arguments JSONEncoder.iterencode passes it, without the cycle check)
        chunks_of = make(None, standard.default, text_of, None, key_separator, item_separator, sort_keys, False, True)

        def encode(value: Any, _join: Callable = "".join) -> str:
            return text_of(value) if type(value) is str else _join(chunks_of(value, 0))

        sample = {"b": [1, 2.5, float("nan"), None, True, "é\"\n"], "a": {"c": -0.0, "d": 10 ** 30}}
        if encode(sample) == standard.encode(sample):
            return encode
    except Exception:  # (another Python's accelerator)
        pass
    return standard.encode


# The tool's own reading and indented writing, made from the codec's classes when the
# tool is imported: a test patching ``json.loads`` or ``json.dumps`` patches the json
# module itself (pyjwt's ``mock.patch("jwt.api_jwt.json.loads", side_effect=[...])``),
# and must neither see the tool's calls nor feed them its fakes.
loads: Callable[[str], Any] = json.decoder.JSONDecoder().decode
indented: Callable[[Any], str] = json.encoder.JSONEncoder(indent=2, allow_nan=True).encode
