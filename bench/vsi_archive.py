#!/usr/bin/python3
"""How fast does GDAL 3.6 read a GeoTIFF that sits inside an archive?

Why this exists: issue 14 reads delivery archives (Landsat .tar, Sentinel-2
.SAFE.zip, .tar.gz) in place through /vsitar/ and /vsizip/ instead of
extracting them. That is free for an uncompressed .tar (members are byte
ranges), but a gzip stream cannot be entered in the middle: GDAL must
inflate from the start, or from a snapshot it took earlier, to reach an
offset. This measures what that costs against the plain file, to decide
whether compressed members need decompressing into a spool first.

Usage (from the repo root, system python with osgeo; about a minute):

    /usr/bin/python3 bench/vsi_archive.py [WORKDIR]

WORKDIR (default bench/data/vsi, git-ignored) receives a 4000x4000 UInt16
GeoTIFF (256x256 tiles; smooth field plus noise), once DEFLATE-compressed
(PREDICTOR=2, as agencies deliver) and once uncompressed (where gzip does
shrink the archive, so inflating costs more), and the same file packed as .tar, .tar.gz (gzip -6)
and .zip (deflated), each after three other members of the same size (a
delivery holds several bands; the member read comes last). For each container it times, median of 3 runs, each in
a fresh process so no GDAL state carries over:
  open      gdal.Open of the member (for .tar.gz this lists the archive)
  scan      every 256-row strip top to bottom, all columns (the engine's
            order with full-width windows)
  random    64 random 256x256 windows, tile-aligned (seed fixed)
  reverse   the strips bottom to top
  handles   four more handles opened in the same process (as workers do),
            each reading the last strip
GDAL_CACHEMAX is 16 MB, below the file size, so reads reach the container.
"""

import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile

import numpy as np

SIZE, TILE = 4000, 256
DECOYS = 3
NAME = "LC09_L2SP_TEST_SR_B4.TIF"


def make(work, compress):
    from osgeo import gdal, osr
    path = os.path.join(work, compress, NAME)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        return path
    rng = np.random.default_rng(14)
    coarse = rng.random((SIZE // 200 + 2, SIZE // 200 + 2))
    idx = np.arange(SIZE) / 200.0
    i, t = idx.astype(int), idx % 1.0
    rows = coarse[i] * (1 - t)[:, None] + coarse[i + 1] * t[:, None]
    field = rows[:, i] * (1 - t) + rows[:, i + 1] * t
    data = 8000 + 12000 * field + rng.normal(0, 150, (SIZE, SIZE))
    ds = gdal.GetDriverByName("GTiff").Create(
        path, SIZE, SIZE, 1, gdal.GDT_UInt16,
        ["TILED=YES", f"BLOCKXSIZE={TILE}", f"BLOCKYSIZE={TILE}",
         f"COMPRESS={compress}", "PREDICTOR=2" if compress == "DEFLATE" else "PREDICTOR=1"])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32611)
    ds.SetProjection(srs.ExportToWkt())
    ds.SetGeoTransform((300000.0, 30.0, 0.0, 4200000.0, 0.0, -30.0))
    ds.GetRasterBand(1).WriteArray(np.clip(data, 1, 65535).astype(np.uint16))
    ds = None
    return path


def pack(path):
    work = os.path.dirname(path)
    tar = os.path.join(work, "delivery.tar")
    if not os.path.exists(tar):
        with tarfile.open(tar, "w", format=tarfile.USTAR_FORMAT) as t:
            # Other bands first, as in a bulk delivery: the member read is
            # last, so listing a compressed archive inflates everything.
            for k in range(1, 1 + DECOYS):
                t.add(path, arcname=NAME.replace("B4", f"B{k}X"))
            t.add(path, arcname=NAME)
    tgz = tar + ".gz"
    if not os.path.exists(tgz):
        with open(tar, "rb") as src, gzip.open(tgz, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)
    zp = os.path.join(work, "delivery.zip")
    if not os.path.exists(zp):
        with zipfile.ZipFile(zp, "w", zipfile.ZIP_DEFLATED) as z:
            for k in range(1, 1 + DECOYS):
                z.write(path, arcname=NAME.replace("B4", f"B{k}X"))
            z.write(path, arcname=NAME)
    # Container kind: (GDAL name of the member, file on disk).
    return {
        "plain": (path, path),
        "tar": (f"/vsitar/{tar}/{NAME}", tar),
        "tar.gz": (f"/vsitar/{tgz}/{NAME}", tgz),
        "zip": (f"/vsizip/{zp}/{NAME}", zp),
    }


def child(target, mode):
    """Runs one measurement in this process; prints seconds."""
    from osgeo import gdal
    gdal.SetConfigOption("GDAL_CACHEMAX", "16")
    # No `.properties` sidecar: every run sees the archive for the first
    # time, as the daemon does.
    gdal.SetConfigOption("CPL_VSIL_GZIP_WRITE_PROPERTIES", "NO")
    t0 = time.perf_counter()
    ds = gdal.Open(target)
    band = ds.GetRasterBand(1)
    if mode == "scan" or mode == "reverse":
        starts = range(0, SIZE, TILE)
        for y in (reversed(starts) if mode == "reverse" else starts):
            band.ReadRaster(0, y, SIZE, min(TILE, SIZE - y))
    elif mode == "random":
        rng = np.random.default_rng(7)
        n = SIZE // TILE
        for _ in range(64):
            x, y = rng.integers(0, n, 2) * TILE
            band.ReadRaster(int(x), int(y), min(TILE, SIZE - x), min(TILE, SIZE - y))
    elif mode == "handles":
        # Workers each open their own handle: 4 more, each reading the last
        # strip (after the first handle's open listed the archive).
        for _ in range(4):
            more = gdal.Open(target)  # kept: a band outliving its dataset crashes
            more.GetRasterBand(1).ReadRaster(0, SIZE - TILE, SIZE, TILE)
    print(time.perf_counter() - t0)


def measure(target, mode):
    times = []
    for _ in range(3):
        out = subprocess.run([sys.executable, __file__, "--child", target, mode],
                             check=True, capture_output=True, text=True).stdout
        times.append(float(out))
    return statistics.median(times)


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "data", "vsi")
    modes = ["open", "scan", "random", "reverse", "handles"]
    print(f"{SIZE}x{SIZE} UInt16, {TILE}-pixel tiles, member last of {DECOYS + 1}; "
          "median of 3, seconds")
    for compress in ("DEFLATE", "NONE"):
        targets = pack(make(work, compress))
        print(f"\nTIFF COMPRESS={compress}")
        print(f"{'container':<10}{'MB':>7}" + "".join(f"{m:>10}" for m in modes))
        for kind, (target, file) in targets.items():
            row = [measure(target, m) for m in modes]
            mb = os.path.getsize(file) / 1e6
            print(f"{kind:<10}{mb:>7.1f}" + "".join(f"{t:>10.3f}" for t in row), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
