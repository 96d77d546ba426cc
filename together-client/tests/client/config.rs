//! Building a client: a typed error (never a panic) for a missing key or a bad URL, plain
//! `http://` only to loopback, and the key never shown by `Debug`, `Display` or `tracing`.

use crate::kit::client::{Captured, KEY, builder, error_body, on_chat};
use retry_core::Classify;
use together_client::{ChatRequest, Error, Together, TogetherBuilder};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn build(url: &str) -> Result<Together, Error> {
    Together::builder().api_key(KEY).base_url(url).build()
}

#[test]
fn missing_or_unusable_key_is_a_config_error() {
    for builder in [
        Together::builder(),
        Together::builder().api_key(""),
        Together::builder().api_key("   "),
    ] {
        let error = builder.build().unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{error:?}");
        assert!(error.to_string().contains("TOGETHER_API_KEY"), "{error}");
        assert!(!error.is_retryable());
    }
    let error = Together::builder().api_key("bad\nkey").build().unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(!error.to_string().contains("bad\nkey"));
}

#[test]
fn plain_http_only_to_loopback() {
    for ok in [
        "https://api.together.ai/v1",
        "https://example.com",
        "http://127.0.0.1:8080/v1",
        "http://127.9.9.9/v1",
        "http://[::1]:3000/v1",
        "http://localhost:1234/v1",
        "http://LOCALHOST/v1",
    ] {
        assert!(build(ok).is_ok(), "{ok} should be accepted");
    }
    for refused in [
        "http://api.together.ai/v1",
        "http://10.0.0.1/v1",
        "http://192.168.1.2:8080/v1",
        "http://[::2]/v1",
        "http://localhost.evil.com/v1",
        "http://127.0.0.1.nip.io/v1",
    ] {
        let error = build(refused).unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{refused}: {error:?}");
        assert!(error.to_string().contains("https"), "{error}");
    }
    for bad in [
        "not a url",
        "ftp://127.0.0.1/v1",
        "",
        "https://user:pw@api.together.ai/v1",
    ] {
        assert!(matches!(build(bad), Err(Error::Config(_))), "{bad}");
    }
}

#[test]
fn base_url_gets_a_trailing_slash() {
    let client = build("https://api.together.ai/v1").unwrap();
    assert_eq!(client.base_url().as_str(), "https://api.together.ai/v1/");
    let client = build("https://api.together.ai/v1/?x=1#f").unwrap();
    assert_eq!(client.base_url().as_str(), "https://api.together.ai/v1/");
    let default = Together::builder().api_key(KEY).build().unwrap();
    assert_eq!(default.base_url().as_str(), "https://api.together.ai/v1/");
}

#[test]
fn debug_never_shows_the_key() {
    let builder = Together::builder().api_key(KEY);
    assert!(!format!("{builder:?}").contains(KEY));
    assert!(format!("{builder:?}").contains("redacted"));
    let client = builder.build().unwrap();
    let debug = format!("{client:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
    assert!(!format!("{:#?}", client.chat()).contains(KEY));
}

#[test]
fn from_env_reads_key_and_base_url() {
    // The only test of the `client` binary that touches the environment, and the only one
    // that reads these variables (`from_env`).
    // SAFETY: no other thread of this test binary reads or writes these variables.
    unsafe {
        std::env::remove_var("TOGETHER_API_KEY");
        std::env::remove_var("TOGETHER_BASE_URL");
    }
    assert!(matches!(Together::from_env(), Err(Error::Config(_))));
    unsafe {
        std::env::set_var("TOGETHER_API_KEY", KEY);
    }
    let client = Together::from_env().unwrap();
    assert_eq!(client.base_url().as_str(), "https://api.together.ai/v1/");
    unsafe {
        std::env::set_var("TOGETHER_BASE_URL", "http://127.0.0.1:4000/v1");
    }
    let client = TogetherBuilder::from_env().build().unwrap();
    assert_eq!(client.base_url().as_str(), "http://127.0.0.1:4000/v1/");
    unsafe {
        std::env::set_var("TOGETHER_BASE_URL", "http://example.com/v1");
    }
    assert!(matches!(Together::from_env(), Err(Error::Config(_))));
    unsafe {
        std::env::remove_var("TOGETHER_API_KEY");
        std::env::remove_var("TOGETHER_BASE_URL");
    }
}

/// A server that echoes the key in its messages: neither the error's `Display` nor its
/// `Debug` nor anything `tracing` writes (retry events, the alert, debug logs) shows it.
#[tokio::test]
async fn errors_and_tracing_never_show_the_key() {
    let server = MockServer::start().await;
    on_chat()
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after-ms", "1")
                .set_body_json(error_body(
                    &format!("slow down, {KEY}"),
                    "dynamic_request_limited",
                    None,
                )),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(401).set_body_json(error_body(
            &format!("Invalid API key provided: {KEY}"),
            "invalid_request_error",
            Some("invalid_api_key"),
        )))
        .mount(&server)
        .await;

    let (captured, _guard) = Captured::new();
    let client = builder(&server).alert_after(2).build().unwrap();
    let limited = client
        .chat()
        .create(ChatRequest::new("m").user("hi"))
        .await
        .unwrap_err();
    let auth = client.models().list().await.unwrap_err();
    for error in [&limited, &auth] {
        let (display, debug) = (error.to_string(), format!("{error:?}"));
        assert!(!display.contains(KEY), "{display}");
        assert!(!debug.contains(KEY), "{debug}");
        assert!(display.contains("[redacted]"), "{display}");
    }
    assert!(matches!(limited, Error::RateLimited(_)));
    assert!(matches!(auth, Error::Auth(_)));
    assert!(limited.is_retryable() && !auth.is_retryable());
    assert_eq!(auth.class(), retry_core::Class::Permanent);
    let logs = captured.text();
    assert!(
        logs.contains("rate-limited responses (429) in a row"),
        "{logs}"
    );
    assert!(!logs.contains(KEY), "{logs}");
}
