//! GDAL's virtual file system for object storage (`/vsis3/`): stat, HTTP
//! headers (the ETag), listing, and streaming copies in and out.
//!
//! tilerun reaches S3 only through GDAL, so the endpoint, region and
//! credentials are GDAL's standard `AWS_*` settings, and uploads are GDAL's
//! (one PUT for small files, a multipart upload otherwise, completed at
//! close, so the key appears only once the whole file is there). A failed
//! or stopped upload is aborted, so it leaves no parts behind either.

use std::ffi::{c_char, CStr, CString};
use std::io::Read;
use std::path::Path;

/// tilerun keeps GDAL's network access off (`CPL_VSIL_CURL_ALLOWED_EXTENSIONS
/// = NONE` in [`super::env`]), so nothing inside a file can make GDAL fetch
/// a URL. Each call here lets exactly one path through, on this thread,
/// for its own duration: `/vsis3/` honours `…_ALLOWED_FILENAME` (an exact
/// match); `/vsis3_streaming/` only `…_ALLOWED_EXTENSIONS` (a suffix
/// match on ", "-separated tokens, against the name without the handler's
/// prefix), so there `bucket/key` is the one "extension" allowed.
struct Allow;

const FILENAME: &str = "CPL_VSIL_CURL_ALLOWED_FILENAME";
const EXTENSIONS: &str = "CPL_VSIL_CURL_ALLOWED_EXTENSIONS";

impl Allow {
    fn only(path: &str) -> Allow {
        let _ = gdal::config::set_thread_local_config_option(FILENAME, path);
        if let Some(rest) = path.strip_prefix("/vsis3_streaming/") {
            let _ = gdal::config::set_thread_local_config_option(EXTENSIONS, rest);
        }
        Allow
    }
}

impl Drop for Allow {
    fn drop(&mut self) {
        let _ = gdal::config::clear_thread_local_config_option(FILENAME);
        let _ = gdal::config::clear_thread_local_config_option(EXTENSIONS);
    }
}

/// Whether [`download`] can take `path` through the streaming handler
/// (whose allow-list is split on spaces and commas).
pub fn streamable(path: &str) -> bool {
    !path.contains([' ', ','])
}

fn c(path: &str) -> Result<CString, String> {
    CString::new(path).map_err(|_| format!("{path}: contains a NUL byte"))
}

/// What GDAL said while the last call failed, for the error message.
fn said() -> String {
    let m: Vec<String> = super::env::take_messages()
        .into_iter()
        .map(|m| m.text)
        .collect();
    if m.is_empty() {
        String::new()
    } else {
        format!(" ({})", m.join("; "))
    }
}

/// [`stat`] that gives up after `secs`: a store that accepts connections
/// and never answers (a hung balancer) makes it None rather than never
/// return. For probes, which a paused worker's slots and its stop wait
/// behind. A `GDAL_HTTP_TIMEOUT` set in the environment wins.
pub fn stat_within(path: &str, secs: u32) -> Option<u64> {
    const TIMEOUT: &str = "GDAL_HTTP_TIMEOUT";
    let ours = std::env::var_os(TIMEOUT).is_none();
    if ours {
        let _ = gdal::config::set_thread_local_config_option(TIMEOUT, &secs.to_string());
    }
    let size = stat(path);
    if ours {
        let _ = gdal::config::clear_thread_local_config_option(TIMEOUT);
    }
    size
}

/// Size of the object or "directory" at `path`; None if GDAL cannot see it.
pub fn stat(path: &str) -> Option<u64> {
    let p = c(path).ok()?;
    let _allow = Allow::only(path);
    super::env::clear_messages();
    // VSIStatBufL is glibc's struct stat64 (opaque in the bindings).
    // SAFETY: zeroed plain-data out-struct.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    // VSI_STAT_EXISTS_FLAG | VSI_STAT_SIZE_FLAG (cpl_vsi.h).
    let flags = 0x1 | 0x4;
    // SAFETY: valid C string and an out-struct of the size GDAL writes.
    let rc =
        unsafe { gdal_sys::VSIStatExL(p.as_ptr(), (&mut st as *mut libc::stat64).cast(), flags) };
    (rc == 0).then_some(st.st_size as u64)
}

/// The HTTP headers GDAL got for `path` ("Name=value" pairs).
pub fn headers(path: &str) -> Vec<String> {
    let (Ok(p), Ok(d)) = (c(path), c("HEADERS")) else {
        return vec![];
    };
    let _allow = Allow::only(path);
    // SAFETY: valid C strings; GDAL returns an owned string list or null.
    let list =
        unsafe { gdal_sys::VSIGetFileMetadata(p.as_ptr(), d.as_ptr(), std::ptr::null_mut()) };
    take_list(list)
}

/// Names in the "directory" `path` (one level).
pub fn read_dir(path: &str) -> Vec<String> {
    let Ok(p) = c(path) else { return vec![] };
    let _allow = Allow::only(path);
    // SAFETY: valid C string; GDAL returns an owned string list or null.
    take_list(unsafe { gdal_sys::VSIReadDir(p.as_ptr()) })
}

/// One object found by [`walk`]: its name below the folder, size, ETag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub etag: String,
}

/// Every object under the "directory" `path`, at any depth, folders left
/// out: one listing (S3's ListObjects gives the sizes and ETags).
pub fn walk(path: &str) -> Vec<Entry> {
    let Ok(p) = c(path) else { return vec![] };
    let _allow = Allow::only(path);
    // SAFETY: valid C string, no options; null if it cannot be listed.
    let dir = unsafe { gdal_sys::VSIOpenDir(p.as_ptr(), -1, std::ptr::null()) };
    if dir.is_null() {
        return vec![];
    }
    let mut out = Vec::new();
    loop {
        // SAFETY: an open VSIDIR; the entry lives until the next call.
        let e = unsafe { gdal_sys::VSIGetNextDirEntry(dir) };
        if e.is_null() {
            break;
        }
        // SAFETY: non-null, valid until the next VSIGetNextDirEntry.
        let e = unsafe { &*e };
        if e.bModeKnown != 0 && (e.nMode as libc::mode_t & libc::S_IFMT) == libc::S_IFDIR {
            continue;
        }
        // SAFETY: GDAL's NUL-terminated name and "Key=value" list.
        let name = unsafe { CStr::from_ptr(e.pszName) }
            .to_string_lossy()
            .into_owned();
        let etag = extra(e.papszExtra)
            .into_iter()
            .find_map(|kv| {
                kv.strip_prefix("ETag=")
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_default();
        out.push(Entry {
            name,
            size: e.nSize,
            etag,
        });
    }
    // SAFETY: opened above, closed once.
    unsafe { gdal_sys::VSICloseDir(dir) };
    out
}

/// A borrowed CSL string list (GDAL keeps ownership).
fn extra(list: *mut *mut c_char) -> Vec<String> {
    let mut out = Vec::new();
    if list.is_null() {
        return out;
    }
    // SAFETY: a null-terminated array of C strings, read only.
    unsafe {
        let mut i = 0;
        while !(*list.add(i)).is_null() {
            out.push(CStr::from_ptr(*list.add(i)).to_string_lossy().into_owned());
            i += 1;
        }
    }
    out
}

fn take_list(list: *mut *mut c_char) -> Vec<String> {
    let out = extra(list);
    if !list.is_null() {
        // SAFETY: a string list we own, freed once.
        unsafe { gdal_sys::CSLDestroy(list) };
    }
    out
}

/// Forget cached stats and listings, so a key rewritten since is seen anew.
pub fn clear_cache() {
    // SAFETY: no arguments, no preconditions.
    unsafe { gdal_sys::VSICurlClearCache() };
}

struct Handle(*mut gdal_sys::VSILFILE);

impl Handle {
    fn open(path: &str, mode: &CStr) -> Result<Handle, String> {
        let p = c(path)?;
        // SAFETY: valid C strings; null on failure.
        let h = unsafe { gdal_sys::VSIFOpenL(p.as_ptr(), mode.as_ptr()) };
        if h.is_null() {
            return Err(format!("{path}: cannot open{}", said()));
        }
        Ok(Handle(h))
    }

    /// Close, reporting failure (for an upload: it was not completed).
    fn close(self) -> bool {
        let h = self.0;
        std::mem::forget(self);
        // SAFETY: an open handle, closed once.
        unsafe { gdal_sys::VSIFCloseL(h) == 0 }
    }
}

impl Handle {
    /// Give a write up: GDAL's S3 writer has no abort call, but a seek it
    /// cannot do marks the handle failed, and closing a failed handle
    /// aborts its multipart upload (or skips the single PUT) instead of
    /// completing it. True if the abort went through.
    fn abort(self) -> bool {
        // SAFETY: an open handle; the seek only sets GDAL's error flag.
        unsafe { gdal_sys::VSIFSeekL(self.0, u64::MAX, libc::SEEK_SET) };
        let _ = super::env::take_messages(); // "Seek not supported": ours.
        self.close()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: an open handle, closed once.
        unsafe { gdal_sys::VSIFCloseL(self.0) };
    }
}

const CHUNK: usize = 4 << 20;

/// Stream the object at `src` (a /vsi path) into the local scratch file
/// `dst`.
pub fn download(src: &str, dst: &Path) -> Result<u64, String> {
    use std::io::Write;
    super::env::clear_messages();
    let _allow = Allow::only(src);
    let h = Handle::open(src, c"rb")?;
    let mut f = std::fs::File::create(dst).map_err(|e| format!("{}: {e}", dst.display()))?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        // SAFETY: reads at most CHUNK bytes into our buffer.
        let n = unsafe { gdal_sys::VSIFReadL(buf.as_mut_ptr().cast(), 1, CHUNK, h.0) };
        if n == 0 {
            break;
        }
        f.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", dst.display()))?;
        total += n as u64;
    }
    if !super::env::take_messages().iter().all(|m| !m.failure) {
        return Err(format!("{src}: the download failed{}", said()));
    }
    // No fsync: a download is a job's scratch copy, which a crash throws
    // away with the run (the job runs again and fetches it again).
    f.flush().map_err(|e| format!("{}: {e}", dst.display()))?;
    Ok(total)
}

/// Stream the local file `src` to `dst` (a /vsi path). The object exists
/// only once this returns Ok. Anything that goes wrong before the end — a
/// local read error, a part S3 refused, the file changing size under us,
/// or `go_on` answering false between chunks (a stop) — aborts the upload,
/// so neither the key nor an incomplete multipart upload is left behind.
pub fn upload(src: &Path, dst: &str, go_on: &mut dyn FnMut() -> bool) -> Result<u64, String> {
    super::env::clear_messages();
    let mut f = std::fs::File::open(src).map_err(|e| format!("{}: {e}", src.display()))?;
    let size = f
        .metadata()
        .map_err(|e| format!("{}: {e}", src.display()))?
        .len();
    let _allow = Allow::only(dst);
    let h = Handle::open(dst, c"wb")?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    let why = loop {
        if !go_on() {
            break "stopped".to_string();
        }
        let n = match f.read(&mut buf) {
            Ok(0) if total == size => break String::new(),
            Ok(0) => break format!("{} shrank to {total} of {size} bytes", src.display()),
            Ok(n) => n,
            Err(e) => break format!("{}: {e}", src.display()),
        };
        // SAFETY: writes n bytes from our buffer.
        let w = unsafe { gdal_sys::VSIFWriteL(buf.as_ptr().cast(), 1, n, h.0) };
        if w != n {
            break format!("the upload failed{}", said());
        }
        total += n as u64;
    };
    if !why.is_empty() {
        let aborted = if h.abort() {
            "the partial upload was aborted"
        } else {
            "aborting the partial upload failed too"
        };
        return Err(format!("{dst}: {why}; {aborted}{}", said()));
    }
    if !h.close() {
        return Err(format!("{dst}: completing the upload failed{}", said()));
    }
    Ok(total)
}
