"""NDVI with rio-mucho: the peer for the codec-bound section of bench/run.sh.

Why this exists: rio-mucho is how a rasterio user spreads a per-window
function over processes, so it is the natural multi-core peer for tilerun's
workers. Its worker processes read and compute; the parent process writes
(and so compresses) every window. rasterio wheels bundle their own GDAL,
which this script prints, so the comparison says which codecs ran.

Usage (run with the interpreter that has rasterio and rio-mucho):

    python rio_mucho_ndvi.py INPUT OUTPUT --processes N --nodata V --co K=V ...
    python rio_mucho_ndvi.py --versions

Bands 3 (red) and 4 (NIR) give (nir - red) / (nir + red) in Float32, computed
in float64 like tilerun; a pixel is nodata where either band is the input's
nodata. The creation options given with --co replace the input's profile
options, so both tools write with exactly the same ones.
"""

import argparse
import sys

import numpy as np
import rasterio
import riomucho


def ndvi(data, window, ij, g):
    """rio-mucho's simple_read: data is [array (bands, rows, cols)]."""
    red = data[0][2].astype(np.float64)
    nir = data[0][3].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = ((nir - red) / (nir + red)).astype(np.float32)
    nd = g["in_nodata"]
    if nd is not None:
        out[(data[0][2] == nd) | (data[0][3] == nd)] = g["nodata"]
    out[np.isnan(out)] = g["nodata"]
    return out[None]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", nargs="?")
    ap.add_argument("output", nargs="?")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--nodata", type=float, default=-3.4028234663852886e38)
    ap.add_argument("--co", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--versions", action="store_true")
    args = ap.parse_args(argv)
    if args.versions:
        print(f"rasterio {rasterio.__version__} (GDAL {rasterio.__gdal_version__}), "
              f"rio-mucho {getattr(riomucho, '__version__', '1.0.0')}")
        return
    if not args.input or not args.output:
        ap.error("INPUT and OUTPUT are required")
    with rasterio.open(args.input) as src:
        profile = {
            "driver": "GTiff",
            "width": src.width,
            "height": src.height,
            "count": 1,
            "dtype": "float32",
            "crs": src.crs,
            "transform": src.transform,
            "nodata": args.nodata,
        }
        windows = [(w, ij) for ij, w in src.block_windows(1)]
        in_nodata = src.nodata
    for kv in args.co:
        key, _, value = kv.partition("=")
        profile[key.lower()] = value
    g = {"nodata": np.float32(args.nodata), "in_nodata": in_nodata}
    with riomucho.RioMucho([args.input], args.output, ndvi, windows=windows,
                           options=profile, global_args=g) as rm:
        rm.run(args.processes)


if __name__ == "__main__":
    main(sys.argv[1:])
