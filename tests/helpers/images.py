"""Images with identifying metadata, byte by byte: a JPEG with EXIF (GPS), XMP, IPTC
and a comment naming Jane Doe, and the segments it is built of."""

from __future__ import annotations

import struct

NAME = b"Jane Doe"


# --- JPEG -------------------------------------------------------------------------


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def exif_with_gps() -> bytes:
    """Build a big-endian TIFF block: IFD0 -> GPS IFD holding 48°51'29.64"N."""
    ifd0 = struct.pack(">H", 1) + struct.pack(">HHII", 0x8825, 4, 1, 26) + struct.pack(">I", 0)
    # GPS IFD at 26: LatitudeRef "N" inline, Latitude as three rationals at offset 56.
    gps = (
        struct.pack(">H", 2)
        + struct.pack(">HHI4s", 0x0001, 2, 2, b"N\x00\x00\x00")
        + struct.pack(">HHII", 0x0002, 5, 3, 56)
        + struct.pack(">I", 0)
    )
    latitude = struct.pack(">6I", 48, 1, 51, 1, 2964, 100)
    return b"MM\x00\x2a" + struct.pack(">I", 8) + ifd0 + gps + latitude


APP0 = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
APP1_EXIF = segment(0xE1, b"Exif\x00\x00" + exif_with_gps())
APP1_XMP = segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<dc:creator>" + NAME + b"</dc:creator>")
APP2_ICC = segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + bytes(range(32)))
APP13_IPTC = segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0c\x1c\x02P" + NAME)
APP14_ADOBE = segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")
COM = segment(0xFE, b"Taken by " + NAME)
DQT = segment(0xDB, b"\x00" + bytes(range(1, 65)))
# A one-component scan header, entropy-coded bytes (with a stuffed 0xFF00) and EOI.
SCAN = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x12\x34\xff\x00\x56\x78" + b"\xff\xd9"
JPEG = (
    b"\xff\xd8"
    + APP0
    + APP1_EXIF
    + APP1_XMP
    + APP2_ICC
    + APP13_IPTC
    + COM
    + DQT
    + APP14_ADOBE
    + SCAN
)
