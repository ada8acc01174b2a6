//! Framed blocks: how a COG lays each block out (the size leader GDAL's
//! ghost area announces, the bytes, the last four bytes repeated), appended
//! to a file that is either the output itself or a stage whose first part
//! lives in memory. Writeback of the output is started as it grows, so the
//! final steps do not wait for it.

use std::fs::File;
use std::io::{IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

use anyhow::Context;

/// An append-only run of framed blocks: the first `mem_cap` bytes in
/// memory, the rest in `file`.
pub struct Framed {
    file: File,
    pub len: u64,
    mem: Vec<u8>,
    mem_cap: usize,
    /// Where the file part starts, once blocks no longer fit in memory.
    file_from: Option<u64>,
    /// Bytes handed to writeback so far, when `early` is set.
    flushed: u64,
    early: bool,
}

/// Start writeback every this many bytes (see [`Framed::put`]).
const WRITEBACK: u64 = 32 << 20;

impl Framed {
    pub fn new(file: File, early: bool, mem_cap: usize) -> Framed {
        Framed {
            file,
            len: 0,
            mem: Vec::new(),
            mem_cap,
            file_from: None,
            flushed: 0,
            early,
        }
    }

    /// Append leader, bytes, trailer; returns the data's slot.
    pub fn put(&mut self, bytes: &[u8]) -> anyhow::Result<(u64, u32)> {
        let len = u32::try_from(bytes.len()).context("block over 4 GiB")?;
        // One gathering write per block: no copy through a buffer.
        let (lead, trail) = (len.to_le_bytes(), trailer(bytes));
        let at = self.len + 4;
        if self.file_from.is_none() && self.mem.len() + bytes.len() + 8 <= self.mem_cap {
            self.mem.extend_from_slice(&lead);
            self.mem.extend_from_slice(bytes);
            self.mem.extend_from_slice(&trail);
            self.len += u64::from(len) + 8;
            return Ok((at, len));
        }
        let file_from = *self.file_from.get_or_insert(self.len);
        let mut parts = [
            IoSlice::new(&lead),
            IoSlice::new(bytes),
            IoSlice::new(&trail),
        ];
        let mut parts = &mut parts[..];
        while !parts.is_empty() {
            match self.file.write_vectored(parts) {
                Ok(0) => anyhow::bail!("writing a block: no progress (disk full?)"),
                Ok(n) => IoSlice::advance_slices(&mut parts, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.len += u64::from(len) + 8;
        let on_disk = self.len - file_from;
        if self.early && on_disk - self.flushed >= WRITEBACK {
            // Inserting the front room makes the kernel write back the whole
            // file first, on the writer's clock; starting writeback as the
            // blocks arrive keeps that (and the final fsync) short.
            let fd = self.file.as_raw_fd();
            let n = (on_disk - self.flushed) as libc::off64_t;
            // SAFETY: valid descriptor; a hint, so its result is ignored.
            unsafe {
                libc::sync_file_range(
                    fd,
                    self.flushed as libc::off64_t,
                    n,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            self.flushed = on_disk;
        }
        Ok((at, len))
    }

    /// Read back `buf.len()` bytes written at `at`.
    pub fn read_at(&self, buf: &mut [u8], at: u64) -> anyhow::Result<()> {
        match self.file_from {
            Some(f) if at >= f => Ok(self.file.read_exact_at(buf, at - f)?),
            _ => {
                let at = usize::try_from(at)?;
                buf.copy_from_slice(
                    self.mem
                        .get(at..at + buf.len())
                        .context("internal: staged block out of range")?,
                );
                Ok(())
            }
        }
    }

    pub fn into_file(self) -> anyhow::Result<File> {
        Ok(self.file)
    }
}

/// The 4 bytes GDAL repeats after each block so a reader can detect a
/// truncated block (`BLOCK_TRAILER=LAST_4_BYTES_REPEATED`).
pub fn trailer(bytes: &[u8]) -> [u8; 4] {
    let mut t = [0u8; 4];
    let n = bytes.len().min(4);
    t[4 - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    t
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
