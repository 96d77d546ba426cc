//! Error mapping and classification: every status Together answers with, each 429 type
//! (`credit_limit` included), hints, `x-should-retry`; then end to end: 401/402/403 not
//! retried, a 503 burst survived.

use std::time::Duration;

use crate::kit::client::{builder, chat_body, client, error_body, fast, on_chat};
use http::{HeaderMap, StatusCode};
use retry_core::{Class, Classify};
use together_client::{ApiError, ChatRequest, Error};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn map(status: u16, headers: &[(&str, &str)], body: &serde_json::Value) -> Error {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let status = StatusCode::from_u16(status).unwrap();
    Error::from_api(ApiError::from_response(
        status,
        &map,
        body.to_string().as_bytes(),
    ))
}

#[test]
fn every_status_maps_to_its_variant_and_class() {
    let ctx = "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8193. Given: 8000 `inputs` tokens and 1000 `max_new_tokens`";
    // (status, the body's message, type and code, the variant, its class)
    #[rustfmt::skip]
    let cases = [
        (400, "model not available", "invalid_request_error", Some("model_not_available"), "BadRequest", Class::Permanent),
        (400, "This model's maximum context length is 8192 tokens", "invalid_request_error", Some("context_length_exceeded"), "ContextTooLong", Class::Permanent),
        (401, "Invalid API key provided", "invalid_request_error", Some("invalid_api_key"), "Auth", Class::Permanent),
        (402, "Spending limit reached", "payment_required", None, "Payment", Class::Permanent),
        (403, ctx, "invalid_request_error", None, "ContextTooLong", Class::Permanent),
        (403, "Forbidden", "forbidden", None, "Auth", Class::Permanent),
        (404, "Unable to access model x", "invalid_request_error", Some("model_not_found"), "NotFound", Class::Permanent),
        (408, "Request timeout", "timeout", None, "Timeout", Class::Timeout),
        (409, "Conflict", "conflict", None, "BadRequest", Class::Permanent),
        (422, "Unprocessable", "invalid_request_error", None, "BadRequest", Class::Permanent),
        (429, "You have exceeded the rate limit", "dynamic_request_limited", None, "RateLimited", Class::RateLimited),
        (429, "You have exceeded the token rate limit", "dynamic_token_limited", None, "RateLimited", Class::RateLimited),
        (429, "rate limit exceeded", "rate_limit_exceeded", Some("rate_limit_exceeded"), "RateLimited", Class::RateLimited),
        (429, "You have reached your credit limit", "credit_limit", None, "Payment", Class::Permanent),
        (429, "Credit limit exceeded, please add credits", "invalid_request_error", None, "Payment", Class::Permanent),
        (500, "Internal server error", "server_error", None, "Server", Class::ServerError),
        (502, "Bad gateway", "server_error", None, "Server", Class::ServerError),
        (503, "The server is overloaded or not ready yet.", "server_error", None, "Overloaded", Class::Overloaded),
        (504, "Gateway timeout", "timeout", None, "Timeout", Class::Timeout),
        (524, "A timeout occurred", "timeout", None, "Timeout", Class::Timeout),
        (529, "Overloaded", "overloaded", None, "Overloaded", Class::Overloaded),
    ];
    for (status, message, kind, code, variant, class) in cases {
        let body = error_body(message, kind, code);
        let error = map(status, &[], &body);
        let debug = format!("{error:?}");
        assert!(debug.starts_with(variant), "{status} {body}: {debug}");
        assert_eq!(error.class(), class, "{status} {body}");
        assert_eq!(error.status(), Some(StatusCode::from_u16(status).unwrap()));
        let api = error.api().unwrap();
        assert_eq!(api.message, body["error"]["message"].as_str().unwrap());
        assert_eq!(api.kind.as_deref(), body["error"]["type"].as_str());
        assert_eq!(api.code.as_deref(), body["error"]["code"].as_str());
        assert_eq!(api.request_id.as_deref(), Some("err-req-1"));
        assert!(error.to_string().contains(&api.message), "{error}");
    }
}

#[test]
fn hints_come_from_the_headers() {
    let limited = error_body("slow down", "dynamic_request_limited", None);
    let error = map(429, &[("x-ratelimit-reset", "0.075")], &limited);
    assert_eq!(error.retry_after(), Some(Duration::from_millis(75)));
    let error = map(
        429,
        &[("retry-after-ms", "250"), ("retry-after", "3")],
        &limited,
    );
    assert_eq!(error.retry_after(), Some(Duration::from_millis(250)));
    assert!(!error.api().unwrap().held_by_limiter);
    let error = map(429, &[], &limited);
    assert_eq!(error.retry_after(), None);

    let overloaded = error_body(
        "The server is overloaded or not ready yet.",
        "server_error",
        None,
    );
    let error = map(503, &[("retry-after", "2")], &overloaded);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
    // `x-ratelimit-reset` is about the rate-limit bucket, not about a 503.
    let error = map(503, &[("x-ratelimit-reset", "5")], &overloaded);
    assert_eq!(error.retry_after(), None);
    assert_eq!(
        error.rate_limits().unwrap().requests.reset,
        Some(Duration::from_secs(5))
    );
}

#[test]
fn x_should_retry_overrides_the_status() {
    let body = error_body("busy", "server_error", None);
    assert_eq!(
        map(503, &[("x-should-retry", "false")], &body).class(),
        Class::Permanent
    );
    assert_eq!(
        map(400, &[("x-should-retry", "true")], &body).class(),
        Class::ServerError
    );
    assert_eq!(
        map(429, &[("x-should-retry", "true")], &body).class(),
        Class::RateLimited
    );
}

#[test]
fn bodies_that_are_not_together_json() {
    let error = Error::from_api(ApiError::from_response(
        StatusCode::BAD_GATEWAY,
        &HeaderMap::new(),
        b"<html><body>502 Bad Gateway</body></html>",
    ));
    assert!(matches!(error, Error::Server(_)));
    assert!(error.to_string().contains("502 Bad Gateway"), "{error}");
    let empty = Error::from_api(ApiError::from_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &HeaderMap::new(),
        b"",
    ));
    assert_eq!(empty.api().unwrap().message, "Service Unavailable");
    let string = ApiError::from_body(br#"{"error": "plain message"}"#);
    assert_eq!(string.message, "plain message");
    let numeric = ApiError::from_body(br#"{"error": {"message": "m", "type": "t", "code": 429}}"#);
    assert_eq!(numeric.code.as_deref(), Some("429"));
    // Inside a stream (no status), a numeric code stands for the status, else the type.
    assert!(matches!(Error::from_api(numeric), Error::RateLimited(_)));
    let deadline = ApiError::from_body(
        br#"{"error": {"message": "context deadline exceeded", "type": "server_error"}}"#,
    );
    assert!(matches!(Error::from_api(deadline), Error::Server(_)));
    let window = ApiError::from_body(
        br#"{"error": {"message": "exceeds the context window", "type": "invalid_request_error"}}"#,
    );
    assert!(matches!(Error::from_api(window), Error::ContextTooLong(_)));
}

#[tokio::test(start_paused = true)]
async fn an_attempt_timeout_is_a_timeout() {
    let elapsed = tokio::time::timeout(Duration::from_millis(1), std::future::pending::<()>())
        .await
        .unwrap_err();
    let error = Error::from(elapsed);
    assert!(matches!(error, Error::Timeout(None)));
    assert_eq!(error.class(), Class::Timeout);
}

/// The error of a chat call to `server`, which must fail.
async fn failed_call(server: &MockServer) -> Error {
    client(server)
        .chat()
        .create(ChatRequest::new("m").user("u"))
        .await
        .unwrap_err()
}

async fn answering(status: u16, body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    on_chat()
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn auth_payment_and_context_errors_are_not_retried() {
    let cases = [
        (
            401,
            error_body(
                "Invalid API key provided",
                "invalid_request_error",
                Some("invalid_api_key"),
            ),
        ),
        (
            402,
            error_body("Spending limit reached", "payment_required", None),
        ),
        (
            403,
            error_body(
                "`inputs` tokens + `max_new_tokens` must be <= 4097",
                "invalid_request_error",
                None,
            ),
        ),
        (
            429,
            error_body("credit limit reached", "credit_limit", None),
        ),
        (
            404,
            error_body("model not found", "invalid_request_error", None),
        ),
    ];
    for (status, body) in cases {
        let server = answering(status, body).await;
        let error = failed_call(&server).await;
        assert!(!error.is_retryable(), "{status}: {error:?}");
        let requests = server.received_requests().await.unwrap().len();
        assert_eq!(requests, 1, "{status} was retried");
        if status == 401 {
            let message = error.to_string();
            assert!(
                message.starts_with("authentication failed: Invalid API key provided"),
                "{message}"
            );
            assert!(message.contains("TOGETHER_API_KEY"), "{message}");
        }
    }
}

#[tokio::test]
async fn a_burst_of_503s_is_survived() {
    let server = MockServer::start().await;
    on_chat()
        .respond_with(ResponseTemplate::new(503).set_body_json(error_body(
            "The server is overloaded or not ready yet.",
            "server_error",
            None,
        )))
        .up_to_n_times(4)
        .with_priority(1)
        .expect(4)
        .mount(&server)
        .await;
    on_chat()
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_body("made it")))
        .expect(1)
        .mount(&server)
        .await;
    let client = builder(&server).policy(fast(5)).build().unwrap();
    let response = client
        .chat()
        .create(ChatRequest::new("m").user("u"))
        .await
        .unwrap();
    assert_eq!(response.text(), "made it");
    assert_eq!(client.rate_limit_streak(), 0);
}

/// A 429 whose hint is past anyone's wait (a reset "in 16 days", in each way of saying it)
/// ends the call at once, one request, with the hint in the error; so does OpenAI's
/// `insufficient_quota`, as a payment error.
#[tokio::test(start_paused = true)]
async fn an_absurd_hint_or_a_spent_quota_ends_the_call_at_once() {
    let sixteen_days = Duration::from_secs(16 * 86_400);
    for (name, value) in [
        ("retry-after", "1382400"),
        ("retry-after-ms", "1382400000"),
        ("x-ratelimit-reset", "1382400"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header(name, value)
                    .set_body_json(error_body(
                        "Rate limit reached for requests per day",
                        "rate_limit_exceeded",
                        None,
                    )),
            )
            .mount(&server)
            .await;
        let started = tokio::time::Instant::now();
        let error = failed_call(&server).await;
        assert!(started.elapsed() < Duration::from_millis(10), "{name}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1, "{name}");
        assert_eq!(error.retry_after(), Some(sixteen_days), "{name}");
        assert!(
            error.to_string().contains("retry after 1382400s"),
            "{error}"
        );
    }
    let server = answering(
        429,
        error_body(
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            Some("insufficient_quota"),
        ),
    )
    .await;
    let error = failed_call(&server).await;
    assert!(matches!(error, Error::Payment(_)), "{error:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
