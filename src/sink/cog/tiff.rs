//! Just enough TIFF to fill in a COG skeleton's block index.
//!
//! GDAL writes the skeleton (IFDs first, every tag in place, offsets and
//! byte counts zero); tilerun places the blocks and must then record where
//! they went without moving any IFD, which libtiff cannot do (it rewrites a
//! changed directory at the end of the file). So this module reads the IFD
//! chain and rewrites the TileOffsets/TileByteCounts values *in place* in
//! the skeleton's bytes, at the width the skeleton chose for them. The
//! ExtraSamples values are rewritten the same way ([`unmark_alpha`]).

use anyhow::{bail, ensure, Context};

const TILE_WIDTH: u16 = 322;
const TILE_LENGTH: u16 = 323;
const IMAGE_WIDTH: u16 = 256;
const IMAGE_LENGTH: u16 = 257;
const COMPRESSION: u16 = 259;
const PREDICTOR: u16 = 317;
const PLANAR: u16 = 284;
const TILE_OFFSETS: u16 = 324;
const TILE_BYTE_COUNTS: u16 = 325;
const EXTRA_SAMPLES: u16 = 338;

/// Where an array of unsigned integers lives in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Array {
    pub pos: u64,
    /// Bytes per value: 2 (SHORT), 4 (LONG) or 8 (LONG8).
    pub width: usize,
    pub count: usize,
}

/// One image file directory: a resolution level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ifd {
    pub size: (usize, usize),
    pub tile: (usize, usize),
    pub compression: u64,
    pub predictor: u64,
    pub planar: u64,
    pub offsets: Array,
    pub counts: Array,
    /// What each sample beyond the colour channels is (alpha or not).
    pub extra_samples: Option<Array>,
}

impl Ifd {
    pub fn tiles(&self) -> usize {
        self.size.0.div_ceil(self.tile.0) * self.size.1.div_ceil(self.tile.1)
    }
}

struct Reader<'a> {
    f: &'a [u8],
    big: bool,
}

impl<'a> Reader<'a> {
    fn bytes(&self, pos: u64, n: usize) -> anyhow::Result<&'a [u8]> {
        usize::try_from(pos)
            .ok()
            .and_then(|p| self.f.get(p..p.checked_add(n)?))
            .with_context(|| format!("{n} bytes at {pos}: past the end of the skeleton"))
    }
    fn uint(&self, pos: u64, width: usize) -> anyhow::Result<u64> {
        Ok(le(self.bytes(pos, width)?))
    }
}

fn le(b: &[u8]) -> u64 {
    b.iter()
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn type_width(t: u16) -> Option<usize> {
    match t {
        3 => Some(2),
        4 | 13 => Some(4),
        16 | 18 => Some(8),
        _ => None,
    }
}

/// Every IFD in chain order (main image first, then the overviews).
pub fn read_ifds(f: &[u8]) -> anyhow::Result<Vec<Ifd>> {
    let head = Reader { f, big: false }.bytes(0, 16)?;
    ensure!(&head[..2] == b"II", "not a little-endian TIFF");
    let big = match le(&head[2..4]) {
        42 => false,
        43 => true,
        v => bail!("not a TIFF (version {v})"),
    };
    let r = Reader { f, big };
    let mut next = if big {
        le(&head[8..16])
    } else {
        le(&head[4..8])
    };
    let mut out = Vec::new();
    while next != 0 {
        ensure!(out.len() < 64, "too many IFDs");
        out.push(read_ifd(&r, next, &mut next)?);
    }
    Ok(out)
}

fn read_ifd(r: &Reader, pos: u64, next: &mut u64) -> anyhow::Result<Ifd> {
    let (count_w, entry_w, value_w) = if r.big { (8, 20, 8) } else { (2, 12, 4) };
    let n = r.uint(pos, count_w)? as usize;
    let entries = r.bytes(pos + count_w as u64, n * entry_w)?;
    let mut ifd = Ifd {
        size: (0, 0),
        tile: (0, 0),
        compression: 1,
        predictor: 1,
        planar: 1,
        offsets: Array {
            pos: 0,
            width: 0,
            count: 0,
        },
        counts: Array {
            pos: 0,
            width: 0,
            count: 0,
        },
        extra_samples: None,
    };
    for i in 0..n {
        let e = &entries[i * entry_w..(i + 1) * entry_w];
        let tag = le(&e[0..2]) as u16;
        let typ = le(&e[2..4]) as u16;
        let count = if r.big { le(&e[4..12]) } else { le(&e[4..8]) } as usize;
        let value_pos = pos + count_w as u64 + (i * entry_w) as u64 + (entry_w - value_w) as u64;
        let Some(width) = type_width(typ) else {
            continue;
        };
        let array = if width * count <= value_w {
            Array {
                pos: value_pos,
                width,
                count,
            }
        } else {
            Array {
                pos: r.uint(value_pos, value_w)?,
                width,
                count,
            }
        };
        let first = || r.uint(array.pos, width);
        match tag {
            IMAGE_WIDTH => ifd.size.0 = first()? as usize,
            IMAGE_LENGTH => ifd.size.1 = first()? as usize,
            TILE_WIDTH => ifd.tile.0 = first()? as usize,
            TILE_LENGTH => ifd.tile.1 = first()? as usize,
            COMPRESSION => ifd.compression = first()?,
            PREDICTOR => ifd.predictor = first()?,
            PLANAR => ifd.planar = first()?,
            TILE_OFFSETS => ifd.offsets = array,
            TILE_BYTE_COUNTS => ifd.counts = array,
            EXTRA_SAMPLES => ifd.extra_samples = Some(array),
            _ => {}
        }
    }
    *next = r.uint(pos + count_w as u64 + (n * entry_w) as u64, value_w)?;
    ensure!(
        ifd.tile.0 > 0 && ifd.tile.1 > 0,
        "IFD at {pos} is not tiled"
    );
    ensure!(
        ifd.offsets.count == ifd.tiles() && ifd.counts.count == ifd.tiles(),
        "IFD at {pos}: block index does not match the tile grid"
    );
    Ok(ifd)
}

/// Overwrite `a` with `values`, refusing any that do not fit its width.
pub fn patch(f: &mut [u8], a: Array, values: &[u64]) -> anyhow::Result<()> {
    ensure!(values.len() == a.count, "block index length mismatch");
    let mut buf = Vec::with_capacity(a.count * a.width);
    for &v in values {
        if a.width < 8 && v >> (8 * a.width) != 0 {
            bail!(
                "value {v} does not fit the {}-byte block index GDAL laid out (use --co BIGTIFF=YES)",
                a.width
            );
        }
        buf.extend_from_slice(&v.to_le_bytes()[..a.width]);
    }
    let at = usize::try_from(a.pos)?;
    f.get_mut(at..at + buf.len())
        .context("block index past the end of the skeleton")?
        .copy_from_slice(&buf);
    Ok(())
}

/// Mark every extra sample "unspecified" instead of alpha. GDAL 3.6's COG
/// driver has no PHOTOMETRIC option and lays out 3- and 4-band Byte images
/// as RGB, the fourth band as alpha, whatever the bands hold; tilerun's
/// output bands are never alpha (see `crate::sink::create`), so a TIFF reader
/// must not take one for a mask. GDAL itself reads the bands' colour
/// interpretation from its own metadata, which stays as written.
pub fn unmark_alpha(f: &mut [u8], ifds: &[Ifd]) -> anyhow::Result<()> {
    for a in ifds.iter().filter_map(|i| i.extra_samples) {
        patch(f, a, &vec![0; a.count])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_endian_of_any_width() {
        assert_eq!(le(&[0x34, 0x12]), 0x1234);
        assert_eq!(le(&[1, 0, 0, 0, 0, 0, 0, 0x80]), 0x8000_0000_0000_0001);
    }

    #[test]
    fn patch_refuses_values_too_wide() {
        let mut f = [0u8; 16];
        let a = Array {
            pos: 4,
            width: 2,
            count: 2,
        };
        patch(&mut f, a, &[1, 0xffff]).unwrap();
        assert!(patch(&mut f, a, &[1, 0x10000]).is_err());
        assert_eq!(&f[4..8], &[1, 0, 0xff, 0xff]);
        assert!(patch(&mut f[..6], a, &[1, 2]).is_err());
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let f = [
            b"II*\0".as_slice(),
            &8u32.to_le_bytes(),
            &3u16.to_le_bytes(),
            &[0, 1, 3, 0, 1, 0, 0, 0, 0x10, 0, 0, 0],
            &[1, 1, 3, 0, 1, 0, 0, 0, 0x10, 0, 0, 0],
            &[0x42, 1, 3, 0, 1, 0, 0, 0, 0x10, 0, 0, 0],
            &0u32.to_le_bytes(),
        ]
        .concat();
        // Untiled (no tile length), no block index: refused, not guessed.
        assert!(read_ifds(&f).is_err());
        assert!(read_ifds(&f[..20]).is_err());
        assert!(read_ifds(b"MM\0*").is_err());
    }
}
