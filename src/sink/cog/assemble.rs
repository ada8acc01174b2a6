//! A COG assembled from blocks the workers compressed.
//!
//! GDAL 3.6 can only make a COG by copying a finished dataset, which decodes
//! and re-encodes every block on one thread after all windows are done. Here
//! GDAL makes only the *skeleton*: the COG driver copies an empty sparse
//! source that carries every tag, metadata item and overview level, so the
//! IFDs, the ghost area and the block index are exactly GDAL's, with no
//! blocks. That costs GDAL a pass over the empty pixels, so it runs in
//! memory on a thread of its own while the first windows are computed.
//!
//! Workers encode full-resolution and overview blocks with the same codec
//! settings ([`crate::sink::encode`], [`crate::sink::pyramid`]). The COG layout wants
//! the header, then the overviews smallest first, then full resolution, each
//! level row-major and each block framed by the size leader and the
//! repeated-last-4-bytes trailer the ghost area announces. Full-resolution
//! blocks are by far the most bytes, and arrive nearly in order, so they go
//! straight into the output file (a small reorder buffer restores row-major
//! order; past [`REORDER_CAP`] the rest is staged instead). Overview blocks
//! are staged in a second temp file. At the end the room for header and
//! overviews is opened at the front of the output with
//! `fallocate(FALLOC_FL_INSERT_RANGE)`, which moves extents rather than
//! bytes; where the filesystem cannot (or the output is small) the file is
//! rewritten once instead. The block index is then filled in in the
//! skeleton's bytes ([`super::tiff`]).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{ensure, Context};

use super::framed::Framed;
use super::tiff::{self, Ifd};
use crate::sink::spec::OutputSpec;
use crate::sink::temp_file::TempFile;

/// Out-of-order full-resolution bytes held for in-order writing before
/// the rest is staged.
const REORDER_CAP: usize = 64 << 20;
/// `default`, or (test hook, undocumented) `TILERUN_ASSEMBLY_MEM` bytes for
/// both the reorder buffer and the in-memory stage.
fn mem_cap(default: usize) -> usize {
    std::env::var("TILERUN_ASSEMBLY_MEM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Staged (overview and out-of-order) blocks held in memory before the rest
/// goes to the stage file: the overviews of an 8192² Float32 COG fit, so
/// typical jobs write them once instead of three times.
const STAGE_IN_MEMORY: usize = 64 << 20;

/// Below this much full-resolution data, rewrite rather than insert: the
/// copy is cheap and the file gets no alignment padding.
const INSERT_MIN: u64 = 4 << 20;

/// Where a block's bytes are: (offset of the data, length).
type Slot = Option<(u64, u32)>;

pub struct Assembly {
    out: Arc<OutputSpec>,
    skeleton: Skeleton,
    cog: TempFile,
    /// Full resolution, in row-major order from offset 0.
    direct: Framed,
    next: usize,
    pending: BTreeMap<usize, Vec<u8>>,
    pending_bytes: usize,
    spilled: bool,
    stage: Framed,
    _stage_tmp: TempFile,
    /// Per level, per block; level 0 slots are in `direct` unless spilled.
    slots: Vec<Vec<Slot>>,
    spilled_slots: Vec<Slot>,
}

/// The thread making the skeleton; joined on drop, so it never outlives
/// the job.
struct Skeleton(Option<JoinHandle<anyhow::Result<Vec<u8>>>>);

impl Skeleton {
    fn join(&mut self) -> anyhow::Result<Vec<u8>> {
        match self.0.take().map(|h| h.join()) {
            None => anyhow::bail!("internal: skeleton joined twice"),
            Some(Ok(res)) => res,
            Some(Err(p)) => anyhow::bail!(
                "COG skeleton thread panicked: {}",
                crate::error::panic_text(&p)
            ),
        }
    }
}

impl Drop for Skeleton {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }
}

fn create(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

impl Assembly {
    /// Start the skeleton; create the output and the stage beside it.
    pub fn begin(out: Arc<OutputSpec>) -> anyhow::Result<Assembly> {
        let layout = out.layout.as_ref().context("no block layout")?;
        let slots: Vec<Vec<Slot>> = (0..=out.overviews.len())
            .map(|k| {
                let f = 1 << k;
                let (w, h) = (layout.size.0.div_ceil(f), layout.size.1.div_ceil(f));
                vec![None; w.div_ceil(layout.block.0) * h.div_ceil(layout.block.1)]
            })
            .collect();
        let cog = TempFile::beside(&out.path, ".tif");
        let direct = Framed::new(create(cog.path())?, true, 0);
        let stage_tmp = TempFile::beside(&out.path, ".stage");
        let stage = Framed::new(create(stage_tmp.path())?, false, mem_cap(STAGE_IN_MEMORY));
        let j = Arc::clone(&out);
        let handle = std::thread::Builder::new()
            .name("tilerun-cog-skeleton".into())
            .spawn(move || skeleton(&j))?;
        Ok(Assembly {
            out,
            skeleton: Skeleton(Some(handle)),
            cog,
            direct,
            next: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            spilled: false,
            stage,
            _stage_tmp: stage_tmp,
            spilled_slots: vec![None; slots[0].len()],
            slots,
        })
    }

    /// Place block `index` of `level` (0 = full resolution).
    pub fn write(&mut self, level: usize, index: u32, bytes: Vec<u8>) -> anyhow::Result<()> {
        let i = index as usize;
        let taken = self
            .slots
            .get(level)
            .and_then(|l| l.get(i))
            .with_context(|| format!("internal: no block {index} at level {level}"))?
            .is_some()
            || (level == 0 && (self.pending.contains_key(&i) || self.spilled_slots[i].is_some()));
        ensure!(
            !taken,
            "internal: block {index} of level {level} written twice"
        );
        if level > 0 {
            self.slots[level][i] = Some(self.stage.put(&bytes)?);
            return Ok(());
        }
        if self.spilled {
            self.spilled_slots[i] = Some(self.stage.put(&bytes)?);
            return Ok(());
        }
        self.pending_bytes += bytes.len();
        self.pending.insert(i, bytes);
        while let Some(b) = self.pending.remove(&self.next) {
            self.pending_bytes -= b.len();
            self.slots[0][self.next] = Some(self.direct.put(&b)?);
            self.next += 1;
        }
        if self.pending_bytes > mem_cap(REORDER_CAP) {
            // Windows far out of row order (tall windows on a wide raster):
            // stage the rest rather than hold it in memory.
            self.spilled = true;
            for (i, b) in std::mem::take(&mut self.pending) {
                self.spilled_slots[i] = Some(self.stage.put(&b)?);
            }
            self.pending_bytes = 0;
        }
        Ok(())
    }

    /// Put header and overviews in front of the full resolution, fill in the
    /// block index, and hand back the finished (not yet committed) COG.
    pub fn finish(mut self) -> anyhow::Result<TempFile> {
        ensure!(
            self.pending.is_empty(),
            "internal: full-resolution blocks missing"
        );
        let mut header = self.skeleton.join()?;
        let ifds = tiff::read_ifds(&header).context("reading the COG skeleton")?;
        check(&self.out, &ifds)?;
        tiff::unmark_alpha(&mut header, &ifds)?;
        let stage = self.stage;
        let direct_len = self.direct.len;
        let mut out = self.direct.into_file()?;
        // Overview blocks right after the header, smallest level first.
        let mut at = header.len() as u64;
        let mut moves = Vec::new(); // (from in stage, to in output, framed length)
        for level in (1..ifds.len()).rev() {
            let mut offsets = Vec::new();
            let mut counts = Vec::new();
            for (i, slot) in self.slots[level].iter().enumerate() {
                let (from, len) =
                    slot.with_context(|| format!("internal: block {i} of level {level} missing"))?;
                moves.push((from - 4, at, u64::from(len) + 8));
                offsets.push(at + 4);
                counts.push(u64::from(len));
                at += u64::from(len) + 8;
            }
            tiff::patch(&mut header, ifds[level].offsets, &offsets)?;
            tiff::patch(&mut header, ifds[level].counts, &counts)?;
        }
        // Room for all that in front of the full resolution.
        let blk = out.metadata()?.blksize().max(512);
        let room = at.div_ceil(blk) * blk;
        let inserted = direct_len >= INSERT_MIN && insert_range(&out, room);
        let staged = self.spilled_slots.iter().filter(|s| s.is_some()).count();
        tracing::debug!(
            "{}: COG front room {}; {staged} full-resolution blocks staged out of order",
            self.out.path.display(),
            if inserted { "inserted" } else { "rewritten" },
        );
        let cog = if inserted {
            self.cog
        } else {
            let fresh = TempFile::beside(&self.out.path, ".tif");
            let mut f = create(fresh.path())?;
            f.set_len(room)?;
            f.seek(SeekFrom::Start(room))?;
            out.seek(SeekFrom::Start(0))?;
            std::io::copy(&mut (&out).take(direct_len), &mut f)?;
            out = f;
            fresh
        };
        // Full resolution: in place, then whatever was staged, appended.
        let mut end = room + direct_len;
        let mut offsets = Vec::new();
        let mut counts = Vec::new();
        for (i, (d, s)) in self.slots[0].iter().zip(&self.spilled_slots).enumerate() {
            let (pos, len) = match (d, s) {
                (Some((from, len)), _) => (room + from, *len),
                (None, Some((from, len))) => {
                    moves.push((from - 4, end, u64::from(*len) + 8));
                    end += u64::from(*len) + 8;
                    (end - u64::from(*len) - 4, *len)
                }
                _ => anyhow::bail!("internal: block {i} of the full resolution missing"),
            };
            offsets.push(pos);
            counts.push(u64::from(len));
        }
        tiff::patch(&mut header, ifds[0].offsets, &offsets)?;
        tiff::patch(&mut header, ifds[0].counts, &counts)?;
        out.write_all_at(&header, 0)?;
        let mut buf = Vec::new();
        for (from, to, len) in moves {
            buf.resize(len as usize, 0);
            stage.read_at(&mut buf, from)?;
            out.write_all_at(&buf, to)?;
        }
        Ok(cog)
    }
}

/// Open `len` bytes of hole at the front of `f`, shifting its extents.
fn insert_range(f: &File, len: u64) -> bool {
    let Ok(len) = i64::try_from(len) else {
        return false;
    };
    let insert = nix::fcntl::FallocateFlags::FALLOC_FL_INSERT_RANGE;
    nix::fcntl::fallocate(f.as_raw_fd(), insert, 0, len).is_ok()
}

/// Have GDAL's COG driver copy an empty, sparse source carrying the output's
/// metadata and overview levels; return the file's bytes.
fn skeleton(out: &OutputSpec) -> anyhow::Result<Vec<u8>> {
    let started = std::time::Instant::now();
    let bytes = make_skeleton(out)?;
    tracing::debug!(
        "{}: COG skeleton made in {:.2} s (in the background)",
        out.path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(bytes)
}

fn make_skeleton(out: &OutputSpec) -> anyhow::Result<Vec<u8>> {
    let src = crate::gdal::ffi::VsiMem::new("cogsrc");
    let ds = crate::sink::create::create(out, Path::new(src.name()))?;
    crate::sink::create::close(ds)?;
    let mut ds = gdal::Dataset::open_ex(
        src.name(),
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE | gdal::GdalOpenFlags::GDAL_OF_RASTER,
            ..Default::default()
        },
    )?;
    let factors: Vec<i32> = out.overviews.iter().map(|&f| f as i32).collect();
    if !factors.is_empty() {
        // NONE lays out the levels without computing (or writing) any pixel.
        ds.build_overviews("NONE", &factors, &[])?;
    }
    crate::sink::create::close(ds)?;
    let dst = crate::gdal::ffi::VsiMem::new("cogskel");
    super::translate_with(
        out,
        Path::new(src.name()),
        Path::new(dst.name()),
        &[("SPARSE_OK", "TRUE"), ("NUM_THREADS", "1")],
    )?;
    dst.bytes()
}

/// The skeleton must be what the blocks were encoded for.
fn check(out: &OutputSpec, ifds: &[Ifd]) -> anyhow::Result<()> {
    let l = out.layout.as_ref().context("no block layout")?;
    let (w, h) = l.size;
    ensure!(
        ifds.len() == out.overviews.len() + 1,
        "COG skeleton has {} levels, expected {}",
        ifds.len(),
        out.overviews.len() + 1
    );
    let want = super::codes(&l.options).context("unsupported codec")?;
    for (k, ifd) in ifds.iter().enumerate() {
        let size = (w.div_ceil(1 << k), h.div_ceil(1 << k));
        ensure!(
            ifd.size == size
                && ifd.tile == l.block
                && (ifd.compression, ifd.predictor) == want
                && ifd.planar == 1,
            "COG skeleton level {k} is {ifd:?}, expected {size:?} in {:?} blocks, codec {want:?}",
            l.block
        );
    }
    Ok(())
}
