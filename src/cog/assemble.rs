//! A COG assembled from blocks the workers compressed.
//!
//! GDAL 3.6 can only make a COG by copying a finished dataset, which decodes
//! and re-encodes every block on one thread after all windows are done. Here
//! GDAL makes only the *skeleton*: the COG driver copies an empty sparse
//! source that carries every tag, metadata item and overview level, so the
//! IFDs, the ghost area and the block index are exactly GDAL's, with no
//! blocks. Workers then encode full-resolution and overview blocks with the
//! same codec settings ([`crate::encode`], [`crate::pyramid`]); the writer
//! stages them in arrival order in a second temp file, and at the end copies
//! them after the skeleton in the order the COG layout demands (smallest
//! overview first, row-major within a level, each block framed by the size
//! leader and the repeated-last-4-bytes trailer the ghost area announces)
//! and fills in the block index in place ([`super::tiff`]).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{ensure, Context};

use super::tiff::{self, Ifd};
use crate::job::JobCtx;
use crate::output::TempFile;

pub struct Assembly {
    cog: TempFile,
    ifds: Vec<Ifd>,
    stage: BufWriter<File>,
    _stage_tmp: TempFile,
    stage_len: u64,
    /// Per level, per block: (offset of the data in the stage, length).
    slots: Vec<Vec<Option<(u64, u32)>>>,
}

impl Assembly {
    /// Create the skeleton and the stage beside the final output.
    pub fn begin(job: &JobCtx) -> anyhow::Result<Assembly> {
        let cog = TempFile::beside(&job.output.path, ".tif");
        skeleton(job, cog.path())?;
        let f = File::open(cog.path())?;
        let ifds = tiff::read_ifds(&f).context("reading the COG skeleton")?;
        check(job, &ifds)?;
        let stage_tmp = TempFile::beside(&job.output.path, ".stage");
        let stage = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(stage_tmp.path())
            .with_context(|| format!("creating {}", stage_tmp.path().display()))?;
        let slots = ifds.iter().map(|i| vec![None; i.tiles()]).collect();
        Ok(Assembly {
            cog,
            ifds,
            stage: BufWriter::with_capacity(1 << 20, stage),
            _stage_tmp: stage_tmp,
            stage_len: 0,
            slots,
        })
    }

    /// Stage block `index` of `level` (0 = full resolution), framed.
    pub fn write(&mut self, level: usize, index: u32, bytes: &[u8]) -> anyhow::Result<()> {
        let slot = self
            .slots
            .get_mut(level)
            .and_then(|l| l.get_mut(index as usize))
            .with_context(|| format!("internal: no block {index} at level {level}"))?;
        ensure!(
            slot.is_none(),
            "internal: block {index} of level {level} written twice"
        );
        let len = u32::try_from(bytes.len()).context("block over 4 GiB")?;
        self.stage.write_all(&len.to_le_bytes())?;
        self.stage.write_all(bytes)?;
        self.stage.write_all(&trailer(bytes))?;
        *slot = Some((self.stage_len + 4, len));
        self.stage_len += u64::from(len) + 8;
        Ok(())
    }

    /// Lay the staged blocks out after the skeleton, fill in the block index,
    /// and hand back the finished (not yet committed) COG.
    pub fn finish(self) -> anyhow::Result<TempFile> {
        let stage = self.stage.into_inner().map_err(|e| e.into_error())?;
        // Not O_APPEND: Linux's pwrite ignores the offset on such files,
        // and the block index is patched with pwrite.
        let mut out = OpenOptions::new()
            .write(true)
            .open(self.cog.path())
            .context("reopening the COG skeleton")?;
        let mut end = out.seek(SeekFrom::End(0))?;
        let mut src = &stage;
        // Overviews smallest first, then full resolution.
        for (level, ifd) in self
            .ifds
            .iter()
            .enumerate()
            .skip(1)
            .rev()
            .chain(self.ifds.iter().enumerate().take(1))
        {
            let mut offsets = Vec::with_capacity(ifd.tiles());
            let mut counts = Vec::with_capacity(ifd.tiles());
            for (i, slot) in self.slots[level].iter().enumerate() {
                let (at, len) =
                    slot.with_context(|| format!("internal: block {i} of level {level} missing"))?;
                src.seek(SeekFrom::Start(at - 4))?;
                let framed = u64::from(len) + 8;
                let n = std::io::copy(&mut src.take(framed), &mut out)?;
                ensure!(n == framed, "short copy from the stage");
                offsets.push(end + 4);
                counts.push(u64::from(len));
                end += framed;
            }
            tiff::patch(&out, ifd.offsets, &offsets)?;
            tiff::patch(&out, ifd.counts, &counts)?;
        }
        out.flush()?;
        Ok(self.cog)
    }
}

/// The 4 bytes GDAL repeats after each block so a reader can detect a
/// truncated block (`BLOCK_TRAILER=LAST_4_BYTES_REPEATED`).
fn trailer(bytes: &[u8]) -> [u8; 4] {
    let mut t = [0u8; 4];
    let n = bytes.len().min(4);
    t[4 - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    t
}

/// Have GDAL's COG driver copy an empty, sparse source carrying the output's
/// metadata and overview levels into `dst`.
fn skeleton(job: &JobCtx, dst: &Path) -> anyhow::Result<()> {
    let src = crate::encode::VsiMem::new("cogsrc");
    let ds = crate::create::create(job, Path::new(src.name()))?;
    crate::create::close(ds)?;
    let mut ds = gdal::Dataset::open_ex(
        src.name(),
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE | gdal::GdalOpenFlags::GDAL_OF_RASTER,
            ..Default::default()
        },
    )?;
    let factors: Vec<i32> = job.output.overviews.iter().map(|&f| f as i32).collect();
    if !factors.is_empty() {
        // NONE lays out the levels without computing (or writing) any pixel.
        ds.build_overviews("NONE", &factors, &[])?;
    }
    crate::create::close(ds)?;
    super::translate_with(job, Path::new(src.name()), dst, &[("SPARSE_OK", "TRUE")])
}

/// The skeleton must be what the blocks were encoded for.
fn check(job: &JobCtx, ifds: &[Ifd]) -> anyhow::Result<()> {
    let l = job.output.layout.as_ref().context("no block layout")?;
    let (w, h) = l.size;
    ensure!(
        ifds.len() == job.output.overviews.len() + 1,
        "COG skeleton has {} levels, expected {}",
        ifds.len(),
        job.output.overviews.len() + 1
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

#[cfg(test)]
mod tests {
    use super::trailer;

    #[test]
    fn trailer_repeats_the_last_four_bytes() {
        assert_eq!(trailer(&[1, 2, 3, 4, 5, 6]), [3, 4, 5, 6]);
        assert_eq!(trailer(&[9, 8]), [0, 0, 9, 8]);
    }
}
