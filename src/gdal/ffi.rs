//! The GDAL C calls the `gdal` crate does not wrap (or wraps without what
//! tilerun needs: an allow-list of drivers, 64-bit and complex type codes,
//! whole XML metadata domains, CreateCopy with options, a driver's own
//! creation-option check and list), each behind a safe function, and
//! in-memory files that are removed when dropped.

use std::ffi::{CStr, CString};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use gdal::cpl::CslStringList;
use gdal::{Dataset, Driver, GdalOpenFlags};
use gdal_sys::GDALDataType;

/// `GDALOpenEx` with only `drivers` allowed. Err carries GDAL's message.
pub fn open_ex(path: &CStr, flags: GdalOpenFlags, drivers: &[String]) -> anyhow::Result<Dataset> {
    let mut list = CslStringList::new();
    for d in drivers {
        list.add_string(d)?;
    }
    crate::gdal::env::clear_messages();
    // SAFETY: NUL-terminated path, NULL-terminated driver list that outlives
    // the call, no open options or sibling list.
    let h = unsafe {
        gdal_sys::GDALOpenEx(
            path.as_ptr(),
            flags.bits(),
            list.as_ptr() as *const *const std::ffi::c_char,
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if h.is_null() {
        let why = crate::gdal::env::first_failure().unwrap_or_else(|| "GDAL cannot open it".into());
        anyhow::bail!("{}", why.trim());
    }
    // SAFETY: a fresh handle we now own.
    Ok(unsafe { Dataset::from_c_dataset(h) })
}

/// `GDALCreate` with any type code (the crate's generic create cannot name
/// a type at run time). Err carries GDAL's message.
pub fn create(
    driver: &Driver,
    path: &Path,
    size: (usize, usize),
    bands: usize,
    t: GDALDataType::Type,
    opts: &CslStringList,
) -> anyhow::Result<Dataset> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())?;
    crate::gdal::env::clear_messages();
    // SAFETY: valid driver, NUL-terminated name and option list.
    let h = unsafe {
        gdal_sys::GDALCreate(
            driver.c_driver(),
            c.as_ptr(),
            size.0 as i32,
            size.1 as i32,
            bands as i32,
            t,
            opts.as_ptr(),
        )
    };
    if h.is_null() {
        let why = crate::gdal::env::first_failure().unwrap_or_else(|| "GDALCreate failed".into());
        anyhow::bail!("{}", why.trim());
    }
    // SAFETY: a fresh handle we now own.
    Ok(unsafe { Dataset::from_c_dataset(h) })
}

/// `GDALCreateCopy` of `src` to `dst`, closed at once; Err carries GDAL's
/// message (including one raised while closing).
pub fn create_copy(
    driver: &Driver,
    src: &Dataset,
    dst: &Path,
    opts: &CslStringList,
) -> anyhow::Result<()> {
    let c_dst = CString::new(dst.as_os_str().as_encoded_bytes())?;
    crate::gdal::env::clear_messages();
    // SAFETY: valid handles and NUL-terminated strings.
    let h = unsafe {
        gdal_sys::GDALCreateCopy(
            driver.c_driver(),
            c_dst.as_ptr(),
            src.c_dataset(),
            0,
            opts.as_ptr(),
            None,
            std::ptr::null_mut(),
        )
    };
    if h.is_null() {
        let why = crate::gdal::env::first_failure().unwrap_or_else(|| "CreateCopy failed".into());
        anyhow::bail!("{}", why.trim());
    }
    // SAFETY: we own the handle.
    unsafe { gdal_sys::GDALClose(h) };
    if let Some(msg) = crate::gdal::env::first_failure() {
        anyhow::bail!("{}", msg.trim());
    }
    Ok(())
}

/// Set a whole metadata domain at once: XML domains hold one document, not
/// KEY=VALUE items.
pub fn set_metadata_domain(ds: &mut Dataset, domain: &str, items: &[String]) -> anyhow::Result<()> {
    let mut list = CslStringList::new();
    for i in items {
        list.add_string(i)?;
    }
    let c_domain = CString::new(domain)?;
    // SAFETY: valid handle, NULL-terminated list and domain; GDAL copies both.
    let err =
        unsafe { gdal_sys::GDALSetMetadata(ds.c_dataset(), list.as_ptr(), c_domain.as_ptr()) };
    anyhow::ensure!(
        err == gdal_sys::CPLErr::CE_None,
        "cannot copy metadata domain {domain}"
    );
    Ok(())
}

/// GDAL's own check of one creation option against the driver's declared
/// list (`GDALValidateCreationOptions`): Err carries GDAL's message, e.g.
/// "'BOGUS' is an unexpected value for COMPRESS creation option of type
/// string-select." GDAL only warns and carries on when creating, so this is
/// what turns a misspelt option into an error.
pub fn validate_creation_option(driver: &Driver, key: &str, value: &str) -> Result<(), String> {
    let mut list = CslStringList::new();
    list.set_name_value(key, value).map_err(|e| e.to_string())?;
    // SAFETY: a valid driver and a NULL-terminated list that outlives the
    // call. The quiet handler is pushed and popped on this thread only, so
    // the warning reaches neither the log nor the job's messages; GDAL
    // still records it as the thread's last error, read before the pop.
    unsafe {
        gdal_sys::CPLPushErrorHandler(Some(gdal_sys::CPLQuietErrorHandler));
        gdal_sys::CPLErrorReset();
        let ok = gdal_sys::GDALValidateCreationOptions(driver.c_driver(), list.as_ptr());
        let msg = CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg())
            .to_string_lossy()
            .trim()
            .trim_end_matches('.')
            .to_string();
        gdal_sys::CPLErrorReset();
        gdal_sys::CPLPopErrorHandler();
        if ok != 0 {
            Ok(())
        } else if msg.is_empty() {
            Err(format!(
                "not accepted by the {} driver",
                driver.short_name()
            ))
        } else {
            Err(msg)
        }
    }
}

/// One creation option a driver declares (`DMD_CREATIONOPTIONLIST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionDecl {
    pub name: String,
    /// The values a `string-select` option takes (empty for other types).
    pub values: Vec<String>,
}

/// The creation options `driver` declares, parsed by GDAL's own XML parser.
pub fn creation_option_list(driver: &Driver) -> Vec<OptionDecl> {
    use gdal::Metadata;
    let Some(xml) = driver.metadata_item("DMD_CREATIONOPTIONLIST", "") else {
        return Vec::new();
    };
    let Ok(c) = CString::new(xml) else {
        return Vec::new();
    };
    // SAFETY: a NUL-terminated string; the tree is ours until destroyed, and
    // is only read in between.
    unsafe {
        let root = gdal_sys::CPLParseXMLString(c.as_ptr());
        let mut out = Vec::new();
        let mut node = root;
        while !node.is_null() {
            if xml_name(node) == "CreationOptionList" {
                for opt in xml_children(node).filter(|n| xml_name(*n) == "Option") {
                    let mut decl = OptionDecl {
                        name: String::new(),
                        values: Vec::new(),
                    };
                    for child in xml_children(opt) {
                        match ((*child).eType, xml_name(child).as_str()) {
                            (gdal_sys::CPLXMLNodeType::CXT_Attribute, "name") => {
                                decl.name = xml_text(child)
                            }
                            (gdal_sys::CPLXMLNodeType::CXT_Element, "Value") => {
                                decl.values.push(xml_text(child))
                            }
                            _ => {}
                        }
                    }
                    out.push(decl);
                }
            }
            node = (*node).psNext;
        }
        gdal_sys::CPLDestroyXMLNode(root);
        out
    }
}

/// SAFETY (the three helpers below): `node` is a live node of a tree from
/// `CPLParseXMLString`.
unsafe fn xml_name(node: *const gdal_sys::CPLXMLNode) -> String {
    let v = (*node).pszValue;
    if v.is_null() {
        String::new()
    } else {
        CStr::from_ptr(v).to_string_lossy().into_owned()
    }
}

unsafe fn xml_children(
    node: *const gdal_sys::CPLXMLNode,
) -> impl Iterator<Item = *const gdal_sys::CPLXMLNode> {
    let mut next = (*node).psChild as *const gdal_sys::CPLXMLNode;
    std::iter::from_fn(move || {
        if next.is_null() {
            return None;
        }
        let cur = next;
        // SAFETY: as for the caller; siblings live as long as the tree.
        next = unsafe { (*cur).psNext };
        Some(cur)
    })
}

/// The text inside an element or attribute (its first text child).
unsafe fn xml_text(node: *const gdal_sys::CPLXMLNode) -> String {
    xml_children(node)
        .find(|c| unsafe { (**c).eType } == gdal_sys::CPLXMLNodeType::CXT_Text)
        .map(|c| unsafe { xml_name(c) })
        .unwrap_or_default()
}

/// The band's type code, including those the crate's enum lacks.
pub fn band_type(band: &gdal::raster::RasterBand) -> GDALDataType::Type {
    // SAFETY: a valid band handle.
    unsafe { gdal_sys::GDALGetRasterDataType(band.c_rasterband()) }
}

/// Bytes per sample of a type code (0 for an unknown code).
pub fn type_size(t: GDALDataType::Type) -> usize {
    // SAFETY: a pure lookup on the type code.
    unsafe { gdal_sys::GDALGetDataTypeSizeBytes(t) }.max(0) as usize
}

/// GDAL's name for a type code, and whether it is complex.
pub fn type_info(t: GDALDataType::Type) -> (String, bool) {
    // SAFETY: pure queries on a type code; the name is a static string.
    unsafe {
        let n = gdal_sys::GDALGetDataTypeName(t);
        let name = if n.is_null() {
            "unknown".into()
        } else {
            CStr::from_ptr(n).to_string_lossy().into_owned()
        };
        (name, gdal_sys::GDALDataTypeIsComplex(t) != 0)
    }
}

/// A unique in-memory file name, removed when dropped.
pub struct VsiMem(String);

impl VsiMem {
    pub fn new(tag: &str) -> VsiMem {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        VsiMem(format!(
            "/vsimem/tilerun-{tag}-{}-{}.tif",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ))
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    /// Run `f` on the file's bytes, borrowed in place (no copy).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> anyhow::Result<R> {
        let c = CString::new(self.0.as_str())?;
        let mut len: gdal_sys::vsi_l_offset = 0;
        // SAFETY: borrows the in-memory file's buffer; `self` owns the file
        // and nothing else writes or removes it while `f` runs.
        let base = unsafe { gdal_sys::VSIGetMemFileBuffer(c.as_ptr(), &mut len, 0) };
        anyhow::ensure!(!base.is_null(), "{} vanished", self.0);
        // SAFETY: `len` bytes at `base` belong to the in-memory file.
        Ok(f(unsafe { std::slice::from_raw_parts(base, len as usize) }))
    }

    /// A copy of the file's contents.
    pub fn bytes(&self) -> anyhow::Result<Vec<u8>> {
        self.with_bytes(<[u8]>::to_vec)
    }
}

impl Drop for VsiMem {
    fn drop(&mut self) {
        if let Ok(c) = CString::new(self.0.as_str()) {
            // SAFETY: valid name; unlinking a missing file is harmless.
            unsafe { gdal_sys::VSIUnlink(c.as_ptr()) };
        }
    }
}

/// Every path under a GDAL virtual folder (`/vsizip/ARCHIVE`), folders
/// included (with a trailing `/`); `None` when GDAL cannot list it (not an
/// archive, or damaged).
pub fn read_dir_recursive(path: &Path) -> Option<Vec<String>> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: NUL-terminated path; the returned list is ours to free.
    let list = unsafe { gdal_sys::VSIReadDirRecursive(c.as_ptr()) };
    if list.is_null() {
        return None;
    }
    let mut out = Vec::new();
    // SAFETY: a NULL-terminated array of NUL-terminated strings.
    unsafe {
        let mut p = list;
        while !(*p).is_null() {
            out.push(CStr::from_ptr(*p).to_string_lossy().into_owned());
            p = p.add(1);
        }
        gdal_sys::CSLDestroy(list);
    }
    Some(out)
}

/// Size and "is a folder" of a (virtual) path, as GDAL sees it.
pub fn stat(path: &Path) -> Option<(u64, bool)> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // VSIStatBufL is the C library's `struct stat64`, opaque in the
    // bindings: use libc's definition of it.
    // SAFETY: zeroed plain-data stat buffer, filled by GDAL.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    // SAFETY: NUL-terminated path and a buffer of the type GDAL expects.
    let rc = unsafe { gdal_sys::VSIStatL(c.as_ptr(), (&mut st as *mut libc::stat64).cast()) };
    (rc == 0).then_some((
        st.st_size as u64,
        (st.st_mode & libc::S_IFMT) == libc::S_IFDIR,
    ))
}
