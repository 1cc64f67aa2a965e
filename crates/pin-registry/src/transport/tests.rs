//! Retries, dates and redirect rules, without a network.

use super::*;

#[test]
fn http_date_parses() {
    let when = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
    assert_eq!(
        when.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        784_111_777
    );
    assert!(parse_http_date("yesterday").is_none());
}

#[test]
fn retry_after_is_capped() {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "3600".parse().unwrap());
    assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
    headers.insert("retry-after", "2".parse().unwrap());
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
    headers.insert(
        "retry-after",
        "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
    );
    assert_eq!(retry_after(&headers), Some(Duration::ZERO));
}

fn hop(method: Method, from: &str, location: &str, hops: usize) -> Result<String, String> {
    let mut headers = HeaderMap::new();
    headers.insert(LOCATION, location.parse().unwrap());
    let from = Url::parse(from).unwrap();
    match next_hop(
        &method,
        &from,
        StatusCode::TEMPORARY_REDIRECT,
        &headers,
        hops,
    ) {
        Ok(url) => Ok(url.to_string()),
        Err(AttemptError::Redirect(why)) => Err(why),
        Err(_) => Err("not a redirect error".into()),
    }
}

#[test]
fn redirect_from_https_to_http_is_refused() {
    let refused = hop(
        Method::HEAD,
        "https://r.example/v2/",
        "http://r.example/x",
        0,
    );
    assert_eq!(
        refused,
        Err("https://r.example/v2/ redirects to plain HTTP (http://r.example/x); refused".into())
    );
    assert_eq!(
        hop(Method::GET, "https://r.example/v2/a", "/v2/b", 0),
        Ok("https://r.example/v2/b".into())
    );
    assert_eq!(
        hop(
            Method::GET,
            "http://r.example/v2/a",
            "https://cdn.example/b",
            0
        ),
        Ok("https://cdn.example/b".into())
    );
    assert!(hop(Method::GET, "https://r.example/", "file:///etc/passwd", 0).is_err());
}

#[test]
fn redirects_are_limited_and_a_post_is_never_redirected() {
    let limit = hop(Method::GET, "https://r.example/a", "/b", MAX_REDIRECTS);
    assert!(limit.unwrap_err().starts_with("more than 5 redirects"));
    let post = hop(Method::POST, "https://auth.example/token", "/t", 0);
    assert!(
        post.unwrap_err()
            .contains("answered a POST with a redirect")
    );
}

#[test]
fn origins_compare_scheme_host_and_port() {
    let url = |text: &str| Url::parse(text).unwrap();
    assert!(same_origin(
        &url("https://a.example/x"),
        &url("https://a.example:443/y")
    ));
    assert!(!same_origin(
        &url("https://a.example/x"),
        &url("http://a.example/x")
    ));
    assert!(!same_origin(
        &url("http://a.example:1/x"),
        &url("http://a.example:2/x")
    ));
    assert!(!same_origin(
        &url("https://a.example/x"),
        &url("https://b.a.example/x")
    ));
}

#[test]
fn backoff_stays_under_its_ceiling() {
    for attempt in 1..=4 {
        let ceiling = BASE_BACKOFF * 2u32.pow(attempt - 1);
        assert!(backoff(attempt) < ceiling);
    }
}
