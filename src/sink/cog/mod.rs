//! Cloud-Optimized GeoTIFF output.
//!
//! GDAL 3.6's COG driver is CreateCopy-only, so the writer first fills a
//! tiled temp GTiff, [`crate::sink::overviews`] builds the requested levels into
//! it, and this module copies it into a COG under a second temp name, with
//! `OVERVIEWS=FORCE_USE_EXISTING` (the levels and resampling tilerun chose)
//! or `NONE`. The copy decodes and re-encodes every tile, serially after the
//! windows are done, so unless the user says otherwise it compresses with
//! one thread per core (`NUM_THREADS`): the engine is idle by then.
//!
//! That copy is the slow path. Whenever the codec's blocks are portable and
//! the overviews are halvings built with a method [`crate::sink::pyramid`]
//! reproduces, the COG is instead assembled from blocks the workers encode
//! ([`assemble`]); [`block_options`] decides.

mod assemble;
mod framed;
pub mod tiff;

pub use assemble::Assembly;

use std::path::Path;

use anyhow::Context;

use crate::sink::options::CreationOptions;
use crate::sink::spec::OutputSpec;

/// Options for the COG driver: the user's, plus tilerun's overview policy
/// and (unless set) multi-threaded compression.
pub fn options(out: &OutputSpec) -> CreationOptions {
    let mut opts = out.creation_options.clone();
    let mode = if out.overviews.is_empty() {
        "NONE"
    } else {
        "FORCE_USE_EXISTING"
    };
    opts.set("OVERVIEWS", mode);
    if opts.get("NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        opts.set("NUM_THREADS", n.to_string());
    }
    opts
}

pub fn translate(out: &OutputSpec, src: &Path, dst: &Path) -> anyhow::Result<()> {
    translate_with(out, src, dst, &[])?;
    unmark_alpha_in(dst).with_context(|| format!("rewriting ExtraSamples in {}", dst.display()))
}

/// [`tiff::unmark_alpha`] on a COG file GDAL wrote: its IFDs are at the
/// front, so only the head is read (more of it if the IFDs run past).
fn unmark_alpha_in(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let len = f.metadata()?.len();
    let mut want = 1u64 << 20;
    loop {
        let mut head = vec![0; usize::try_from(want.min(len))?];
        f.read_exact_at(&mut head, 0)?;
        match tiff::read_ifds(&head) {
            Ok(ifds) => {
                let before = head.clone();
                tiff::unmark_alpha(&mut head, &ifds)?;
                if head != before {
                    f.write_all_at(&head, 0)?;
                }
                return Ok(());
            }
            Err(_) if want < len => want *= 8,
            Err(e) => return Err(e),
        }
    }
}

fn translate_with(
    out: &OutputSpec,
    src: &Path,
    dst: &Path,
    extra: &[(&str, &str)],
) -> anyhow::Result<()> {
    let mut opts = options(out);
    for (k, v) in extra {
        opts.set(k, *v);
    }
    crate::sink::copy::create_copy("COG", &opts, src, dst)
}

/// COG options the assembled path understands; any other sends the job down
/// the CreateCopy path, which lets GDAL interpret it.
const ASSEMBLY_OPTIONS: &[&str] = &[
    "BLOCKSIZE",
    "COMPRESS",
    "PREDICTOR",
    "LEVEL",
    "BIGTIFF",
    "NUM_THREADS",
    "GEOTIFF_VERSION",
];

/// Codecs with self-contained blocks, as (COG name, TIFF Compression code).
const CODECS: &[(&str, u64)] = &[
    ("NONE", 1),
    ("LZW", 5),
    ("DEFLATE", 8),
    ("PACKBITS", 32773),
    ("LZMA", 34925),
    ("ZSTD", 50000),
];

/// The GTiff creation options that make the encoder produce the blocks the
/// COG driver would, or None when the job must take the CreateCopy path.
pub fn block_options(out: &OutputSpec, size: (usize, usize)) -> Option<CreationOptions> {
    let opts = &out.creation_options;
    if opts.keys().any(|k| !ASSEMBLY_OPTIONS.contains(&k)) {
        return None;
    }
    if !crate::sink::pyramid::supports(out.resampling, size, out.overviews.len())
        || !out.overviews.iter().enumerate().all(|(i, &f)| f == 2 << i)
    {
        return None;
    }
    // GDAL drops a level the size of another (1-pixel rasters); the copy
    // path does whatever GDAL does there.
    let mut dims = vec![size];
    for f in &out.overviews {
        let d = (size.0.div_ceil(*f), size.1.div_ceil(*f));
        if dims.contains(&d) {
            return None;
        }
        dims.push(d);
    }
    let compress = opts.get("COMPRESS").unwrap_or("LZW").to_ascii_uppercase();
    CODECS.iter().find(|(n, _)| *n == compress)?;
    // The COG driver applies a predictor only with these codecs.
    let predicts = ["LZW", "DEFLATE", "ZSTD"].contains(&compress.as_str());
    let predictor = match opts
        .get("PREDICTOR")
        .filter(|_| predicts)
        .unwrap_or("NO")
        .to_ascii_uppercase()
        .as_str()
    {
        "YES" | "TRUE" | "ON" if out.out_type.is_float() => "3",
        "YES" | "TRUE" | "ON" | "STANDARD" | "2" => "2",
        "FLOATING_POINT" | "3" => "3",
        "NO" | "FALSE" | "OFF" | "1" => "1",
        _ => return None,
    };
    let (tw, th) = out.tile;
    let mut g: CreationOptions = [
        ("TILED", "YES".to_string()),
        ("BLOCKXSIZE", tw.to_string()),
        ("BLOCKYSIZE", th.to_string()),
        ("COMPRESS", compress.clone()),
        ("PREDICTOR", predictor.into()),
    ]
    .into_iter()
    .collect();
    if let Some(level) = opts.get("LEVEL") {
        let key = match compress.as_str() {
            "DEFLATE" => "ZLEVEL",
            "ZSTD" => "ZSTD_LEVEL",
            "LZMA" => "LZMA_PRESET",
            _ => return None,
        };
        g.set(key, level);
    }
    Some(g)
}

/// (Compression, Predictor) tag values the encoder's options produce.
pub fn codes(gtiff: &CreationOptions) -> Option<(u64, u64)> {
    let c = gtiff.get("COMPRESS")?.to_ascii_uppercase();
    let code = CODECS.iter().find(|(n, _)| *n == c)?.1;
    let predictor = gtiff.get("PREDICTOR").unwrap_or("1").parse().ok()?;
    // GDAL writes no Predictor tag for uncompressed data.
    Some((code, if code == 1 { 1 } else { predictor }))
}
