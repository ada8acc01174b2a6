//! Process-wide GDAL set-up: safe configuration and error routing.
//!
//! GDAL keeps global state (config options, the block cache, the error
//! handler), so it is set once, before any thread opens a dataset. Errors
//! are the subtle part: GDAL reports many failures only through its error
//! handler, sometimes while returning "success" (a failed tile decode inside
//! an otherwise finished RasterIO, a write error at close on 3.6, which has
//! no close error codes). So every message is both logged through `tracing`
//! and recorded on the thread that raised it; each job inspects its threads'
//! records and fails on any `CE_Failure`, never trusting return codes alone.

use std::cell::RefCell;
use std::sync::Once;

use gdal::errors::CplErrType;

/// GDAL options that make reading untrusted files safe and predictable.
/// `GDAL_NUM_THREADS=1`: GDAL 3.6 has a crash in threaded decoding, and our
/// parallelism comes from workers anyway.
const SAFE_OPTIONS: &[(&str, &str)] = &[
    ("GDAL_NUM_THREADS", "1"),
    ("GDAL_PAM_ENABLED", "NO"),
    ("GDAL_VRT_ENABLE_PYTHON", "NO"),
    ("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR"),
    ("CPL_VSIL_CURL_ALLOWED_EXTENSIONS", "NONE"),
    ("GDAL_HTTP_MAX_RETRY", "0"),
    ("GTIFF_REPORT_COMPD_CS", "NO"),
    // libjpeg only *warns* about truncated or corrupt data and fills the
    // rest with grey: make that an error, so it fails the job.
    ("GDAL_ERROR_ON_LIBJPEG_WARNING", "TRUE"),
];

/// One message GDAL raised on the current thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdalMessage {
    pub failure: bool,
    pub text: String,
}

thread_local! {
    static MESSAGES: RefCell<Vec<GdalMessage>> = const { RefCell::new(Vec::new()) };
}

/// Configure GDAL once per process. `cache_mb` bounds GDAL's block cache,
/// which is shared by all threads, so N workers cannot multiply it.
pub fn init(cache_mb: usize) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (k, v) in SAFE_OPTIONS {
            // An option the user set in the environment wins: it is their box.
            if std::env::var_os(k).is_none() {
                let _ = gdal::config::set_config_option(k, v);
            }
        }
        gdal::config::set_error_handler(|class, code, msg| {
            record(class, code, msg);
        });
        tune_malloc();
    });
    let bytes = (cache_mb.max(8) as i64) * 1024 * 1024;
    // SAFETY: plain setter on GDAL's global cache size.
    unsafe { gdal_sys::GDALSetCacheMax64(bytes) };
}

/// Every window allocates and frees buffers of a few MB (GDAL's blocks and
/// in-memory files, tilerun's windows and overview strips). With glibc's
/// defaults those are mmapped and unmapped each time, and every page is
/// faulted in again: measured on the 8192² NDVI to COG, 0.06 s of system
/// time and 1.5% of wall time. Serving them from the heap costs about 10 MB
/// of peak RSS. A user's own `GLIBC_TUNABLES` wins.
fn tune_malloc() {
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    // SAFETY: mallopt only adjusts glibc's allocator parameters; called once,
    // before any worker thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

fn record(class: CplErrType, code: i32, msg: &str) {
    // Messages quote file names, which may hold newlines or escape sequences.
    let msg = &crate::error::escape(msg);
    let failure = matches!(class, CplErrType::Failure | CplErrType::Fatal)
        || (matches!(class, CplErrType::Warning) && loses_data(msg));
    match class {
        CplErrType::Failure | CplErrType::Fatal => {
            tracing::debug!(target: "gdal", code, "{msg}")
        }
        // Jobs collect warnings and report them with the input's path, once.
        CplErrType::Warning => tracing::debug!(target: "gdal", code, "{msg}"),
        CplErrType::Debug | CplErrType::None => tracing::trace!(target: "gdal", code, "{msg}"),
    }
    if matches!(class, CplErrType::Debug | CplErrType::None) {
        return;
    }
    MESSAGES.with(|m| {
        let mut m = m.borrow_mut();
        // A corrupt file can raise the same error thousands of times.
        if m.len() < 64 && !m.iter().any(|x| &x.text == msg) {
            m.push(GdalMessage {
                failure,
                text: msg.to_string(),
            });
        }
    });
}

/// Warnings that mean the decoded pixels are partly made up. libjpeg only
/// warns about corrupt or truncated data and fills the rest with grey; GDAL's
/// JPEG driver can turn that into an error (`GDAL_ERROR_ON_LIBJPEG_WARNING`)
/// but libtiff's JPEG codec, used for JPEG-compressed GeoTIFFs, cannot.
fn loses_data(msg: &str) -> bool {
    msg.starts_with("JPEGLib:") || msg.starts_with("libjpeg:")
}

/// Take (and clear) the messages GDAL raised on this thread.
pub fn take_messages() -> Vec<GdalMessage> {
    MESSAGES.with(|m| std::mem::take(&mut *m.borrow_mut()))
}

/// Clear this thread's messages, e.g. before a fresh job on a reused thread.
pub fn clear_messages() {
    MESSAGES.with(|m| m.borrow_mut().clear());
}

/// The first failure raised on this thread since the last take, if any.
pub fn first_failure() -> Option<String> {
    MESSAGES.with(|m| {
        m.borrow()
            .iter()
            .find(|x| x.failure)
            .map(|x| x.text.clone())
    })
}
