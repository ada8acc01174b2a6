#!/usr/bin/python3
"""Delivery-sized multi-file inputs for bench/sets.sh (run by
bench/gen_inputs.py --sets).

Why: the multi-file benchmarks must read what agencies deliver, at their
size, with their encodings: a Landsat Collection 2 Level-2 set (three
7801x7911 UInt16 GeoTIFFs, DEFLATE, tiled, nodata 0 / fill 1) and a
Sentinel-2 L2A set (B04 and B08 as 10980x10980 UInt16 JPEG 2000, SCL as a
5490x5490 Byte JPEG 2000 at 20 m, 1024-pixel tiles, lossless) on one UTM
tile. Values are smooth fields plus noise, like the other bench inputs.

  OUTDIR/landsat/LC09_L2SP_042034_20231015_20231019_02_T1_{SR_B4,SR_B5,QA_PIXEL}.TIF
  OUTDIR/s2/T33UUP_20231015T101019_{B04_10m,B08_10m}.jp2, …_SCL_20m.jp2

Existing files are kept (delete them to regenerate); each is written under
a temporary name and renamed when complete.
"""

import os
import time

import numpy as np
from osgeo import gdal, osr

from gen_inputs import Fbm, contrast

LANDSAT = "LC09_L2SP_042034_20231015_20231019_02_T1"
S2 = "T33UUP_20231015T101019"
STRIP = 512


def srs(epsg):
    s = osr.SpatialReference()
    s.ImportFromEPSG(epsg)
    return s.ExportToWkt()


def write_tif(path, w, h, gt, epsg, nodata, strip, co, scale=None):
    """A GTiff of one band written strip by strip; scale = (scale, offset)."""
    if os.path.exists(path):
        print(f"keep {path}")
        return
    tmp = path + ".part"
    ds = gdal.GetDriverByName("GTiff").Create(tmp, w, h, 1, gdal.GDT_UInt16 if strip(0, 1).dtype == np.uint16 else gdal.GDT_Byte, options=co)
    ds.SetGeoTransform(gt)
    ds.SetProjection(srs(epsg))
    b = ds.GetRasterBand(1)
    if nodata is not None:
        b.SetNoDataValue(nodata)
    if scale:
        b.SetScale(scale[0])
        b.SetOffset(scale[1])
    for y0 in range(0, h, STRIP):
        b.WriteArray(strip(y0, min(y0 + STRIP, h)), 0, y0)
    ds = None
    os.replace(tmp, path)


def landsat(outdir):
    d = os.path.join(outdir, "landsat")
    os.makedirs(d, exist_ok=True)
    w, h = 7801, 7911
    veg, cloud = Fbm(11, h, w, 512, 5), Fbm(12, h, w, 256, 4)
    fill = lambda y0, y1: (np.arange(w)[None, :] - 0.22 * np.arange(y0, y1)[:, None]) < 400

    def sr(which):
        def strip(y0, y1):
            v = contrast(veg.strip(y0, y1), 2.5)
            refl = 0.03 + 0.12 * (1 - v) if which == 4 else 0.18 + 0.3 * v
            rng = np.random.default_rng([which, y0])
            dn = (refl + rng.normal(0, 0.004, refl.shape) + 0.2) / 2.75e-5
            dn = np.clip(np.rint(dn), 1, 65535).astype(np.uint16)
            dn[fill(y0, y1)] = 0
            return dn
        return strip

    def qa(y0, y1):
        c = cloud.strip(y0, y1)
        q = np.where(c > 0.62, 0b1000 | (3 << 8), np.where(c > 0.58, 0b10 | (2 << 8), 0b1000000 | (1 << 8)))
        q = q.astype(np.uint16)
        q[fill(y0, y1)] = 1
        return q

    co = ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=DEFLATE", "PREDICTOR=2", "NUM_THREADS=ALL_CPUS"]
    gt = (241785.0, 30.0, 0.0, 4101015.0, 0.0, -30.0)
    t0 = time.monotonic()
    write_tif(f"{d}/{LANDSAT}_SR_B4.TIF", w, h, gt, 32611, 0, sr(4), co, (2.75e-05, -0.2))
    write_tif(f"{d}/{LANDSAT}_SR_B5.TIF", w, h, gt, 32611, 0, sr(5), co, (2.75e-05, -0.2))
    write_tif(f"{d}/{LANDSAT}_QA_PIXEL.TIF", w, h, gt, 32611, 1, qa, co)
    print(f"landsat set in {d}: {time.monotonic() - t0:.0f} s")


def jp2(path, w, h, px, strip):
    """Lossless JPEG 2000 with 1024-pixel tiles, via a temporary GTiff."""
    if os.path.exists(path):
        print(f"keep {path}")
        return
    t0 = time.monotonic()
    tif = path + ".src.tif"
    write_tif(tif, w, h, (300000.0, px, 0.0, 5900040.0, 0.0, -px), 32633, None, strip,
              ["TILED=YES", "COMPRESS=DEFLATE", "NUM_THREADS=ALL_CPUS"])
    opts = ["CODEC=JP2", "QUALITY=100", "REVERSIBLE=YES", "BLOCKXSIZE=1024", "BLOCKYSIZE=1024",
            "RESOLUTIONS=6", "PROGRESSION=LRCP", "NBITS=15" if strip(0, 1).dtype == np.uint16 else "NBITS=8"]
    gdal.Translate(path + ".part", tif, format="JP2OpenJPEG", creationOptions=opts)
    os.remove(tif)
    os.replace(path + ".part", path)
    print(f"wrote {path}: {os.path.getsize(path) / 1e6:.0f} MB, {time.monotonic() - t0:.0f} s")


def sentinel2(outdir):
    d = os.path.join(outdir, "s2")
    os.makedirs(d, exist_ok=True)
    n = 10980
    veg, cloud = Fbm(21, n, n, 1024, 5), Fbm(22, n // 2, n // 2, 256, 4)

    def band(which):
        def strip(y0, y1):
            v = contrast(veg.strip(y0, y1), 2.5)
            refl = 0.03 + 0.12 * (1 - v) if which == 4 else 0.18 + 0.3 * v
            rng = np.random.default_rng([which, y0])
            dn = np.rint((refl + rng.normal(0, 0.004, refl.shape)) * 10000 + 1000)
            return np.clip(dn, 1, 32767).astype(np.uint16)
        return strip

    def scl(y0, y1):
        c = cloud.strip(y0, y1)
        return np.where(c > 0.62, 9, np.where(c > 0.58, 8, np.where(c < 0.3, 6, 4))).astype(np.uint8)

    jp2(f"{d}/{S2}_B04_10m.jp2", n, n, 10.0, band(4))
    jp2(f"{d}/{S2}_B08_10m.jp2", n, n, 10.0, band(8))
    jp2(f"{d}/{S2}_SCL_20m.jp2", n // 2, n // 2, 20.0, scl)


def main(outdir):
    gdal.UseExceptions()
    landsat(outdir)
    sentinel2(outdir)
