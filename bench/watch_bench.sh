#!/usr/bin/env bash
# Benchmark the drop-folder daemon (`tilerun watch`) against the per-file
# tool people would otherwise script: a loop of gdal_calc.py.
#
# Why this exists: the daemon issue promises (1) many small files go >= 20x
# faster than a gdal_calc.py loop doing the same NDVI, and (2) a file renamed
# into the inbox has its output visible <= settle + 0.5 s later. Both are
# shown here, on the box at hand, in one command.
#
# Usage: bench/watch_bench.sh [throughput] [latency]     (default: both)
#
# Environment:
#   TILERUN      binary (default target/release/tilerun; built if missing)
#   N            files for the throughput run (default 500)
#   CALC_SAMPLE  time gdal_calc.py on only this many files and scale up to N
#                (default: all N; a full loop takes minutes)
#   SETTLE       [watch] settle_secs for the daemon (default 1)
#   LAT_RUNS     latency samples (default 5)
#   KEEP=1       keep the work dir (printed at the end)
#
# Throughput: N files of 256x256, 4-band UInt16, staged on the inbox's
# filesystem and renamed in at once; time from the first rename until the
# last input reaches done/ (the daemon is already running and idle). The
# peer: one gdal_calc.py process per file, same NDVI, Float32, nodata -9999,
# DEFLATE tiles. Latency: a 1024x1024 4-band file renamed in; time until its
# output appears in the output folder.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PY=/usr/bin/python3
N=${N:-500}
SETTLE=${SETTLE:-1}
LAT_RUNS=${LAT_RUNS:-5}
TILERUN=${TILERUN:-target/release/tilerun}
SECTIONS=("$@")
[ ${#SECTIONS[@]} -eq 0 ] && SECTIONS=(throughput latency)

if [ ! -x "$TILERUN" ]; then
    echo "building $TILERUN" >&2
    cargo build --release --locked >&2
fi
TILERUN=$(realpath "$TILERUN")
command -v gdal_calc.py >/dev/null || { echo "gdal_calc.py missing (apt-get install gdal-bin python3-gdal)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tilerun-watch-bench.XXXXXX")
DAEMON=""
cleanup() {
    if [ -n "$DAEMON" ] && kill -0 "$DAEMON" 2>/dev/null; then
        kill -TERM "$DAEMON"; wait "$DAEMON" || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Deterministic 4-band UInt16 inputs (blue, green, red, NIR).
make_input() { # size path
    "$PY" - "$1" "$2" <<'EOF'
import sys
import numpy as np
from osgeo import gdal
n, path = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(42)
ds = gdal.GetDriverByName("GTiff").Create(path, n, n, 4, gdal.GDT_UInt16,
                                          ["TILED=YES", "COMPRESS=DEFLATE"])
ds.SetGeoTransform([500000, 10, 0, 4500000, 0, -10])
for b in range(4):
    ds.GetRasterBand(b + 1).WriteArray(rng.integers(100, 4000, (n, n), dtype=np.uint16))
ds = None
EOF
}

# Start a daemon on $WORK/site and wait for its "ready" line.
start_daemon() {
    local site=$WORK/site
    rm -rf "$site"; mkdir -p "$site"/{inbox,out,staging}
    cat > "$site/config.toml" <<EOF
[engine]
workers = 0
[recipes.ndvi]
expr = "(b4 - b3) / (b4 + b3)"
ot = "Float32"
nodata = -9999
output = "{stem}_ndvi.tif"
[watch]
inbox = "$site/inbox"
output = "$site/out"
settle_secs = $SETTLE
[[watch.rules]]
glob = "*.tif"
recipe = "ndvi"
EOF
    "$TILERUN" watch --config "$site/config.toml" --log-format json 2> "$site/daemon.log" &
    DAEMON=$!
    for _ in $(seq 1 600); do
        grep -q '"message":"ready"' "$site/daemon.log" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "daemon never became ready:" >&2; cat "$site/daemon.log" >&2; exit 1
}

stop_daemon() {
    kill -TERM "$DAEMON"; wait "$DAEMON" || true; DAEMON=""
}

throughput() {
    local site=$WORK/site src=$WORK/small.tif
    make_input 256 "$src"
    start_daemon
    for i in $(seq -w 1 "$N"); do cp "$src" "$site/staging/s$i.tif"; done
    # Rename all in, then wait for done/ to hold all N; times in python.
    local secs
    secs=$("$PY" - "$site" "$N" <<'EOF'
import os, sys, time
site, n = sys.argv[1], int(sys.argv[2])
st, inbox, done = f"{site}/staging", f"{site}/inbox", f"{site}/done"
names = sorted(os.listdir(st))
t0 = time.monotonic()
for f in names:
    os.rename(f"{st}/{f}", f"{inbox}/{f}")
while not os.path.isdir(done) or len(os.listdir(done)) < n:
    if time.monotonic() - t0 > 3600:
        sys.exit("timed out")
    time.sleep(0.005)
print(f"{time.monotonic() - t0:.3f}")
EOF
)
    stop_daemon
    local failed
    failed=$(ls "$site/failed" 2>/dev/null | wc -l)
    [ "$failed" = 0 ] || { echo "$failed files failed" >&2; exit 1; }

    local sample=${CALC_SAMPLE:-$N} calc
    mkdir -p "$WORK/calc"
    calc=$("$PY" - "$src" "$WORK/calc" "$sample" <<'EOF'
import subprocess, sys, time
src, out, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.monotonic()
for i in range(k):
    subprocess.run(["gdal_calc.py", "--quiet", "-A", src, "--A_band=4", "-B", src, "--B_band=3",
                    "--calc=(A.astype(float) - B) / (A.astype(float) + B)", "--type=Float32",
                    "--NoDataValue=-9999", "--co=TILED=YES", "--co=COMPRESS=DEFLATE",
                    "--co=PREDICTOR=3", f"--outfile={out}/o{i}.tif"],
                   check=True, stderr=subprocess.DEVNULL)
print(f"{time.monotonic() - t0:.3f}")
EOF
)
    "$PY" - "$N" "$secs" "$sample" "$calc" <<'EOF'
import sys
n, t, k, c = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
peer = c / k * n
print(f"throughput: {n} files 256x256x4 UInt16 -> NDVI Float32")
print(f"  tilerun watch        {t:8.2f} s  ({n / t:7.1f} files/s)")
print(f"  gdal_calc.py loop    {peer:8.2f} s  ({n / peer:7.1f} files/s)"
      + ("" if k == n else f"  [timed {k} files, scaled to {n}]"))
print(f"  speed-up             {peer / t:8.1f}x  (target >= 20x)")
EOF
}

latency() {
    local site=$WORK/site big=$WORK/big.tif
    make_input 1024 "$big"
    start_daemon
    local samples=()
    for r in $(seq 1 "$LAT_RUNS"); do
        cp "$big" "$site/staging/lat$r.tif"
        samples+=("$("$PY" - "$site" "lat$r" <<'EOF'
import os, sys, time
site, stem = sys.argv[1], sys.argv[2]
out = f"{site}/out/{stem}_ndvi.tif"
t0 = time.monotonic()
os.rename(f"{site}/staging/{stem}.tif", f"{site}/inbox/{stem}.tif")
while not os.path.exists(out):
    if time.monotonic() - t0 > 600:
        sys.exit("timed out")
    time.sleep(0.001)
print(f"{time.monotonic() - t0:.3f}")
EOF
)")
    done
    stop_daemon
    "$PY" - "$SETTLE" "${samples[@]}" <<'EOF'
import statistics, sys
settle, s = float(sys.argv[1]), [float(x) for x in sys.argv[2:]]
print(f"latency: 1024x1024x4 UInt16 renamed into the inbox -> NDVI visible (settle_secs = {settle})")
print(f"  samples {', '.join(f'{x:.3f}' for x in s)} s; median {statistics.median(s):.3f} s, "
      f"max {max(s):.3f} s  (target <= settle + 0.5 = {settle + 0.5:.1f} s)")
EOF
}

echo "tilerun: $TILERUN ($("$TILERUN" --version)); $(nproc) cores; GDAL $(gdal-config --version 2>/dev/null || gdalinfo --version)"
for s in "${SECTIONS[@]}"; do
    case "$s" in
        throughput) throughput ;;
        latency) latency ;;
        *) echo "unknown section $s (throughput, latency)" >&2; exit 2 ;;
    esac
done
