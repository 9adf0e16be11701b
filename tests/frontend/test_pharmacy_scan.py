"""Pharmacy view: scans are parsed in the browser and a malformed one is explained before any
node is asked; an uploaded DataMatrix image is decoded in the browser; no camera is explained."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser

GOOD = "(01)09506000134352(17)301231(10)LOT42(21)SN0001"
MALFORMED = {
    "bad_check_digit": ("(01)09506000134353(17)301231(10)LOT42(21)SN0001", "wrong check digit"),
    "missing_serial": ("(01)09506000134352(17)301231(10)LOT42", "(21) serial"),
    "impossible_date": ("(01)09506000134352(17)301331(10)LOT42(21)SN0001", "month 13"),
    "long_serial": ("(01)09506000134352(17)301231(10)LOT42(21)123456789012345678901", "1 to 20 characters, got 21"),
    "junk": ("hello pharmacy", "not a GS1 code"),
}


def test_malformed_scans_are_explained_on_the_page(browse):
    result = browse("pharmacy.mjs", SCANS=json.dumps({k: v[0] for k, v in MALFORMED.items()}))
    for name, (_, words) in MALFORMED.items():
        shown = result["scans"][name]
        assert "error" in shown, f"{name}: expected an error, got {shown}"
        assert shown["error"].startswith("Malformed scan:"), shown
        assert words in shown["error"], f"{name}: {shown['error']!r} lacks {words!r}"


def test_uploaded_datamatrix_is_decoded_in_the_browser(browse):
    result = browse("pharmacy.mjs", IMAGE_SCAN=GOOD)
    # The DataMatrix carries FNC1 separators; the page shows them as <GS>.
    # The DataMatrix carries FNC1 separators (ASCII 29); the page shows them as <GS>.
    assert result["image"]["decoded"].removeprefix("<GS>") == "01095060001343521730123110LOT42<GS>21SN0001"
    assert result["badImage"]["error"] == '"tiny.png" could not be opened as an image.'
    assert result["camera"] == "Cannot use the camera: no camera was found. Paste the code or upload a photo instead."
