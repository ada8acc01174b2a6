//! S3 over HTTPS: moto serving a certificate the test made (its own CA,
//! the name `localhost`), and the worker given that CA the way GDAL takes
//! one (`CURL_CA_BUNDLE`). Both upload paths must verify the store with
//! it: GDAL's (the start-up bucket check, the download) and tilerun's own
//! (the parts sent while the output is written).

use std::process::Command;

use super::harness::Site;
use super::s3::{site_with, Moto};
use super::tls::make_certs;
use crate::util::*;
use crate::watch::harness::{assert_same_raster, wait_until};

/// One HTTPS request from Python, trusting `ca`; returns the body.
fn https(ca: &str, method: &str, url: &str, body: Option<&std::path::Path>) -> Vec<u8> {
    let code = "import ssl, sys, urllib.request\n\
        ca, method, url = sys.argv[1:4]\n\
        data = open(sys.argv[4], 'rb').read() if len(sys.argv) > 4 else None\n\
        ctx = ssl.create_default_context(cafile=ca)\n\
        r = urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), context=ctx)\n\
        sys.stdout.buffer.write(r.read())";
    let mut c = Command::new("/usr/bin/python3");
    c.args(["-c", code, ca, method, url]);
    if let Some(b) = body {
        c.arg(b);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{method} {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn worker_env(moto: &Moto, ca: &str) -> Vec<(String, String)> {
    moto.env()
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_S3_ENDPOINT" => (k, format!("localhost:{}", moto.port)),
            "AWS_HTTPS" => (k, "YES".into()),
            _ => (k, v),
        })
        .chain([("CURL_CA_BUNDLE".to_string(), ca.to_string())])
        .collect()
}

#[test]
fn an_https_store_is_verified_with_the_ca_bundle_gdal_is_given() {
    let certs_dir = tempfile::tempdir().unwrap();
    let certs = make_certs(certs_dir.path());
    let moto = Moto::start_tls(&certs.crt, &certs.key);
    let base = format!("https://localhost:{}", moto.port);
    let ca = certs.ca.to_str().unwrap().to_string();
    https(&ca, "PUT", &format!("{base}/tiles"), None);
    let site: Site = site_with("s3://tiles/out", "");
    let input = site.inputs(1).remove(0);
    site.submit(std::slice::from_ref(&input)).ok();
    let env = worker_env(&moto, &ca);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut w = site.worker(&env);
    wait_until(60, "the job done", || site.pg.count("done") == 1);
    w.stop();
    // tilerun's own upload ran, over TLS, verified against the test's CA.
    assert!(w.text().contains("while writing"), "{}", w.text());
    let got = site.env.path("got.tif");
    std::fs::write(
        &got,
        https(&ca, "GET", &format!("{base}/tiles/out/s00_ndvi.tif"), None),
    )
    .unwrap();
    assert_same_raster(&got, &site.reference(&input));

    // A CA that did not sign the store's certificate: the worker refuses
    // the store at start-up (GDAL's check), exit 2, naming the bucket.
    let other = certs.other_ca.to_str().unwrap().to_string();
    let env = worker_env(&moto, &other);
    let mut c = site.cmd(&["worker"]);
    for (k, v) in &env {
        c.env(k, v);
    }
    let r = Run(c.output().unwrap());
    assert_eq!(r.code(), 2, "{}", r.stderr());
    assert!(r.stderr().contains("s3://tiles"), "{}", r.stderr());
}
