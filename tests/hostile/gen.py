#!/usr/bin/python3
"""Generate the hostile-input corpus: broken, absurd and odd-named inputs.

Why this exists: a drop folder is an open door, so tilerun must refuse
everything it cannot process faithfully (clear error, no output, no crash,
no huge allocation) and process everything it can. Hand-made hostile files
rot and hide what they test; this script builds each case from a few lines
of bytes, deterministically, in well under a second, so the one-shot test
(tests/hostile.rs) and the daemon test run the exact same corpus.

Usage (stable interface, used by both tests):

    /usr/bin/python3 tests/hostile/gen.py OUTDIR

writes every case into OUTDIR (created if missing; existing cases are
replaced) and OUTDIR/manifest.json:

    {"version": 1,
     "cases": [{"name": "trunc_mid_tile.tif",   # display name (lossy UTF-8)
                "name_hex": "7472...",          # exact file-name bytes
                "kind": "file" | "dir" | "symlink" | "fifo",
                "expect": "refuse" | "process", # one-shot `tilerun NAME`
                "daemon": "refuse" | "process", # the same file dropped in
                                                # the inbox of `tilerun watch`
                "expr": "b1",                   # expression to run
                "reason": "short why"}, ...]}

Case names are unique and never contain '/'. Some names hold a newline,
an escape sequence or bytes that are not UTF-8: use name_hex to get the
exact bytes. A summary line per case is also printed on stdout.

Requires /usr/bin/python3 with GDAL's bindings (osgeo) and numpy.
"""

import json
import os
import shutil
import struct
import sys

import numpy as np
from osgeo import gdal

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from craft import (basic, corrupt_tile, huge_count_tiff, interlaced_png,
                   patch_block, png_header, raw_strip_tiff, tiff, tiff_with_loop, vrt, zeros_deflate)  # noqa: E402

gdal.UseExceptions()

CASES = []


def case(name, expect, reason, daemon=None, kind="file", expr="b1"):
    raw = name if isinstance(name, bytes) else name.encode()
    assert b"/" not in raw and raw not in [c["raw"] for c in CASES], name
    CASES.append(
        {
            "raw": raw,
            "kind": kind,
            "expect": expect,
            "daemon": daemon or expect,
            "expr": expr,
            "reason": reason,
        }
    )
    return raw


def gdal_file(path, w, h, dtype=gdal.GDT_Byte, bands=1, options=(), nodata=None, driver="GTiff"):
    rng = np.random.default_rng(42)
    if driver != "GTiff":
        mem = gdal.GetDriverByName("MEM").Create("", w, h, bands, dtype)
        for b in range(bands):
            mem.GetRasterBand(b + 1).WriteArray(rng.integers(1, 250, (h, w)).astype(np.uint8))
        gdal.GetDriverByName(driver).CreateCopy(path, mem, options=list(options))
        return
    ds = gdal.GetDriverByName("GTiff").Create(path, w, h, bands, dtype, list(options))
    ds.SetGeoTransform([500000, 10, 0, 5600000, 0, -10])
    for b in range(bands):
        band = ds.GetRasterBand(b + 1)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        if dtype in (gdal.GDT_CInt16, gdal.GDT_CFloat32):
            continue  # zeros are fine, the type is what is tested
        band.WriteArray(rng.integers(1, 120, (h, w)))
    ds = None


def write(out, raw, data):
    with open(os.path.join(out, os.fsdecode(raw)), "wb") as f:
        f.write(data)


def main(out):
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        p = os.path.join(out, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.remove(p)
    P = lambda raw: os.path.join(out, os.fsdecode(raw))  # noqa: E731

    # ---- good files: processed, and the reference the others break
    good = case("good_tiled.tif", "process", "valid tiled DEFLATE GeoTIFF")
    gdal_file(P(good), 200, 150, options=["TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE"])
    strip = case("good_strip.tif", "process", "valid striped uncompressed Int16, 2 bands")
    gdal_file(P(strip), 120, 90, gdal.GDT_Int16, 2, ["BLOCKYSIZE=7"])
    png = case("good.png", "process", "valid PNG (allowed driver)")
    gdal_file(P(png), 64, 48, driver="PNG")
    jpg = case("good.jpg", "process", "valid JPEG (allowed driver)")
    gdal_file(P(jpg), 64, 48, driver="JPEG")
    ipng = case("interlaced.png", "process", "Adam7-interlaced PNG")
    write(out, ipng, interlaced_png(300, 200))
    write(out, case("trunc_interlaced.png", "refuse", "interlaced PNG cut mid-IDAT"),
          open(P(ipng), "rb").read()[:-400])
    nb1 = case("nbits1.tif", "process", "1-bit samples: GDAL expands them to Byte")
    gdal_file(P(nb1), 50, 30, options=["NBITS=1"])
    nb12 = case("nbits12.tif", "process", "12-bit samples: GDAL expands them to UInt16")
    gdal_file(P(nb12), 50, 30, gdal.GDT_UInt16, options=["NBITS=12", "COMPRESS=LZW"])
    raw3 = case("bits3_raw.tif", "process", "hand-made 3-bit strip: GDAL reads it as Byte")
    write(out, raw3, raw_strip_tiff(40, 10, 3))
    f16 = case("float16.tif", "process", "16-bit IEEE float: GDAL reads it as Float32")
    write(out, f16, raw_strip_tiff(20, 10, 16, fmt=3, fill=0x3C))
    col = case("one_col_tall_strip.tif", "process", "1x100000 raster stored as one 1x100000 strip")
    write(out, col, raw_strip_tiff(1, 100000, 8))
    wide = 100000
    rows = 40
    offs = [("payload", 0)] * rows  # every strip shares one row of bytes
    ent = basic(wide, rows, rows=1, blocks=(offs, [wide] * rows))
    ws = case("wide_strips.tif", "process", "100000x40, one 100000x1 strip per row")
    write(out, ws, tiff(ent, bytes(range(1, 101)) * (wide // 100)))

    # ---- unsupported sample formats
    for name, dt, why in [
        ("complex_cint16.tif", gdal.GDT_CInt16, "complex integer samples"),
        ("complex_cfloat32.tif", gdal.GDT_CFloat32, "complex float samples"),
        ("int64.tif", gdal.GDT_Int64, "64-bit integers do not fit f64 exactly"),
        ("uint64.tif", gdal.GDT_UInt64, "64-bit integers do not fit f64 exactly"),
    ]:
        gdal_file(P(case(name, "refuse", why)), 16, 8, dt)
    write(out, case("bits128.tif", "refuse", "128-bit unsigned samples"), raw_strip_tiff(4, 4, 128))
    write(out, case("float8.tif", "refuse", "8-bit IEEE float"), raw_strip_tiff(4, 4, 8, fmt=3))
    write(out, case("sampleformat_99.tif", "refuse", "unknown SampleFormat 99"), raw_strip_tiff(4, 4, 16, fmt=99))

    # ---- absurd headers: refused before any large allocation
    def header_only(w, h, tile=None, rows=None, bps=8, spp=1):
        return tiff(basic(w, h, bps, spp, tile=tile, rows=rows, blocks=([("payload", 0)], [16])), b"\0" * 16)

    write(out, case("huge_1e9x1e9_tiled.tif", "refuse", "header claims 10^9 x 10^9 pixels"),
          header_only(10**9, 10**9, tile=(256, 256)))
    write(out, case("huge_1e9x1e9_strip.tif", "refuse", "header claims 10^9 x 10^9 pixels in one strip"),
          header_only(10**9, 10**9))
    write(out, case("huge_4e9_wide.tif", "refuse", "width 4294967295 (TIFF maximum)"),
          header_only(2**32 - 1, 1))
    write(out, case("huge_bands.tif", "refuse", "65535 samples per pixel"),
          header_only(10, 10, spp=65535))
    write(out, case("huge_tile.tif", "refuse", "a single 60000x60000 tile (one block of 3.6 GB)"),
          header_only(60000, 60000, tile=(60000, 60000)))
    # Single-strip DEFLATE files: GDAL decodes them a row at a time, so the
    # memory stays flat; what bounds the work is max_pixels. 70000^2 zeros
    # fit in 4.6 MB and are refused by it; 2048^2 are processed.
    def deflate_strip(n):
        z = zeros_deflate(n * n)
        return tiff(basic(n, n, comp=8, blocks=([("payload", 0)], [len(z)])), z)

    write(out, case("deflate_bomb_70000.tif", "refuse", "70000x70000 zeros in one DEFLATE strip (4.9 Gpx)"),
          deflate_strip(70000))
    write(out, case("deflate_strip_2048.tif", "process", "2048x2048 zeros in one DEFLATE strip"),
          deflate_strip(2048))
    write(out, case("zero_dims.tif", "refuse", "width 0"), header_only(0, 10))

    # ---- TIFF structure attacks
    t = bytearray(open(P(good), "rb").read())
    write(out, case("ifd_loop.tif", "process", "IFD chain loops to itself: libtiff warns, image 0 is intact"),
          tiff_with_loop())
    write(out, case("ifd_past_eof.tif", "refuse", "first IFD offset beyond the end of file"),
          b"II*\0" + struct.pack("<I", 0x7FFFFFF0) + b"\0" * 32)
    write(out, case("ifd_65535_entries.tif", "refuse", "IFD declaring 65535 entries"),
          b"II*\0" + struct.pack("<IH", 8, 65535) + b"\0" * 64)
    write(out, case("tag_count_huge.tif", "refuse", "StripOffsets count 2^30 in a tiny file"),
          huge_count_tiff())
    write(out, case("strip_past_eof.tif", "refuse", "strip offset far beyond the end of file"),
          tiff(basic(64, 64, blocks=([0x7FFF0000], [4096])), b""))
    write(out, case("garbage_after_magic.tif", "refuse", "TIFF magic then random bytes"),
          b"II*\0" + np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    write(out, case("bigtiff_magic_only.tif", "refuse", "BigTIFF magic, no IFD"), b"II+\0\x08\0\0\0")

    # ---- truncated at several points (of a valid tiled DEFLATE file)
    ifd_end = 8 + 2 + 12 * struct.unpack("<H", t[8:10])[0] + 4
    for label, cut in [
        ("4b", 4), ("header", 8), ("mid_ifd", 8 + 40), ("after_ifd", ifd_end),
        ("mid_tile_data", len(t) // 2), ("last_byte", len(t) - 1),
    ]:
        write(out, case(f"trunc_{label}.tif", "refuse", f"valid file cut at byte {cut} of {len(t)}"), t[:cut])
    s = open(P(strip), "rb").read()
    write(out, case("trunc_strip_data.tif", "refuse", "uncompressed strips cut mid-data"), s[: len(s) * 2 // 3])
    p = open(P(png), "rb").read()
    write(out, case("trunc.png", "refuse", "PNG cut mid-IDAT"), p[: len(p) * 2 // 3])
    j = open(P(jpg), "rb").read()
    write(out, case("trunc.jpg", "refuse", "JPEG cut mid-scan (libjpeg only warns)"), j[: len(j) * 2 // 3])

    # ---- corrupt or missing block data
    write(out, case("corrupt_tile.tif", "refuse", "garbage inside one DEFLATE tile"), corrupt_tile(P(good)))
    write(out, case("zero_bytecount.tif", "refuse", "one TileByteCounts entry patched to 0: missing data, not sparse"),
          patch_block(P(good), count=0))
    jt = case("jpeg_tiled.tif", "process", "valid tiled JPEG-compressed GeoTIFF")
    gdal_file(P(jt), 200, 150, options=["TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=JPEG"])
    write(out, case("jpeg_tile_short.tif", "refuse", "JPEG tile byte count halved: libjpeg only warns"),
          patch_block(P(jt), count="half"))
    write(out, case("jpeg_tile_garbage.tif", "refuse", "garbage inside one JPEG tile"), corrupt_tile(P(jt)))
    write(out, case("zero_offset.tif", "refuse", "one TileOffsets entry patched to 0"), patch_block(P(good), offset=0))
    sp = case("sparse.tif", "refuse", "GDAL SPARSE_OK file with unwritten tiles (refused unless allow_sparse)")
    ds = gdal.GetDriverByName("GTiff").Create(P(sp), 128, 128, 1, gdal.GDT_Byte,
                                              ["TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "SPARSE_OK=TRUE"])
    ds.GetRasterBand(1).WriteArray(np.full((64, 64), 9, np.uint8), 0, 0)
    ds = None

    # ---- not rasters at all
    write(out, case("empty.tif", "refuse", "zero-byte file"), b"")
    write(out, case("text.tif", "refuse", "text file named .tif"), b"this is not a raster\n" * 10)
    os.mkdir(P(case("dir.tif", "refuse", "directory named .tif", kind="dir")))
    os.mkfifo(P(case("fifo.tif", "refuse", "FIFO named .tif (opening it would block)", kind="fifo")))
    write(out, case("passwd.vrt", "refuse", "VRT reading /etc/passwd (driver not allowed)"), vrt("/etc/passwd"))
    write(out, case("vrt_named.tif", "refuse", "VRT XML in a .tif (driver not allowed)"), vrt("/etc/passwd"))
    write(out, case("vrt_to_good.tif", "refuse", "VRT pointing at a valid file (driver not allowed)"),
          vrt(os.path.abspath(P(good))))
    write(out, case("vsicurl.vrt", "refuse", "VRT pointing at a /vsicurl/ URL"), vrt("/vsicurl/http://127.0.0.1:9/x.tif"))
    write(out, case("png_huge_ihdr.png", "refuse", "PNG header claims 100000x100000"), png_header(100000, 100000))
    write(out, case("jpeg_sof_only.jpg", "refuse", "JPEG markers without a scan"), b"\xff\xd8\xff\xc0\0\x0b\x08\xff\xf0\xff\xf0\x01\x01\x11\0\xff\xd9")

    # ---- odd names (valid content): processed, logged escaped
    body = open(P(good), "rb").read()
    for raw, why in [
        (b"new\nline.tif", "newline in the name"),
        (b"bad\xff\xfebytes.tif", "name is not UTF-8"),
        (b"-x.tif", "leading dash (needs `--` on the command line)"),
        (b"esc\x1b[31mred.tif", "terminal escape sequence in the name"),
        (b"tab\tand space.tif", "tab and space in the name"),
        ("\u00fcnic\u00f6de \u202eflipped.tif".encode(), "non-ASCII and a bidi override"),
        (b"GTIFF_DIR:1:good_tiled.tif", "name that looks like GDAL's GTIFF_DIR: syntax"),
    ]:
        write(out, case(raw, "process", why), body)

    # ---- the same file twice, and links
    os.link(P(good), P(case("dup_hardlink.tif", "process", "hard link to good_tiled.tif")))
    shutil.copy(P(good), P(case("dup_copy.tif", "process", "byte copy of good_tiled.tif")))
    os.symlink("good_tiled.tif", P(case("symlink_inside.tif", "process",
                                        "symlink to a file in the same folder (daemon refuses symlinks)",
                                        daemon="refuse", kind="symlink")))
    os.symlink("/etc/passwd", P(case("symlink_passwd.tif", "refuse", "symlink to /etc/passwd", kind="symlink")))

    manifest = {
        "version": 1,
        "cases": [
            {
                "name": c["raw"].decode("utf-8", "replace"),
                "name_hex": c["raw"].hex(),
                **{k: c[k] for k in ("kind", "expect", "daemon", "expr", "reason")},
            }
            for c in CASES
        ],
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=True)
    for c in CASES:
        print(f"{c['expect']:8} {c['daemon']:8} {c['raw'].decode('utf-8', 'backslashreplace')!r:40} {c['reason']}")
    print(f"{len(CASES)} cases in {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gen.py OUTDIR")
    main(sys.argv[1])
