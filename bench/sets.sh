#!/usr/bin/env bash
# Multi-file deliveries: tilerun against the GDAL tools on the same files in
# the same run (inputs from bench/gen_inputs.py --sets).
#
#   landsat  NDVI with the QA_PIXEL mask over three 7801x7911 UInt16 files:
#            tilerun --recipe-style --input ×3 --unscale vs gdal_calc.py
#            -A -B -C (same formula, same Float32 output, same creation
#            options); wall time and peak RSS (/usr/bin/time -v).
#   s2       NDVI with the SCL mask, B04/B08 at 10 m (10980², JPEG 2000) and
#            SCL at 20 m: tilerun (SCL resampled per window) vs gdalwarp
#            (SCL → 10 m) followed by gdal_calc.py, GDAL_NUM_THREADS equal
#            for both; tilerun with 1 and 2 workers (decode scaling); and the
#            JPEG 2000 decode share: CPU seconds of a decode-only pass over
#            the three files (one thread) over tilerun's CPU seconds.
#
# Usage: bench/sets.sh [landsat] [s2]   (default both). RUNS (default 3).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DATA=${DATA:-bench/data}
RUNS=${RUNS:-3}
T=${TILERUN:-target/release/tilerun}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
export GDAL_PAM_ENABLED=NO
CO="--co COMPRESS=DEFLATE --co PREDICTOR=3 --co TILED=YES --co BLOCKXSIZE=512 --co BLOCKYSIZE=512"
CALC_CO=(--co COMPRESS=DEFLATE --co PREDICTOR=3 --co TILED=YES --co BLOCKXSIZE=512 --co BLOCKYSIZE=512)

# run NAME CMD...: RUNS timed runs; prints median wall s, max RSS MB, median CPU s.
run() {
  local name=$1; shift
  local walls=() rss=0 cpus=()
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -v -o "$OUT/time" "$@" >/dev/null 2>"$OUT/err" || { cat "$OUT/err" "$OUT/time"; exit 1; }
    walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$OUT/time")")
    cpus+=("$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$OUT/time")")
    local r; r=$(awk -F': ' '/Maximum resident/ {print int($2/1024)}' "$OUT/time")
    (( r > rss )) && rss=$r
  done
  local wall cpu
  wall=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-34s wall %7.2f s   cpu %7.2f s   peak RSS %5d MB\n' "$name" "$wall" "$cpu" "$rss"
  echo "$wall $cpu $rss" > "$OUT/$name.res"
}
ratio() { awk -v a="$(cut -d' ' -f1 "$OUT/$1.res")" -v b="$(cut -d' ' -f1 "$OUT/$2.res")" 'BEGIN {printf "%.2f", a/b}'; }

landsat() {
  local d=$DATA/landsat k=LC09_L2SP_042034_20231015_20231019_02_T1
  local r=$d/${k}_SR_B4.TIF n=$d/${k}_SR_B5.TIF q=$d/${k}_QA_PIXEL.TIF
  echo "== Landsat-sized set: 3 × 7801x7911 UInt16, NDVI with QA mask"
  # shellcheck disable=SC2086
  run tilerun_landsat "$T" --input red="$r" --input nir="$n" --input qa="$q" --unscale \
    --expr 'where((qa & 0b11010) != 0, nodata, (nir - red) / (nir + red))' \
    --ot Float32 --nodata -9999 $CO -q --overwrite -o "$OUT/t.tif"
  local A='(A*2.75e-05-0.2)' B='(B*2.75e-05-0.2)'
  run gdal_calc_landsat /usr/bin/gdal_calc.py -A "$r" -B "$n" -C "$q" \
    --calc="numpy.where((C & 26) != 0, -9999, ($B-$A)/($B+$A))" --type=Float32 \
    --NoDataValue=-9999 "${CALC_CO[@]}" --quiet --overwrite --outfile "$OUT/g.tif"
  echo "ratio tilerun / gdal_calc.py: $(ratio tilerun_landsat gdal_calc_landsat)"
  codec_floor "$r" "$n" "$q"
}

# codec_floor INPUT...: the CPU any tool must spend on this job with these
# creation options, measured with GDAL alone: decoding every input block by
# block (one thread), and encoding tilerun's output, stored uncompressed
# first, with the same options (gdal_translate). Spread perfectly over all
# cores and with nothing else to do, a tool's wall time is that sum over the
# core count; its ratio to gdal_calc.py's wall time is the best ratio a
# tool can reach on this machine.
codec_floor() {
  cat > "$OUT/decode_blocks.py" <<'EOF2'
import sys
from osgeo import gdal
for p in sys.argv[1:]:
    ds = gdal.Open(p); b = ds.GetRasterBand(1); bx, by = b.GetBlockSize()
    for y in range(0, ds.RasterYSize, by):
        for x in range(0, ds.RasterXSize, bx):
            b.ReadRaster(x, y, min(bx, ds.RasterXSize - x), min(by, ds.RasterYSize - y))
EOF2
  GDAL_NUM_THREADS=1 run decode_only_landsat /usr/bin/python3 "$OUT/decode_blocks.py" "$@"
  run python_gdal_startup /usr/bin/python3 -c 'from osgeo import gdal'
  gdal_translate -q -co TILED=YES -co BLOCKXSIZE=512 -co BLOCKYSIZE=512 "$OUT/t.tif" "$OUT/raw.tif"
  # shellcheck disable=SC2086
  run encode_only_landsat gdal_translate -q ${CO//--co/-co} "$OUT/raw.tif" "$OUT/enc.tif"
  rm -f "$OUT/raw.tif" "$OUT/enc.tif"
  awk -v d="$(cut -d' ' -f2 "$OUT/decode_only_landsat.res")" -v s="$(cut -d' ' -f2 "$OUT/python_gdal_startup.res")" \
      -v e="$(cut -d' ' -f2 "$OUT/encode_only_landsat.res")" \
      -v t="$(cut -d' ' -f2 "$OUT/tilerun_landsat.res")" \
      -v g="$(cut -d' ' -f1 "$OUT/gdal_calc_landsat.res")" -v n="$(nproc)" \
      'BEGIN {d -= s; printf "codec floor: decode %.2f + encode %.2f = %.2f CPU s (tilerun %.2f CPU s); on %d cores %.2f s wall = %.2fx gdal_calc.py\n", d, e, d+e, t, n, (d+e)/n, (d+e)/n/g}'
}

s2() {
  local d=$DATA/s2 k=T33UUP_20231015T101019
  local r=$d/${k}_B04_10m.jp2 n=$d/${k}_B08_10m.jp2 s=$d/${k}_SCL_20m.jp2
  local threads=${S2_THREADS:-2}
  echo "== Sentinel-2-sized set: B04/B08 10980² + SCL 5490² JPEG 2000, GDAL_NUM_THREADS=$threads for all"
  for j in 2 1; do
    # shellcheck disable=SC2086
    GDAL_NUM_THREADS=$threads run "tilerun_s2_j$j" "$T" -j "$j" \
      --input red="$r" --input nir="$n" --input scl="$s" \
      --input-set red.nodata=0 --input-set nir.nodata=0 --input-set scl.nodata=0 \
      --input-set red.scale=0.0001 --input-set red.offset=-0.1 \
      --input-set nir.scale=0.0001 --input-set nir.offset=-0.1 \
      --expr 'where(scl in (3, 8, 9, 10), nodata, (nir - red) / (nir + red))' \
      --ot Float32 --nodata -9999 $CO -q --overwrite -o "$OUT/t.tif"
  done
  cat > "$OUT/peer.sh" <<EOF
set -e
gdalwarp -q -overwrite -r near -tr 10 10 -co TILED=YES -co COMPRESS=DEFLATE "$s" "$OUT/scl10.tif"
A='(A*0.0001-0.1)'; B='(B*0.0001-0.1)'
/usr/bin/gdal_calc.py -A "$r" -B "$n" -C "$OUT/scl10.tif" \
  --calc="numpy.where((A==0)|(B==0)|(C==0)|numpy.isin(C,[3,8,9,10]), -9999, (\$B-\$A)/(\$B+\$A))" \
  --type=Float32 --NoDataValue=-9999 ${CALC_CO[*]} --quiet --overwrite --outfile "$OUT/g.tif"
EOF
  GDAL_NUM_THREADS=$threads run gdalwarp_gdal_calc_s2 bash "$OUT/peer.sh"
  echo "ratio tilerun (2 workers) / gdalwarp + gdal_calc.py: $(ratio tilerun_s2_j2 gdalwarp_gdal_calc_s2)"
  echo "speed-up 2 workers vs 1: $(ratio tilerun_s2_j1 tilerun_s2_j2)x"
  cat > "$OUT/decode.py" <<'EOF'
import sys
from osgeo import gdal
for p in sys.argv[1:]:
    ds = gdal.Open(p); b = ds.GetRasterBand(1)
    for y in range(0, ds.RasterYSize, 1024):
        for x in range(0, ds.RasterXSize, 1024):
            b.ReadRaster(x, y, min(1024, ds.RasterXSize - x), min(1024, ds.RasterYSize - y))
EOF
  GDAL_NUM_THREADS=1 GDAL_CACHEMAX=64 run decode_only_s2 /usr/bin/python3 "$OUT/decode.py" "$r" "$n" "$s"
  awk -v d="$(cut -d' ' -f2 "$OUT/decode_only_s2.res")" -v t="$(cut -d' ' -f2 "$OUT/tilerun_s2_j2.res")" \
    'BEGIN {printf "JPEG 2000 decode share of tilerun CPU time: %.0f%% (%.1f of %.1f CPU s)\n", 100*d/t, d, t}'
}

[ -x "$T" ] || cargo build --release --locked
[ $# -eq 0 ] && set -- landsat s2
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MB, $(gdalinfo --version)"
for s in "$@"; do "$s"; done
