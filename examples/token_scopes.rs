//! Measures whether one token for many repositories (several `scope` parameters in one
//! token request) pays against our token server and distribution's registry:
//! `cargo run --release --example token_scopes -- [REPOSITORIES]`.

// The registry, seeding, token and proxy code is the test suite's own.

use pin_test_support::{push, registry, token};

use std::time::Instant;

use push::ImageKind;
use registry::Registry;
use token::{SERVICE, TokenOptions};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("a number"))
        .unwrap_or(200);
    let registry = Registry::start_with_token_auth(TokenOptions::default());
    for i in 0..n {
        registry.push_image(&format!("library/img{i}"), "1.0", ImageKind::Oci);
    }
    let realm = registry.token_server().unwrap().realm();
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let token_of = |body: String| -> String {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["token"].as_str().unwrap().to_string()
    };
    // One token per repository.
    let started = Instant::now();
    let mut single = Vec::new();
    for i in 0..n {
        let url = format!("{realm}?service={SERVICE}&scope=repository:library/img{i}:pull");
        let mut r = agent.get(&url).call().unwrap();
        single.push(token_of(r.body_mut().read_to_string().unwrap()));
    }
    let single_time = started.elapsed();
    // One token for all.
    let scopes: String = (0..n)
        .map(|i| format!("&scope=repository:library/img{i}:pull"))
        .collect();
    let url = format!("{realm}?service={SERVICE}{scopes}");
    let started = Instant::now();
    let mut r = agent.get(&url).call().unwrap();
    let status = r.status().as_u16();
    let all = token_of(r.body_mut().read_to_string().unwrap());
    let many_time = started.elapsed();
    let mut accepted = 0;
    for i in 0..n {
        let head = agent
            .head(format!(
                "{}/v2/library/img{i}/manifests/1.0",
                registry.url()
            ))
            .header("Accept", push::OCI_MANIFEST)
            .header("Authorization", format!("Bearer {all}"))
            .call()
            .unwrap();
        if head.status().as_u16() == 200 {
            accepted += 1;
        }
    }
    println!("repositories: {n}");
    println!(
        "one token each: {n} requests, {:.1} ms in all, token {} bytes",
        single_time.as_secs_f64() * 1000.0,
        single[0].len()
    );
    println!(
        "one token for all: HTTP {status}, request URL {} bytes, {:.1} ms, token {} bytes, accepted by the registry for {accepted}/{n} repositories",
        url.len(),
        many_time.as_secs_f64() * 1000.0,
        all.len()
    );
}
