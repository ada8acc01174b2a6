//! `s3://bucket/key`: parsing, the mapping to GDAL's `/vsis3/bucket/key`,
//! and the calls the queue makes (bucket check, fingerprint, listing,
//! download, upload), each failing with the kind that decides what
//! happens next: a malformed URI or a bucket that cannot be reached at
//! start-up is a usage error (exit 2); a missing object is bad input; a
//! failed transfer is transient.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{job, transient, usage, Error, Kind};
use crate::gdal::vsi;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    pub bucket: String,
    pub key: String,
}

/// Anything that starts like an S3 URI (`s3:/b/k`, `S3://b/k` too): so a
/// mistyped URI reaches [`S3Uri::parse`] and its error, rather than being
/// taken for a local path that then "does not exist".
pub fn is_s3(s: &str) -> bool {
    s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("s3:"))
}

impl S3Uri {
    /// Parse `s3://bucket/key`; the key must name an object (no trailing /).
    pub fn parse(s: &str) -> Result<S3Uri, Error> {
        let bad = |why: &str| {
            usage(format!(
                "'{}': not an S3 object URI ({why})",
                crate::error::escape(s)
            ))
        };
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| bad("expected s3://bucket/key"))?;
        let (bucket, key) = rest
            .split_once('/')
            .ok_or_else(|| bad("no key after the bucket"))?;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(bad(
                "bucket names are 3-63 characters of a-z, 0-9, '-' and '.'",
            ));
        }
        // No empty segment either: `//k` would be another key to GDAL than
        // to an HTTP client resolving it as a URL path.
        if key.is_empty()
            || key
                .split('/')
                .any(|p| p.is_empty() || p == ".." || p == ".")
        {
            return Err(bad("the key must name an object"));
        }
        if key.bytes().any(|b| b.is_ascii_control()) {
            return Err(bad("control characters in the key"));
        }
        Ok(S3Uri {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// The GDAL path for this object.
    pub fn vsi(&self) -> String {
        format!("/vsis3/{}/{}", self.bucket, self.key)
    }

    /// The GDAL path for reading it once, start to end, in one GET
    /// (`/vsis3/` reads by ranges: 30× slower for a whole-file copy).
    pub fn vsi_streaming(&self) -> String {
        format!("/vsis3_streaming/{}/{}", self.bucket, self.key)
    }

    /// The object's name (after the last /).
    pub fn name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(&self.key)
    }

    /// `name` beside this object.
    pub fn sibling(&self, name: &str) -> S3Uri {
        let key = match self.key.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{name}"),
            None => name.to_string(),
        };
        S3Uri {
            bucket: self.bucket.clone(),
            key,
        }
    }

    /// `name` under the "folder" `dir` (`s3://bucket` or `s3://bucket/prefix`).
    pub fn in_dir(dir: &str, name: &str) -> Result<S3Uri, Error> {
        S3Uri::parse(&format!("{}/{name}", dir.trim_end_matches('/')))
    }
}

impl std::fmt::Display for S3Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Make GDAL's S3 requests fail when they connect or move no byte for
/// `secs` (libcurl's low-speed limit: under 1 byte/s for that long), so a
/// hung store fails a job as transient instead of holding it for ever. A
/// value set in the environment (`GDAL_HTTP_LOW_SPEED_TIME`, `…_LIMIT`,
/// `GDAL_HTTP_CONNECTTIMEOUT`) is the user's and wins, said in the log.
pub fn set_stall_limit(secs: f64) {
    let secs = (secs.ceil() as u64).max(1).to_string();
    // What the environment's value stands in for, for the warning.
    for (key, value, instead) in [
        (
            "GDAL_HTTP_LOW_SPEED_TIME",
            secs.as_str(),
            "store_stall_secs for transfers",
        ),
        (
            "GDAL_HTTP_LOW_SPEED_LIMIT",
            "1",
            "1 byte/s as the stall speed (0: no stall limit)",
        ),
        (
            "GDAL_HTTP_CONNECTTIMEOUT",
            secs.as_str(),
            "store_stall_secs for connecting",
        ),
    ] {
        match std::env::var(key) {
            Ok(own) => tracing::warn!(
                "{key}={own} from the environment is used in place of [queue] {instead}"
            ),
            Err(_) => gdal::config::set_config_option(key, value).unwrap_or(()),
        }
    }
}

/// Does the bucket answer (the endpoint is up and the bucket exists)?
/// Asks afresh, past GDAL's cache, and within 10 s: a store that hangs
/// does not answer (and a worker's pause must stay able to stop).
pub fn reachable(bucket: &str) -> bool {
    vsi::clear_cache();
    vsi::stat_within(&format!("/vsis3/{bucket}"), 10).is_some()
}

/// The bucket must be reachable: a start-up check (usage error).
pub fn check_bucket(bucket: &str) -> Result<(), Error> {
    if reachable(bucket) {
        return Ok(());
    }
    let endpoint = std::env::var("AWS_S3_ENDPOINT").unwrap_or_else(|_| "AWS".into());
    Err(usage(format!(
        "s3://{bucket}: bucket not found, or the S3 endpoint ({endpoint}) cannot be reached \
         with the AWS_* settings given"
    )))
}

/// Why `uri` could not be read: bad input if its bucket answers (the
/// object is missing), transient if not (the store may come back).
fn missing(uri: &S3Uri, detail: &str) -> Error {
    if reachable(&uri.bucket) {
        job(format!("{uri}: no such object in the bucket{detail}"))
    } else {
        transient(format!("{uri}: the bucket cannot be reached{detail}"))
    }
}

/// "size=N etag=…": what makes a resubmitted object the same job.
pub fn fingerprint(uri: &S3Uri) -> Result<String, Error> {
    vsi::clear_cache();
    let Some(size) = vsi::stat(&uri.vsi()) else {
        return Err(missing(uri, ""));
    };
    let etag = vsi::headers(&uri.vsi())
        .into_iter()
        .find_map(|h| {
            let (k, v) = h.split_once('=')?;
            k.eq_ignore_ascii_case("etag")
                .then(|| v.trim_matches('"').to_string())
        })
        .unwrap_or_default();
    Ok(format!("size={size} etag={etag}"))
}

/// An `s3://…/` input: a folder delivery (a `.SAFE` uploaded file by file).
pub fn is_folder(input: &str) -> bool {
    is_s3(input) && input.ends_with('/')
}

/// What an S3 input is, as the queue stores it: an object (`s3://b/k`,
/// size and ETag) or, for a key prefix, which GDAL stats like a directory
/// and which has no ETag, a folder delivery (`s3://b/k/`, see [`tree`]).
pub fn identify(uri: &S3Uri) -> Result<(String, String), Error> {
    let fp = fingerprint(uri)?;
    if fp.ends_with(" etag=") && !tree(uri)?.is_empty() {
        return identify_folder(uri);
    }
    Ok((uri.to_string(), fp))
}

/// A folder delivery: `s3://b/k/`, and a digest of every object's name,
/// size and ETag, so any object added, removed or rewritten is new content.
pub fn identify_folder(dir: &S3Uri) -> Result<(String, String), Error> {
    let entries = tree(dir)?;
    if entries.is_empty() {
        return Err(missing(dir, " (no object under this prefix)"));
    }
    let list: String = entries
        .iter()
        .map(|e| format!("{}\t{}\t{}\n", e.name, e.size, e.etag))
        .collect();
    let bytes: u64 = entries.iter().map(|e| e.size).sum();
    let digest: String = openssl::sha::sha256(list.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let fp = format!(
        "tree objects={} bytes={bytes} sha256={digest}",
        entries.len()
    );
    Ok((format!("{dir}/"), fp))
}

/// The objects under the folder `dir`, sorted. A name that would not stay
/// inside the folder once downloaded (`..`, empty parts) is bad input.
pub fn tree(dir: &S3Uri) -> Result<Vec<vsi::Entry>, Error> {
    vsi::clear_cache();
    let mut entries = vsi::walk(&dir.vsi());
    if let Some(bad) = entries.iter().find(|e| {
        e.name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    }) {
        return Err(job(format!(
            "{dir}/: the object '{}' has no safe local name",
            crate::error::escape(&bad.name)
        )));
    }
    entries.sort();
    Ok(entries)
}

/// Download every object of the folder `dir` under the local folder `to`.
pub fn download_tree(dir: &S3Uri, to: &Path) -> Result<u64, Error> {
    let entries = tree(dir)?;
    if entries.is_empty() {
        return Err(missing(dir, " (no object under this prefix)"));
    }
    let mut total = 0;
    for e in entries {
        let local = to.join(&e.name);
        if let Some(parent) = local.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| crate::error::io("creating", parent, err))?;
        }
        let uri = S3Uri {
            bucket: dir.bucket.clone(),
            key: format!("{}/{}", dir.key, e.name),
        };
        total += download(&uri, &local)?;
    }
    Ok(total)
}

/// Expand a `*`/`?`/`[…]` pattern in the last part of the key by listing
/// its folder; a URI without one is returned as is.
pub fn expand(pattern: &str) -> Result<Vec<S3Uri>, Error> {
    let uri = S3Uri::parse(pattern)?;
    let name = uri.name();
    if !name.contains(['*', '?', '[']) {
        return Ok(vec![uri]);
    }
    let glob = globset::Glob::new(name)
        .map_err(|e| usage(format!("{pattern}: {e}")))?
        .compile_matcher();
    let dir = uri.vsi();
    let dir = &dir[..dir.len() - name.len()];
    vsi::clear_cache();
    let mut out: Vec<S3Uri> = vsi::read_dir(dir)
        .into_iter()
        .filter(|n| glob.is_match(n))
        .map(|n| uri.sibling(&n))
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    if out.is_empty() {
        return Err(job(format!("{pattern}: matches no object")));
    }
    Ok(out)
}

pub fn download(uri: &S3Uri, to: &Path) -> Result<u64, Error> {
    vsi::clear_cache();
    if vsi::stat(&uri.vsi()).is_none() {
        return Err(missing(uri, ""));
    }
    let src = match uri.vsi_streaming() {
        s if vsi::streamable(&s) => s,
        _ => uri.vsi(),
    };
    vsi::download(&src, to).map_err(|e| transient(format!("{uri}: {e}")))
}

/// Upload the local file `from` as `uri`; the key appears only when the
/// whole file is there. A raised `stop` (SIGTERM) between chunks aborts
/// the upload (Interrupted), so a stopping worker leaves no orphan parts.
pub fn upload(from: &Path, uri: &S3Uri, stop: &AtomicBool) -> Result<u64, Error> {
    let delay = test_chunk_delay();
    let mut go_on = || {
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        !stop.load(Ordering::SeqCst)
    };
    vsi::upload(from, &uri.vsi(), &mut go_on).map_err(|e| {
        let kind = if stop.load(Ordering::SeqCst) {
            Kind::Interrupted
        } else {
            Kind::Transient
        };
        Error::new(kind, format!("{uri}: {e}"))
    })
}

/// Test hook: `TILERUN_TEST_UPLOAD_CHUNK_DELAY_MS` slows every chunk of an
/// upload, so a test can stop a worker while a multipart upload is open.
pub(crate) fn test_chunk_delay() -> Option<Duration> {
    std::env::var("TILERUN_TEST_UPLOAD_CHUNK_DELAY_MS")
        .ok()?
        .parse()
        .ok()
        .map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_parsed_strictly() {
        let u = S3Uri::parse("s3://my-bucket/landsat/a b.TIF").unwrap();
        assert_eq!(u.vsi(), "/vsis3/my-bucket/landsat/a b.TIF");
        assert_eq!(u.name(), "a b.TIF");
        assert_eq!(
            u.sibling("x.tif").to_string(),
            "s3://my-bucket/landsat/x.tif"
        );
        assert_eq!(
            S3Uri::in_dir("s3://b-1/out/", "x.tif").unwrap().key,
            "out/x.tif"
        );
        for bad in [
            "s3://",
            "s3://bucket",
            "s3://bucket/",
            "s3://Bucket/k",
            "s3://b/k",
            "s3://bkt/a/../k",
            "http://bkt/k",
            "s3:/bkt/k",
            "S3://bkt/k",
            "s3://bkt//k",
            "s3://bkt/a//k",
        ] {
            let e = S3Uri::parse(bad).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Usage, "{bad}");
        }
        // Typos are still taken for URIs, so they reach the error above.
        assert!(is_s3("s3:/bkt/k") && is_s3("S3://bkt/k") && !is_s3("s3.tif"));
    }
}
