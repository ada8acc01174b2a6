#!/usr/bin/env bash
# Benchmark the shared queue (`tilerun worker` on PostgreSQL) against the
# local daemon, its scaling across workers, and S3 against local files.
#
# Why this exists: the queue issue promises (1) at most 10 ms added per job
# over the local daemon, for many small jobs; (2) two single-thread workers
# at least 1.8x one, on a 2-core box; (3) an 8192² NDVI with input and
# output on a loopback S3 server within 1.3x of the local-file time.
#
# Usage: bench/queue_bench.sh [overhead] [scaling] [s3] [s3many] [wake]    (default: all)
#
# Environment:
#   TILERUN    binary (default target/release/tilerun; built if missing)
#   N          small jobs for the overhead run (default 500)
#   SCALE_N    jobs for the scaling run (default 16, each a CROP² crop)
#   CROP       side of those crops (default 2048; 4096 for Landsat-like jobs)
#   S3_N       jobs for the s3many run (default 8, 4096² crops)
#   JOBS       --jobs of the worker in the overhead run (default 4: as many
#              files in flight as the daemon keeps on 2 cores, roughly)
#   DATA       folder with scene.tif from bench/gen_inputs.py (default
#              bench/data; generated if missing)
#   MOTO       moto_server (default .venv/moto/bin/moto_server: make test-deps)
#   KEEP=1     keep the work dir
#
# PostgreSQL and moto are started here, on loopback ports, in the work dir
# (PostgreSQL as the postgres user when run as root), and stopped at exit.
# Times come from the database (first start to last finish), so process
# start-up is not counted for either side.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PY=/usr/bin/python3
N=${N:-500}
SCALE_N=${SCALE_N:-16}
CROP=${CROP:-2048}
S3_N=${S3_N:-8}
JOBS=${JOBS:-4}
DATA=${DATA:-bench/data}
MOTO=${MOTO:-.venv/moto/bin/moto_server}
TILERUN=${TILERUN:-target/release/tilerun}
SECTIONS=("$@")
[ ${#SECTIONS[@]} -eq 0 ] && SECTIONS=(overhead scaling s3 s3many wake)

[ -x "$TILERUN" ] || cargo build --release --locked >&2
TILERUN=$(realpath "$TILERUN")
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tilerun-queue-bench.XXXXXX")
chmod 755 "$WORK"
PIDS=()      # workers and daemons, stopped after each run
SERVERS=()   # moto, stopped at exit
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    for p in "${PIDS[@]}" "${SERVERS[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    [ -d "$WORK/pg" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_pg() {
    mkdir -p "$WORK/pg"; echo bench > "$WORK/pg/pw"
    [ "$(id -u)" = 0 ] && chown -R postgres "$WORK/pg"
    PGPORT=$(free_port)
    as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -U tilerun --pwfile="$WORK/pg/pw" \
        --auth-host=scram-sha-256 --auth-local=trust --no-sync >/dev/null
    # fsync stays on: the commit's durability is part of the per-job cost.
    as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
        -o "-p $PGPORT -k $WORK/pg -c listen_addresses=127.0.0.1 ${PGOPTS:-}" start >/dev/null
    URL="postgresql://tilerun:bench@127.0.0.1:$PGPORT/postgres"
}

# Over the Unix socket (trust): the harness's own polling must not take
# CPU from the workers it times. Through TCP, every poll paid a psql start
# plus SCRAM's PBKDF2 on both ends: at 20 polls a second that was 12% of
# this 2-core box (psql 6.7%, postgres 5.1% in `perf record -a`), taken
# from the two workers but not from the one, which left the second core
# idle anyway.
sql() { "$PGBIN/psql" -X -At -h "$WORK/pg" -p "$PGPORT" -U tilerun -d postgres -c "$1"; }

# A site: config with the ndvi recipe, [output] dir $2, 1 engine thread per
# job unless $3 says otherwise.
config() { # path outdir workers
    cat > "$1" <<EOF
[engine]
workers = ${3:-0}
[output]
dir = "$2"
[recipes.ndvi]
expr = "(b4 - b3) / (b4 + b3)"
ot = "Float32"
nodata = -9999
output = "{stem}_ndvi.tif"
[queue]
url = "$URL"
poll_secs = 1
EOF
}

start_worker() { # config log [args...]
    local cfg=$1 log=$2; shift 2
    "$TILERUN" worker --config "$cfg" --log-format json "$@" 2> "$log" &
    PIDS+=($!)
    for _ in $(seq 1 600); do grep -q '"message":"ready"' "$log" && return 0; sleep 0.05; done
    echo "worker never became ready:" >&2; cat "$log" >&2; exit 1
}

stop_workers() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
    PIDS=()
}

# CPU seconds (user + system) a process has used so far.
cpu() { awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"; }

wait_done() { # count
    # Times come from the database, so the poll's period costs no accuracy.
    until [ "$(sql "SELECT count(*) FROM tilerun.jobs WHERE state IN ('done','failed','dead')")" -ge "$1" ]; do
        sleep 1
    done
    local bad; bad=$(sql "SELECT count(*) FROM tilerun.jobs WHERE state <> 'done'")
    [ "$bad" = 0 ] || { echo "$bad jobs did not end done" >&2; sql "SELECT id, state, last_error FROM tilerun.jobs WHERE state <> 'done' LIMIT 5" >&2; exit 1; }
}

# Seconds from the first claim to the last commit.
span() { sql "SELECT round(extract(epoch FROM max(finished_at) - min(started_at))::numeric, 3) FROM tilerun.jobs"; }

overhead() {
    local site=$WORK/ovh; rm -rf "$site"; mkdir -p "$site"/{in,out,inbox,staging,wout}
    sql "TRUNCATE tilerun.jobs" >/dev/null 2>&1 || true
    for i in $(seq -w 1 "$N"); do cp fixtures/scene_small.tif "$site/in/s$i.tif"; done
    # The local daemon: all N renamed in at once, until done/ holds N.
    cat > "$site/watch.toml" <<EOF
[recipes.ndvi]
expr = "(b4 - b3) / (b4 + b3)"
ot = "Float32"
nodata = -9999
output = "{stem}_ndvi.tif"
[watch]
inbox = "$site/inbox"
output = "$site/wout"
settle_secs = 1
[[watch.rules]]
glob = "*.tif"
recipe = "ndvi"
EOF
    cp "$site"/in/*.tif "$site/staging/"
    "$TILERUN" watch --config "$site/watch.toml" --log-format json 2> "$site/daemon.log" &
    local daemon=$!; PIDS+=($daemon)
    until grep -q '"message":"ready"' "$site/daemon.log"; do sleep 0.05; done
    local tw
    tw=$("$PY" - "$site" "$N" <<'EOF'
import os, sys, time
site, n = sys.argv[1], int(sys.argv[2])
names = sorted(os.listdir(f"{site}/staging"))
t0 = time.monotonic()
for f in names:
    os.rename(f"{site}/staging/{f}", f"{site}/inbox/{f}")
while not os.path.isdir(f"{site}/done") or len(os.listdir(f"{site}/done")) < n:
    time.sleep(0.005)
print(f"{time.monotonic() - t0:.3f}")
EOF
)
    stop_workers
    # The queue: N submitted, one worker.
    config "$site/q.toml" "$site/out"
    "$TILERUN" submit --config "$site/q.toml" --recipe ndvi "$site"/in/*.tif > /dev/null
    start_worker "$site/q.toml" "$site/worker.log" --jobs "$JOBS"
    wait_done "$N"
    local tq; tq=$(span)
    stop_workers
    "$PY" - "$N" "$tw" "$tq" "$JOBS" <<'EOF'
import sys
n, tw, tq = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"overhead: {n} jobs of 300x200x4 UInt16 -> NDVI Float32, engine threads = cores")
print(f"  tilerun watch (local)   {tw:7.2f} s  ({tw / n * 1000:6.1f} ms/job)")
print(f"  tilerun worker (queue)  {tq:7.2f} s  ({tq / n * 1000:6.1f} ms/job), --jobs {sys.argv[4]}")
print(f"  added per job           {(tq - tw) / n * 1000:6.1f} ms  (target <= 10 ms)")
EOF
}

# How soon an idle worker starts a submitted job (NOTIFY, poll 60 s).
wake() {
    local site=$WORK/wake; rm -rf "$site"; mkdir -p "$site"/{in,out}
    sql "TRUNCATE tilerun.jobs" >/dev/null
    config "$site/q.toml" "$site/out"
    start_worker "$site/q.toml" "$site/worker.log" --poll-secs 60
    local lat=()
    for i in 1 2 3 4 5; do
        cp fixtures/scene_small.tif "$site/in/w$i.tif"
        sleep 1
        "$TILERUN" submit --config "$site/q.toml" --recipe ndvi "$site/in/w$i.tif" > /dev/null
        wait_done "$i"
        lat+=("$(sql "SELECT round(extract(epoch FROM started_at - created_at)::numeric * 1000, 1) FROM tilerun.jobs WHERE input LIKE '%/w$i.tif'")")
    done
    stop_workers
    echo "wake: idle worker (poll 60 s), submit -> claim: ${lat[*]} ms  (target <= 100 ms)"
}

ensure_scene() {
    [ -f "$DATA/scene.tif" ] || "$PY" bench/gen_inputs.py "$DATA"
}

scaling() {
    ensure_scene
    local site=$WORK/scale; rm -rf "$site"; mkdir -p "$site"/{in,out}
    gdal_translate -q -srcwin 0 0 "$CROP" "$CROP" -co TILED=YES -co COMPRESS=DEFLATE -co PREDICTOR=2 \
        "$DATA/scene.tif" "$site/crop.tif"
    for i in $(seq -w 1 "$SCALE_N"); do cp "$site/crop.tif" "$site/in/c$i.tif"; done
    config "$site/q.toml" "$site/out" 1
    local t=()
    for workers in 1 2; do
        sql "TRUNCATE tilerun.jobs" >/dev/null
        rm -f "$site"/out/*
        # Workers first, idle on LISTEN, then the submit: both start at
        # once, and neither side counts a process start-up.
        for w in $(seq 1 "$workers"); do start_worker "$site/q.toml" "$site/w$w.log" -j 1 --jobs 1; done
        "$TILERUN" submit --config "$site/q.toml" --recipe ndvi "$site"/in/*.tif > /dev/null
        wait_done "$SCALE_N"
        t+=("$(span)")
        stop_workers
    done
    "$PY" - "$SCALE_N" "$CROP" "${t[@]}" <<'EOF'
import sys
n, c, t1, t2 = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"scaling: {n} jobs of {c}x{c}x4 UInt16 -> NDVI, single-thread workers (-j 1 --jobs 1)")
print(f"  1 worker   {t1:7.2f} s")
print(f"  2 workers  {t2:7.2f} s")
print(f"  speed-up   {t1 / t2:7.2f}x  (target >= 1.8x)")
EOF
}

# moto on a free loopback port, with bucket "bench" holding each FILE as
# in/NAME; the AWS_* settings exported for GDAL and the workers.
start_moto() { # log file...
    local log=$1; shift
    local port; port=$(free_port)
    "$MOTO" -H 127.0.0.1 -p "$port" > "$log" 2>&1 &
    SERVERS+=($!)
    until "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null; do sleep 0.1; done
    export AWS_S3_ENDPOINT=127.0.0.1:$port AWS_HTTPS=NO AWS_VIRTUAL_HOSTING=FALSE \
        AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
    "$PY" - "$@" <<'EOF'
import os, sys
from osgeo import gdal
import urllib.request
port = os.environ["AWS_S3_ENDPOINT"].split(":")[1]
urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/bench", method="PUT"))
for path in sys.argv[1:]:
    src = open(path, "rb")
    f = gdal.VSIFOpenL(f"/vsis3/bench/in/{os.path.basename(path)}", "wb")
    while True:
        b = src.read(16 << 20)
        if not b:
            break
        gdal.VSIFWriteL(b, 1, len(b), f)
    assert gdal.VSIFCloseL(f) == 0
EOF
}

# Many jobs through one worker with its default two slots, so one job's
# transfers overlap another's computing: the queue's steady state.
s3many() {
    ensure_scene
    local site=$WORK/s3many; rm -rf "$site"; mkdir -p "$site"/{in,out}
    for i in $(seq 1 "$S3_N"); do
        gdal_translate -q -srcwin $(( (i % 2) * 4096 )) $(( (i / 2 % 2) * 4096 )) 4096 4096 \
            -co TILED=YES -co COMPRESS=DEFLATE -co PREDICTOR=2 "$DATA/scene.tif" "$site/in/c$i.tif"
    done
    start_moto "$site/moto.log" "$site"/in/*.tif
    config "$site/local.toml" "$site/out"
    config "$site/s3.toml" "s3://bench/out"
    local t=()
    for mode in local s3; do
        sql "TRUNCATE tilerun.jobs" >/dev/null
        rm -f "$site"/out/*
        start_worker "$site/$mode.toml" "$site/w$mode.log"
        if [ "$mode" = local ]; then
            "$TILERUN" submit --config "$site/local.toml" --recipe ndvi "$site"/in/*.tif > /dev/null
        else
            "$TILERUN" submit --config "$site/s3.toml" --recipe ndvi 's3://bench/in/*.tif' > /dev/null
        fi
        wait_done "$S3_N"
        t+=("$(span)")
        stop_workers
    done
    "$PY" - "$S3_N" "${t[@]}" <<'EOF'
import sys
n, loc, s3 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"s3many: {n} jobs of 4096x4096x4 UInt16 -> NDVI, one worker (default 2 slots, threads = cores)")
print(f"  local input and output      {loc:7.2f} s  ({loc / n:.2f} s/job)")
print(f"  S3 (moto on loopback)       {s3:7.2f} s  ({s3 / n:.2f} s/job)")
print(f"  ratio                       {s3 / loc:7.2f}x")
EOF
}

s3() {
    ensure_scene
    local site=$WORK/s3; rm -rf "$site"; mkdir -p "$site"/{in,out}
    cp "$DATA/scene.tif" "$site/in/scene.tif"
    start_moto "$site/moto.log" "$site/in/scene.tif"
    config "$site/local.toml" "$site/out"
    config "$site/s3.toml" "s3://bench/out"
    local t=()
    for mode in local s3 local s3; do
        sql "TRUNCATE tilerun.jobs" >/dev/null
        rm -f "$site"/out/*
        if [ "$mode" = local ]; then
            "$TILERUN" submit --config "$site/local.toml" --recipe ndvi "$site/in/scene.tif" > /dev/null
            start_worker "$site/local.toml" "$site/wl.log"
        else
            "$TILERUN" submit --config "$site/s3.toml" --recipe ndvi s3://bench/in/scene.tif > /dev/null
            start_worker "$site/s3.toml" "$site/ws.log"
        fi
        local moto0; moto0=$(cpu "${SERVERS[-1]}")
        wait_done 1
        t+=("$mode=$(span)")
        # CPU seconds the run cost this box: the worker's (it was idle
        # before the submit, apart from its start-up) and moto's.
        t+=("${mode}_cpu=$(cpu "${PIDS[-1]}")" "${mode}_moto=$(awk -v a="$(cpu "${SERVERS[-1]}")" -v b="$moto0" 'BEGIN { printf "%.2f", a - b }')")
        stop_workers
    done
    # The transfers alone, through the same GDAL paths the worker uses: the
    # input streamed down (/vsis3_streaming/), the output put back up
    # (/vsis3/ multipart). The worker does them before and after computing.
    t+=("xfer=$("$PY" - "$site" <<'EOF'
import sys, time
from osgeo import gdal
site = sys.argv[1]
def copy(src, dst):
    f, g = gdal.VSIFOpenL(src, "rb"), gdal.VSIFOpenL(dst, "wb")
    while True:
        b = gdal.VSIFReadL(1, 16 << 20, f)
        if not b:
            break
        gdal.VSIFWriteL(b, 1, len(b), g)
    gdal.VSIFCloseL(f)
    assert gdal.VSIFCloseL(g) == 0
out = [n for n in gdal.ReadDir("/vsis3/bench/out/") or [] if n.endswith(".tif")][0]
copy(f"/vsis3_streaming/bench/out/{out}", f"{site}/xfer_out.tif")
t0 = time.monotonic()
copy("/vsis3_streaming/bench/in/scene.tif", f"{site}/xfer_in.tif")
copy(f"{site}/xfer_out.tif", "/vsis3/bench/xfer/out.tif")
print(f"{time.monotonic() - t0:.3f}")
EOF
)")
    "$PY" - "${t[@]}" <<'EOF'
import sys
runs = {}
for a in sys.argv[1:]:
    k, v = a.split("=")
    runs.setdefault(k, []).append(float(v))
loc, s3 = min(runs["local"]), min(runs["s3"])
print("s3: 8192x8192x4 UInt16 -> NDVI Float32 (GTiff, DEFLATE), one worker, best of 2")
print(f"  local input and output      {loc:7.2f} s  (runs: {runs['local']})")
print(f"  S3 (moto on loopback)       {s3:7.2f} s  (runs: {runs['s3']})")
print(f"  ratio                       {s3 / loc:7.2f}x  (target <= 1.3x)")
x = runs["xfer"][0]
print(f"  the same transfers from Python through GDAL (down + up): {x:.2f} s; the worker's S3 run adds {s3 - loc:.2f} s")
# The floor: the CPU the S3 run needs on this box (the worker's, with its
# transfers, plus the S3 server's own, which a real S3 does not take from
# these cores), spread perfectly over the cores.
import os
i = runs["s3"].index(s3)
cpu, moto = runs["s3_cpu"][i], runs["s3_moto"][i]
floor = (cpu + moto) / os.cpu_count()
print(f"  CPU of the S3 run: worker {cpu:.2f} s + moto {moto:.2f} s; local run: worker {runs['local_cpu'][runs['local'].index(loc)]:.2f} s")
print(f"  floor on {os.cpu_count()} cores (that CPU perfectly spread): {floor:.2f} s = {floor / loc:.2f}x local")
bare = (runs["local_cpu"][runs["local"].index(loc)] + moto) / os.cpu_count()
print(f"  even if tilerun's transfers cost no CPU (local CPU + moto's): {bare:.2f} s = {bare / loc:.2f}x local")
EOF
}

echo "tilerun: $TILERUN ($("$TILERUN" --version)); $(nproc) cores; GDAL $(gdal-config --version 2>/dev/null || gdalinfo --version); PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}')"
start_pg
"$TILERUN" status --queue "$URL" > /dev/null   # creates the schema
for s in "${SECTIONS[@]}"; do
    case "$s" in
        overhead) overhead ;;
        scaling) scaling ;;
        s3) s3 ;;
        s3many) s3many ;;
        wake) wake ;;
        *) echo "unknown section $s (overhead, scaling, s3, s3many, wake)" >&2; exit 2 ;;
    esac
done
