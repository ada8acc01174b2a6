//! Deliveries packed as archives: a Landsat bulk `.tar`, a Sentinel-2
//! `.SAFE.zip`, or a `.tar.gz`.
//!
//! `.tar` and `.zip` members are read in place by GDAL (`/vsitar/`,
//! `/vsizip/`): nothing is extracted. A `.tar.gz` cannot be: gzip has no
//! index, so GDAL inflates everything before a member on every fresh handle
//! (bench/vsi_archive.py: about 12 s per GB of compressible data, once per
//! worker and member), so its members are inflated once, in one pass, into
//! a spool folder on the output's filesystem, and read from there.
//!
//! Everything is checked from the archive's own directory before a pixel
//! is read: a member whose data lies past the end of the file (a truncated
//! download), a damaged header, and members claiming more than
//! `limits.max_member_bytes` (a zip bomb) are refused, naming the member.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};

use crate::input::Limits;

/// The packings tilerun reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Tar,
    TarGz,
    Zip,
}

impl Packing {
    /// By name: `.tar`, `.tar.gz` / `.tgz`, `.zip` (any case).
    pub fn of(p: &Path) -> Option<Packing> {
        let n = p.file_name()?.to_string_lossy().to_ascii_lowercase();
        if n.ends_with(".tar") {
            Some(Packing::Tar)
        } else if n.ends_with(".tar.gz") || n.ends_with(".tgz") {
            Some(Packing::TarGz)
        } else if n.ends_with(".zip") {
            Some(Packing::Zip)
        } else {
            None
        }
    }
}

/// A regular file inside an archive: its path there and claimed size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub path: String,
    pub size: u64,
}

impl Member {
    /// The last path component: what recipe patterns match.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

fn check_size(m: &Member, limits: &Limits) -> anyhow::Result<()> {
    if m.size > limits.max_member_bytes {
        bail!(
            "member {} claims {} MiB, over the limit of {} MiB (limits.max_member_bytes): \
             refused as a possible archive bomb",
            crate::error::escape(&m.path),
            m.size >> 20,
            limits.max_member_bytes >> 20
        );
    }
    Ok(())
}

/// The regular files of a `.tar` or `.zip`, checked (see the module doc).
pub fn list(archive: &Path, packing: Packing, limits: &Limits) -> anyhow::Result<Vec<Member>> {
    let members = match packing {
        Packing::Tar => list_tar(archive)?,
        Packing::Zip => list_zip(archive)?,
        Packing::TarGz => bail!("a .tar.gz is listed while it is spooled"),
    };
    for m in &members {
        check_size(m, limits)?;
    }
    Ok(members)
}

/// Tar headers, read by seeking from one to the next: cheap, and each
/// member's data must lie inside the file.
fn list_tar(archive: &Path) -> anyhow::Result<Vec<Member>> {
    let len = std::fs::metadata(archive)?.len();
    let mut a = tar::Archive::new(File::open(archive)?);
    let mut out = Vec::new();
    let entries = a
        .entries_with_seek()
        .context("not a readable tar archive")?;
    for e in entries {
        let e = e.context("damaged tar archive (bad member header)")?;
        let path = member_name(&e.path().context("member name")?);
        let (at, size) = (e.raw_file_position(), e.size());
        if at.saturating_add(size) > len {
            bail!(
                "member {} needs bytes {at}..{} but the archive has {len}: truncated",
                crate::error::escape(&path),
                at.saturating_add(size)
            );
        }
        if e.header().entry_type().is_file() {
            out.push(Member { path, size });
        }
    }
    if out.is_empty() && len > 0 {
        bail!("not a tar archive, or a damaged one (no members found)");
    }
    Ok(out)
}

/// A tar member's path as GDAL's `/vsitar/` names it: `tar -C dir .`
/// writes `./NAME`, and GDAL drops the `.` (and a leading `/`), so
/// `/vsitar/x.tar/./NAME` would not exist.
fn member_name(p: &Path) -> String {
    let parts: Vec<_> = p
        .components()
        .filter(|c| !matches!(c, Component::CurDir | Component::RootDir))
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}

/// A zip's central directory, as GDAL (which will read the members) sees it.
fn list_zip(archive: &Path) -> anyhow::Result<Vec<Member>> {
    let abs = std::path::absolute(archive)?;
    let mut root = std::ffi::OsString::from("/vsizip/");
    root.push(abs.as_os_str());
    let root = PathBuf::from(root);
    crate::gdal::env::clear_messages();
    let Some(names) = crate::gdal::ffi::read_dir_recursive(&root) else {
        let why = crate::gdal::env::first_failure().unwrap_or_default();
        bail!(
            "not a zip archive, or a truncated or damaged one{}",
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            }
        );
    };
    let mut out = Vec::new();
    for n in names.into_iter().filter(|n| !n.ends_with('/')) {
        let (size, dir) = crate::gdal::ffi::stat(&root.join(&n))
            .with_context(|| format!("member {}: damaged entry", crate::error::escape(&n)))?;
        if !dir {
            out.push(Member { path: n, size });
        }
    }
    Ok(out)
}

/// Inflate a `.tar.gz` in one pass: every member is listed and checked,
/// and those `want` accepts are written into `dir`, each under its file
/// name in a folder of its own. Returns the members, each with its spooled file.
pub fn spool_tar_gz(
    archive: &Path,
    dir: &Path,
    want: &dyn Fn(&Member) -> bool,
    limits: &Limits,
) -> anyhow::Result<Vec<(Member, Option<PathBuf>)>> {
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(File::open(archive)?));
    let mut a = tar::Archive::new(gz);
    let mut out = Vec::new();
    let entries = a.entries().context("not a readable .tar.gz")?;
    for e in entries {
        let mut e = e.context("truncated or damaged .tar.gz (reading a member header)")?;
        let path = e
            .path()
            .context("member name")?
            .to_string_lossy()
            .into_owned();
        if !e.header().entry_type().is_file() {
            continue;
        }
        let m = Member {
            path,
            size: e.size(),
        };
        check_size(&m, limits)?;
        let kept = if want(&m) {
            // One folder per member keeps its file name (provenance records
            // it) even when two members share one.
            let sub = dir.join(out.len().to_string());
            std::fs::create_dir(&sub)?;
            let to = sub.join(m.file_name());
            copy_exact(&mut e, &to, m.size).with_context(|| {
                format!(
                    "member {}: truncated or damaged .tar.gz",
                    crate::error::escape(&m.path)
                )
            })?;
            Some(to)
        } else {
            std::io::copy(&mut e, &mut std::io::sink()).with_context(|| {
                format!(
                    "member {}: truncated or damaged .tar.gz",
                    crate::error::escape(&m.path)
                )
            })?;
            None
        };
        out.push((m, kept));
    }
    if out.is_empty() {
        bail!("not a tar archive inside the gzip, or a damaged one (no members found)");
    }
    Ok(out)
}

/// Copy exactly `size` bytes (a short member is a truncated archive).
fn copy_exact(from: &mut impl Read, to: &Path, size: u64) -> anyhow::Result<()> {
    let mut f = File::create(to)?;
    let n = std::io::copy(&mut from.take(size), &mut f)?;
    if n != size {
        bail!("{n} of {size} bytes");
    }
    Ok(())
}

/// A spool folder for one job's inflated members, removed with everything
/// in it when the job is dropped.
#[derive(Debug)]
pub struct Spool(tempfile::TempDir);

impl Spool {
    /// A fresh hidden folder in `parent` (the output's folder, so spooled
    /// bytes land on the output filesystem, never in a RAM-backed /tmp). A
    /// full disk while spooling is an OS error like any other write's, so
    /// the daemon retries it.
    pub fn new(parent: &Path) -> anyhow::Result<Spool> {
        let d = tempfile::Builder::new()
            .prefix(".tilerun-spool-")
            .tempdir_in(parent)
            .with_context(|| {
                format!("creating a spool folder in {}", crate::error::show(parent))
            })?;
        Ok(Spool(d))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}
