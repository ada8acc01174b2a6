"""Byte-level builders for the hostile corpus (used by gen.py).

Why this exists: the interesting hostile files are ones GDAL will not write
(absurd headers, broken block tables, decompression bombs, damaged tiles),
so they are assembled here from bytes: a minimal classic-TIFF writer, patches
applied to GDAL-written files, and tiny PNG/VRT builders. Pure Python, no
GDAL, deterministic.
"""

import struct
import zlib

import numpy as np

# ---------------------------------------------------------------- raw TIFF

# TIFF field types: SHORT, LONG, LONG8 (BigTIFF only).
SHORT, LONG = 3, 4


def tiff(entries, payload=b"", order="<"):
    """A classic TIFF: header, one IFD right after it, then `payload`.

    `entries` maps tag -> (type, [values]); offsets into the payload are
    given relative to its start as ("payload", n) and fixed up here. Values
    that do not fit in the 4-byte slot are stored after the IFD.
    """
    tags = sorted(entries.items())
    ifd_size = 2 + 12 * len(tags) + 4
    extra_start = 8 + ifd_size
    # First pass: the size of the out-of-line values decides where the
    # payload begins.
    extra_len = 0
    for _, (typ, vals) in tags:
        size = {SHORT: 2, LONG: 4}[typ] * len(vals)
        if size > 4:
            extra_len += size + (size & 1)
    payload_start = extra_start + extra_len

    def resolve(v):
        return payload_start + v[1] if isinstance(v, tuple) else v

    head = (b"II*\0" if order == "<" else b"MM\0*") + struct.pack(order + "I", 8)
    ifd = struct.pack(order + "H", len(tags))
    extra = b""
    for tag, (typ, vals) in tags:
        vals = [resolve(v) for v in vals]
        fmt = {SHORT: "H", LONG: "I"}[typ]
        data = struct.pack(order + fmt * len(vals), *vals)
        if len(data) <= 4:
            ifd += struct.pack(order + "HHI", tag, typ, len(vals))
            ifd += data.ljust(4, b"\0")
        else:
            ifd += struct.pack(order + "HHII", tag, typ, len(vals), extra_start + len(extra))
            extra += data + (b"\0" if len(data) & 1 else b"")
    ifd += struct.pack(order + "I", 0)
    out = head + ifd + extra
    assert len(out) == payload_start
    return out + payload


def basic(w, h, bps=8, spp=1, fmt=1, comp=1, tile=None, rows=None, blocks=None):
    """Entries for a minimal-but-valid TIFF; `blocks` = (offsets, counts)."""
    e = {
        256: (LONG, [w]),
        257: (LONG, [h]),
        258: (SHORT, [bps] * spp),
        259: (SHORT, [comp]),
        262: (SHORT, [1]),  # BlackIsZero
        277: (SHORT, [spp]),
        284: (SHORT, [1]),  # contiguous
        339: (SHORT, [fmt] * spp),
    }
    offs, counts = blocks
    if tile:
        e[322] = (LONG, [tile[0]])
        e[323] = (LONG, [tile[1]])
        e[324] = (LONG, offs)
        e[325] = (LONG, counts)
    else:
        e[278] = (LONG, [rows if rows is not None else h])
        e[273] = (LONG, offs)
        e[279] = (LONG, counts)
    return e


def raw_strip_tiff(w, h, bps, spp=1, fmt=1, fill=7):
    """An uncompressed single-strip TIFF of any sample layout."""
    n = (w * bps * spp + 7) // 8 * h
    return tiff(basic(w, h, bps, spp, fmt, blocks=([("payload", 0)], [n])), bytes([fill]) * n)


_BOMB = {}


def zeros_deflate(n):
    """zlib stream of n zero bytes, built from one repeated full-flush chunk."""
    if n in _BOMB:
        return _BOMB[n]
    chunk = 1 << 24
    if n < 2 * chunk:
        _BOMB[n] = zlib.compress(bytes(n), 9)
        return _BOMB[n]
    c = zlib.compressobj(9)
    first = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    # After a full flush the compressor forgets its history, so the same
    # input compresses to the same bytes: header + piece * k + tail.
    piece = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    assert first[2:] == piece
    k, rest = divmod(n, chunk)
    tail = c.compress(bytes(rest)) + c.flush(zlib.Z_FINISH)
    # The trailer is the Adler-32 of all n zero bytes: a = 1, b = n mod 65521.
    tail = tail[:-4] + struct.pack(">HH", n % 65521, 1)
    head, body = first, piece
    k -= 1
    _BOMB[n] = head + body * k + tail
    return _BOMB[n]


def tiff_with_loop():
    e = basic(8, 8, blocks=([("payload", 0)], [64]))
    data = bytearray(tiff(e, bytes(64)))
    n = struct.unpack("<H", data[8:10])[0]
    struct.pack_into("<I", data, 8 + 2 + 12 * n, 8)  # next IFD = this one
    return bytes(data)


def huge_count_tiff():
    data = bytearray(tiff(basic(64, 64, blocks=([("payload", 0)], [4096])), bytes(4096)))
    n = struct.unpack("<H", data[8:10])[0]
    for i in range(n):
        at = 10 + 12 * i
        if struct.unpack("<H", data[at:at + 2])[0] in (273, 279):
            struct.pack_into("<I", data, at + 4, 1 << 30)
    return bytes(data)


def block_arrays(path):
    """(offset-array position, count-array position, n) of a GDAL-written tiled TIFF."""
    data = open(path, "rb").read()
    n = struct.unpack("<H", data[8:10])[0]
    pos = {}
    for i in range(n):
        tag, typ, cnt, val = struct.unpack("<HHII", data[10 + 12 * i: 22 + 12 * i])
        pos[tag] = (typ, cnt, val)
    return data, pos


def patch_block(path, offset=None, count=None):
    data, pos = block_arrays(path)
    data = bytearray(data)
    for tag, val in ((324, offset), (325, count)):
        if val is None:
            continue
        typ, cnt, at = pos[tag]
        size = {SHORT: 2, LONG: 4}[typ]
        fmt = "<H" if typ == SHORT else "<I"
        assert cnt > 1
        where = at + size * (cnt // 2)
        if val == "half":
            val = struct.unpack_from(fmt, data, where)[0] // 2
        struct.pack_into(fmt, data, where, val)
    return bytes(data)


def corrupt_tile(path):
    data, pos = block_arrays(path)
    data = bytearray(data)
    _, cnt, at = pos[324]
    typ_c, _, at_c = pos[325]
    i = cnt // 2
    off = struct.unpack("<I", data[at + 4 * i: at + 4 * i + 4])[0]
    if typ_c == SHORT:
        size = struct.unpack("<H", data[at_c + 2 * i: at_c + 2 * i + 2])[0]
    else:
        size = struct.unpack("<I", data[at_c + 4 * i: at_c + 4 * i + 4])[0]
    junk = np.random.default_rng(7).integers(0, 256, size - 8, dtype=np.uint8).tobytes()
    data[off + 4: off + size - 4] = junk
    return bytes(data)


def vrt(target):
    return (
        '<VRTDataset rasterXSize="16" rasterYSize="16">\n'
        ' <VRTRasterBand dataType="Byte" band="1">\n'
        f'  <SimpleSource><SourceFilename relativeToVRT="0">{target}</SourceFilename>'
        "<SourceBand>1</SourceBand></SimpleSource>\n"
        " </VRTRasterBand>\n</VRTDataset>\n"
    ).encode()


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def interlaced_png(w, h):
    """8-bit grey, Adam7: each pass's rows hold a gradient, filter type 0."""
    raw = b""
    for x0, y0, dx, dy in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                           (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
        for y in range(y0, h, dy):
            raw += b"\0" + bytes((x * 7 + y * 3) % 251 for x in range(x0, w, dx))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9))
            + png_chunk(b"IEND", b""))


def png_header(w, h):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
