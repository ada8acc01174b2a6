//! The S3 calls tilerun makes itself (for the uploads in `parts`): a
//! multipart upload's start, parts, completion and abort, signed by
//! rusty-s3 and sent by ureq, addressed and authenticated from the same
//! `AWS_*` settings GDAL's `/vsis3/` reads, and speaking TLS as GDAL does.
//! Signed URLs carry the access key id and signature, so none reaches an
//! error message or a log.

use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

/// How long a signed request stays valid: it is signed just before it is
/// sent, so this only needs to outlast one request.
const SIGNED_FOR: Duration = Duration::from_secs(900);

/// ureq logs every request's URL at debug and trace level, and a signed
/// URL carries the access key id, session token and signature: keep its
/// logs at info whatever `-v` or `RUST_LOG` asks for.
pub fn quiet_http(f: tracing_subscriber::EnvFilter) -> tracing_subscriber::EnvFilter {
    ["ureq=info", "ureq_proto=info"]
        .iter()
        .filter_map(|d| d.parse().ok())
        .fold(f, |f, d| f.add_directive(d))
}

/// One multipart upload: where, as whom, and a connection pool.
pub(super) struct Store {
    bucket: Bucket,
    creds: Credentials,
    agent: ureq::Agent,
    pub key: String,
    pub upload_id: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn false_like(v: &str) -> bool {
    matches!(
        v.to_ascii_uppercase().as_str(),
        "NO" | "FALSE" | "OFF" | "0"
    )
}

/// The bucket as GDAL's `/vsis3/` would address it, from the same
/// `AWS_*` settings; None when the credentials are not in the environment.
fn bucket(name: &str) -> Result<Option<(Bucket, Credentials)>, String> {
    if env("AWS_NO_SIGN_REQUEST").is_some_and(|v| !false_like(&v)) {
        return Ok(None);
    }
    // Empty counts as unset, as in GDAL.
    let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) else {
        return Ok(None);
    };
    let creds = match env("AWS_SESSION_TOKEN") {
        Some(token) => Credentials::new_with_token(key, secret, token),
        None => Credentials::new(key, secret),
    };
    // GDAL's order: AWS_DEFAULT_REGION, then AWS_REGION.
    let region = env("AWS_DEFAULT_REGION")
        .or_else(|| env("AWS_REGION"))
        .unwrap_or_else(|| "us-east-1".into());
    let https = !env("AWS_HTTPS").is_some_and(|v| false_like(&v));
    let host = env("AWS_S3_ENDPOINT").unwrap_or_else(|| format!("s3.{region}.amazonaws.com"));
    let url = match host.contains("://") {
        true => host,
        false => format!("{}://{host}", if https { "https" } else { "http" }),
    };
    let virtual_host = !env("AWS_VIRTUAL_HOSTING").is_some_and(|v| false_like(&v));
    let style = match virtual_host && !name.contains('.') {
        true => UrlStyle::VirtualHost,
        false => UrlStyle::Path,
    };
    let url = url.parse().map_err(|e| format!("AWS_S3_ENDPOINT: {e}"))?;
    let b = Bucket::new(url, style, name.to_string(), region).map_err(|e| e.to_string())?;
    Ok(Some((b, creds)))
}

/// TLS as GDAL (through curl) does it: `GDAL_HTTP_UNSAFESSL` turns
/// checking off; the CA bundle is `CURL_CA_BUNDLE` or `SSL_CERT_FILE`,
/// else the system's store (OpenSSL's, as native-tls uses it).
fn tls() -> Result<ureq::tls::TlsConfig, String> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig, TlsProvider};
    let b = TlsConfig::builder().provider(TlsProvider::NativeTls);
    if env("GDAL_HTTP_UNSAFESSL").is_some_and(|v| !false_like(&v)) {
        return Ok(b.disable_verification(true).build());
    }
    let Some(path) = env("CURL_CA_BUNDLE").or_else(|| env("SSL_CERT_FILE")) else {
        return Ok(b.root_certs(RootCerts::PlatformVerifier).build());
    };
    let pem = std::fs::read(&path).map_err(|e| format!("CA bundle {path}: {e}"))?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!("CA bundle {path}: no certificate in it"));
    }
    Ok(b.root_certs(RootCerts::new_with_certs(&certs)).build())
}

fn agent() -> Result<ureq::Agent, String> {
    Ok(ureq::Agent::config_builder()
        .tls_config(tls()?)
        .http_status_as_error(false)
        // A dead endpoint fails fast; a part (16 MiB) gets two minutes.
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into())
}

/// A transport error without the signed URL (which names the access key).
fn said(e: ureq::Error) -> String {
    let s = e.to_string();
    match s.find("http") {
        Some(i) => s[..i].trim_end().to_string(),
        None => s,
    }
}

/// Fail unless `r` is a 2xx; S3's own message (its `<Message>`) if any.
fn check(what: &str, mut r: ureq::http::Response<ureq::Body>) -> Result<String, String> {
    let status = r.status();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    // CompleteMultipartUpload can fail with 200 and an <Error> body.
    if status.is_success() && !body.contains("<Error>") {
        return Ok(body);
    }
    let msg = body
        .split_once("<Message>")
        .and_then(|(_, m)| m.split_once("</Message>"))
        .map_or("", |(m, _)| m);
    Err(format!("{what}: HTTP {} {msg}", status.as_u16()))
}

impl Store {
    /// Open a new multipart upload of `key`; None when the credentials are
    /// not in the environment.
    pub fn create(bucket_name: &str, key: &str) -> Result<Option<Store>, String> {
        let Some(mut s) = Store::existing(bucket_name, key, "")? else {
            return Ok(None);
        };
        let a = s.bucket.create_multipart_upload(Some(&s.creds), key);
        let r = s.agent.post(a.sign(SIGNED_FOR).as_str()).send_empty();
        let body = check("starting", r.map_err(said)?)?;
        let created = rusty_s3::actions::CreateMultipartUpload::parse_response(&body)
            .map_err(|e| format!("unreadable reply: {e}"))?;
        s.upload_id = created.upload_id().to_string();
        Ok(Some(s))
    }

    /// An upload opened before (by a run that was killed).
    pub fn existing(
        bucket_name: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Store>, String> {
        let Some((bucket, creds)) = bucket(bucket_name)? else {
            return Ok(None);
        };
        let (key, upload_id) = (key.to_string(), upload_id.to_string());
        Ok(Some(Store {
            bucket,
            creds,
            agent: agent()?,
            key,
            upload_id,
        }))
    }

    pub fn bucket_name(&self) -> &str {
        self.bucket.name()
    }

    pub fn put_part(&self, number: u16, bytes: &[u8]) -> Result<String, String> {
        let a = self
            .bucket
            .upload_part(Some(&self.creds), &self.key, number, &self.upload_id);
        let what = format!("part {number}");
        let r = self
            .agent
            .put(a.sign(SIGNED_FOR).as_str())
            .send(bytes)
            .map_err(|e| format!("{what}: {}", said(e)))?;
        let etag = r.headers().get("etag").and_then(|v| v.to_str().ok());
        let etag = etag.map(str::to_string);
        check(&what, r)?;
        etag.ok_or_else(|| format!("{what}: no ETag in the reply"))
    }

    pub fn complete(&self, etags: &[String]) -> Result<(), String> {
        let a = self.bucket.complete_multipart_upload(
            Some(&self.creds),
            &self.key,
            &self.upload_id,
            etags.iter().map(String::as_str),
        );
        let url = a.sign(SIGNED_FOR);
        // AWS may take minutes to assemble a large object (it keeps the
        // connection alive meanwhile): a client that gave up on a
        // completion the store then finished would leave the key in place
        // outside the commit's fence. So not the parts' two minutes, but
        // as long as the signature lasts.
        let r = self
            .agent
            .post(url.as_str())
            .config()
            .timeout_global(Some(SIGNED_FOR))
            .build()
            .send(a.body());
        check(
            "completing",
            r.map_err(|e| format!("completing: {}", said(e)))?,
        )
        .map(|_| ())
    }

    pub fn abort(&self) -> Result<(), String> {
        let a = self
            .bucket
            .abort_multipart_upload(Some(&self.creds), &self.key, &self.upload_id);
        let r = self.agent.delete(a.sign(SIGNED_FOR).as_str()).call();
        check("aborting", r.map_err(|e| format!("aborting: {}", said(e)))?).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_lose_the_signed_url() {
        let url = "http://127.0.0.1:9/b/k?X-Amz-Credential=AKIA&X-Amz-Signature=00";
        let s = said(ureq::Error::BadUri(url.into()));
        assert!(!s.contains("X-Amz") && !s.contains("AKIA"), "{s}");
        assert_eq!(s, "bad uri:");
    }
}
