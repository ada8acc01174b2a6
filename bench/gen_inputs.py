#!/usr/bin/python3
"""Generate the large synthetic inputs that bench/run.sh times tilerun on.

Why this exists: benchmarks need inputs big enough that I/O, compression and
threading matter (8192x8192), with realistic compressibility (smooth fields
plus sensor-like noise, not white noise) so DEFLATE costs what it costs on
real imagery. They are too big to commit, so they are regenerated on demand,
deterministically (fixed seeds), into a git-ignored directory.

Usage (from the repo root, with the system python that has osgeo):

    /usr/bin/python3 bench/gen_inputs.py [OUTDIR] [--scale 1|2] [--force]
    /usr/bin/python3 bench/gen_inputs.py [OUTDIR] --sets   # bench/sets.sh's deliveries

OUTDIR defaults to bench/data. Files:
  scene.tif    8192x8192 4-band UInt16 (blue, green, red, nir), pixel-
               interleaved, 512x512 tiles, DEFLATE PREDICTOR=2, nodata 0 on
               the first 256 columns, EPSG:32633, 10 m. NIR > red on most
               pixels so NDVI is meaningful.
  scene4x.tif  (--scale 2 only) same recipe at 16384x16384 (4x the pixels),
               for the peak-RSS growth check.
  noisy.tif    codec-bound scene: the scene.tif recipe with strong per-pixel
               noise (sigma 400 DN), pixel-interleaved, 512x512 tiles,
               DEFLATE without predictor. Noise leaves DEFLATE little to
               find, so decoding and encoding dominate the CPU and the maths
               is nearly free: it shows what workers cost beyond the codec.
  dem.tif      8192x8192 Float32 terrain in metres, 512x512 tiles, DEFLATE
               PREDICTOR=3, nodata -9999 in two holes, EPSG:32633, 30 m.

A file that already exists with the expected size, type and recipe tag is
kept, so reruns are cheap; --force regenerates. Files are written to a
temporary name and renamed when complete, so an interrupted run never
leaves a truncated file that looks finished.

Memory: fields are built one 512-row tile row at a time from coarse random
lattices, so peak memory is a few hundred MB even for scene4x.
"""

import argparse
import os
import sys
import time

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

RECIPE = "tilerun-bench-v1"
TILE = 512
CO_COMMON = ["TILED=YES", f"BLOCKXSIZE={TILE}", f"BLOCKYSIZE={TILE}",
             "COMPRESS=DEFLATE", "NUM_THREADS=ALL_CPUS", "BIGTIFF=IF_SAFER"]


class Fbm:
    """Fractal value noise in [0, 1) over a width x height raster, evaluated
    strip by strip: each octave is a coarse random lattice interpolated with
    smoothstep, so any strip can be produced without the whole field."""

    def __init__(self, seed, height, width, base_cell, octaves):
        rng = np.random.default_rng(seed)
        self.octaves = []
        amp, cell, total = 1.0, base_cell, 0.0
        for _ in range(octaves):
            lattice = rng.random((height // cell + 2, width // cell + 2)).astype(np.float32)
            ix, tx = self._axis(np.arange(width), cell)
            self.octaves.append((lattice, cell, amp, ix, tx))
            total += amp
            amp *= 0.5
            cell = max(cell // 2, 2)
        self.total = total

    @staticmethod
    def _axis(coords, cell):
        f = (coords + 0.5) / cell
        i = np.floor(f).astype(np.int64)
        t = (f - i).astype(np.float32)
        return i, t * t * (3.0 - 2.0 * t)

    def strip(self, y0, y1):
        out = None
        for lattice, cell, amp, ix, tx in self.octaves:
            iy, ty = self._axis(np.arange(y0, y1), cell)
            rows = lattice[iy] * (1.0 - ty)[:, None] + lattice[iy + 1] * ty[:, None]
            v = rows[:, ix] * (1.0 - tx) + rows[:, ix + 1] * tx
            v *= amp / self.total
            out = v if out is None else out + v
        return out


def contrast(f, k):
    """Stretch an fbm value (which clusters around 0.5) to fill [0, 1]."""
    return np.clip((f - 0.5) * k + 0.5, 0.0, 1.0)


def scene_writer(size, seed, noise=25.0):
    """Return (bands, gdal_type, strip_fn) for the multispectral scene, with
    per-pixel Gaussian noise of `noise` DN (sensor-like by default)."""
    scale = size / 8192.0
    veg = Fbm(seed + 1, size, size, int(1024 * scale), 5)
    bright = Fbm(seed + 2, size, size, int(2048 * scale), 4)
    water = Fbm(seed + 3, size, size, int(2048 * scale), 3)
    wet = np.array([420.0, 520.0, 260.0, 150.0], dtype=np.float32)[:, None, None]
    nodata_cols = int(256 * scale)

    def strip(y0, y1):
        v = contrast(veg.strip(y0, y1), 2.5)
        b = contrast(bright.strip(y0, y1), 2.0)
        w = np.clip((0.3 - water.strip(y0, y1)) * 8.0, 0.0, 1.0)
        land = np.stack([
            250 + 400 * b + 250 * (1 - v),
            400 + 500 * b + 250 * v,
            300 + 1400 * (1 - v) * (0.5 + b),
            1500 + 3200 * v + 600 * b,
        ])
        bands = land * (1 - w) + wet * w
        rng = np.random.default_rng([seed, y0])
        bands += rng.standard_normal(bands.shape, dtype=np.float32) * noise
        out = np.clip(np.rint(bands), 1, 65535).astype(np.uint16)
        out[:, :, :nodata_cols] = 0
        return out

    return 4, gdal.GDT_UInt16, strip


def dem_writer(size, seed):
    """Return (bands, gdal_type, strip_fn) for the terrain model."""
    base = Fbm(seed + 1, size, size, 2048, 6)
    ridges = Fbm(seed + 2, size, size, 512, 4)
    xs = np.arange(size, dtype=np.float32)
    holes = [(0.55 * size, 0.45 * size, 0.05 * size), (0.2 * size, 0.8 * size, 0.015 * size)]

    def strip(y0, y1):
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        z = 200.0 + 2600.0 * contrast(base.strip(y0, y1), 2.0)
        r = ridges.strip(y0, y1)
        z += 500.0 * (1.0 - np.abs(2.0 * r - 1.0)) ** 2
        z += 0.02 * xs - 0.01 * ys
        rng = np.random.default_rng([seed, y0])
        z += rng.standard_normal(z.shape, dtype=np.float32) * 0.1
        for cy, cx, rad in holes:
            z[(ys - cy) ** 2 + (xs - cx) ** 2 <= rad * rad] = -9999.0
        return z[None].astype(np.float32)

    return 1, gdal.GDT_Float32, strip


def is_current(path, size, bands, gdal_type):
    if not os.path.exists(path):
        return False
    try:
        ds = gdal.Open(path)
    except RuntimeError:
        return False
    return (ds.RasterXSize == size and ds.RasterYSize == size
            and ds.RasterCount == bands
            and ds.GetRasterBand(1).DataType == gdal_type
            and ds.GetMetadataItem("GENERATOR_RECIPE") == RECIPE)


def generate(path, size, make, seed, options, pixel, origin, nodata,
             descriptions=None, force=False):
    bands, gdal_type, strip = make(size, seed)
    if not force and is_current(path, size, bands, gdal_type):
        print(f"keep {path} (already {size}x{size}, {RECIPE})")
        return
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".part")
    if os.path.exists(tmp):
        os.remove(tmp)
    t0 = time.monotonic()
    ds = gdal.GetDriverByName("GTiff").Create(tmp, size, size, bands, gdal_type,
                                              options=options)
    ds.SetGeoTransform((origin[0], pixel, 0.0, origin[1], 0.0, -pixel))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.SetMetadata({"GENERATOR": "bench/gen_inputs.py", "GENERATOR_RECIPE": RECIPE,
                    "SENSOR": "synthetic"})
    for b in range(bands):
        band = ds.GetRasterBand(b + 1)
        band.SetNoDataValue(nodata)
        if descriptions:
            band.SetDescription(descriptions[b])
    # One tile row at a time, all bands together: each write completes whole
    # pixel-interleaved tiles, so GDAL can compress and flush them at once.
    for y0 in range(0, size, TILE):
        y1 = min(y0 + TILE, size)
        ds.WriteArray(strip(y0, y1), xoff=0, yoff=y0)
    ds.FlushCache()
    ds = None
    os.replace(tmp, path)
    mb = os.path.getsize(path) / 1e6
    print(f"wrote {path}: {size}x{size}x{bands}, {mb:.0f} MB, "
          f"{time.monotonic() - t0:.1f} s")


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?", default=os.path.join(here, "data"))
    ap.add_argument("--scale", type=int, choices=(1, 2), default=1,
                    help="2 also writes scene4x.tif (16384x16384)")
    ap.add_argument("--force", action="store_true", help="regenerate existing files")
    ap.add_argument("--sets", action="store_true",
                    help="only the multi-file deliveries of bench/sets.sh (see gen_sets.py)")
    args = ap.parse_args(argv)
    if args.sets:
        import gen_sets
        gen_sets.main(args.outdir)
        return
    os.makedirs(args.outdir, exist_ok=True)
    gdal.SetCacheMax(512 * 1024 * 1024)

    scene_co = CO_COMMON + ["PREDICTOR=2", "INTERLEAVE=PIXEL"]
    names = ["blue", "green", "red", "nir"]
    generate(os.path.join(args.outdir, "scene.tif"), 8192, scene_writer, 2024,
             scene_co, 10.0, (500000.0, 5600000.0), 0, names, args.force)
    if args.scale == 2:
        generate(os.path.join(args.outdir, "scene4x.tif"), 16384, scene_writer, 2024,
                 scene_co, 10.0, (500000.0, 5600000.0), 0, names, args.force)
    generate(os.path.join(args.outdir, "noisy.tif"), 8192,
             lambda size, seed: scene_writer(size, seed, noise=400.0), 3036,
             CO_COMMON + ["INTERLEAVE=PIXEL"], 10.0, (500000.0, 5600000.0), 0, names,
             args.force)
    generate(os.path.join(args.outdir, "dem.tif"), 8192, dem_writer, 4048,
             CO_COMMON + ["PREDICTOR=3"], 30.0, (400000.0, 5700000.0), -9999.0,
             None, args.force)


if __name__ == "__main__":
    main(sys.argv[1:])
