//! Every endpoint against wiremock with bodies shaped as Together's OpenAPI spec: what the
//! client sends, what it parses, unknown fields kept, rate limits read from the headers.

use std::time::Duration;

use crate::kit::client::{KEY, chat_body, client, on_chat};
use serde_json::json;
use together_client::{
    ChatRequest, ChatResponse, CompletionRequest, EmbeddingsRequest, FinishReason, Message,
    RerankRequest, ResponseFormat, Role, Tool,
};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn limits_headers(template: ResponseTemplate) -> ResponseTemplate {
    template
        .insert_header("x-ratelimit-limit", "60")
        .insert_header("x-ratelimit-remaining", "59")
        .insert_header("x-ratelimit-reset", "0.075")
        .insert_header("x-tokenlimit-limit", "180000")
        .insert_header("x-tokenlimit-remaining", "179000")
        .insert_header("x-ratelimit-limit-dynamic", "30")
        .insert_header("x-ratelimit-remaining-dynamic", "12")
        .insert_header("x-ratelimit-reset-dynamic", "1.5")
        .insert_header("x-tokenlimit-limit-dynamic", "90000")
        .insert_header("x-tokenlimit-remaining-dynamic", "80000")
        .insert_header("x-request-id", "req-abc")
}

#[tokio::test]
async fn chat_create_sends_the_request_and_parses_the_answer() {
    let server = MockServer::start().await;
    let request = ChatRequest::new("meta-llama/Llama-3.3-70B-Instruct-Turbo")
        .system("Be brief.")
        .user("What is 2+2?")
        .assistant("4.")
        .user("And 3+3?")
        .max_tokens(16)
        .temperature(0.5)
        .tool(Tool::function(
            "add",
            "Adds two numbers",
            json!({"type": "object", "properties": {"a": {"type": "number"}}}),
        ))
        .tool_choice("auto")
        .response_format(ResponseFormat::json_object())
        .extra("reasoning", json!({"enabled": false}));
    on_chat()
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "What is 2+2?"},
                {"role": "assistant", "content": "4."},
                {"role": "user", "content": "And 3+3?"}
            ],
            "max_tokens": 16,
            "temperature": 0.5,
            "tools": [{"type": "function", "function": {
                "name": "add", "description": "Adds two numbers",
                "parameters": {"type": "object", "properties": {"a": {"type": "number"}}}
            }}],
            "tool_choice": "auto",
            "response_format": {"type": "json_object"},
            "reasoning": {"enabled": false}
        })))
        .respond_with(limits_headers(ResponseTemplate::new(200)).set_body_json(chat_body("6.")))
        .expect(1)
        .mount(&server)
        .await;

    let response = client(&server).chat().create(request).await.unwrap();
    assert_eq!(response.text(), "6.");
    assert_eq!(response.id, "8c5c1a5c0f1f3e2a");
    assert_eq!(response.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(response.choices[0].message.role, Role::Assistant);
    assert_eq!(response.usage.as_ref().unwrap().total_tokens, 14);
    // Fields the type does not name are kept.
    assert_eq!(
        response.extra["warnings"][0]["message"],
        "a field from tomorrow"
    );
    assert_eq!(response.choices[0].extra["seed"], 42);

    let limits = response.rate_limits();
    assert_eq!(limits.requests.limit, Some(60));
    assert_eq!(limits.requests.remaining, Some(59));
    assert_eq!(limits.requests.reset, Some(Duration::from_millis(75)));
    assert_eq!(limits.tokens.limit, Some(180_000));
    assert_eq!(limits.tokens.remaining, Some(179_000));
    assert_eq!(limits.dynamic_requests.limit, Some(30));
    assert_eq!(limits.dynamic_requests.remaining, Some(12));
    assert_eq!(
        limits.dynamic_requests.reset,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(limits.dynamic_tokens.remaining, Some(80_000));
    assert_eq!(limits.request_id.as_deref(), Some("req-abc"));
    let effective = limits.effective();
    assert_eq!(effective.remaining, Some(12));
    assert_eq!(effective.reset, Some(Duration::from_millis(1500)));
    assert_eq!(effective.token_remaining, Some(80_000));
    assert!((limits.requests.used().unwrap() - 1.0 / 60.0).abs() < 1e-9);
}

#[tokio::test]
async fn tool_calls_and_empty_answers() {
    let server = MockServer::start().await;
    let body = json!({
        "id": "t", "object": "chat.completion", "created": 1, "model": "m", "prompt": [],
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                            "function": {"name": "add", "arguments": "{\"a\":1}"}}]
        }}]
    });
    on_chat()
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let response = client(&server)
        .chat()
        .create(ChatRequest::new("m").user("1+?"))
        .await
        .unwrap();
    assert_eq!(response.text(), "");
    assert_eq!(
        response.choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );
    let call = &response.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id.as_deref(), Some("call_1"));
    assert_eq!(call.function.name.as_deref(), Some("add"));
    assert_eq!(call.function.arguments, "{\"a\":1}");
    assert!(response.rate_limits().is_empty());

    let none: ChatResponse = serde_json::from_value(json!({"choices": []})).unwrap();
    assert_eq!(none.text(), "");
}

#[test]
fn chat_request_round_trips_through_serde() {
    // A batch file line's `body`, with fields this client does not know.
    let line = json!({
        "custom_id": "r1",
        "body": {
            "model": "m",
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
                ]},
                {"role": "tool", "content": "42", "tool_call_id": "c1"}
            ],
            "max_tokens": 8,
            "temperature": 0.0,
            "stop": ["\n"],
            "context_length_exceeded_behavior": "truncate",
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}, "strict": true}},
            "stream": false
        }
    });
    let request: ChatRequest = serde_json::from_value(line["body"].clone()).unwrap();
    assert_eq!(request.messages[1].text(), "what is this?");
    assert_eq!(request.messages[2].role, Role::Tool);
    assert_eq!(request.temperature, Some(0.0));
    assert_eq!(
        request.extra["context_length_exceeded_behavior"],
        "truncate"
    );
    assert_eq!(
        request
            .response_format
            .as_ref()
            .unwrap()
            .json_schema
            .as_ref()
            .unwrap()
            .strict,
        Some(true)
    );
    let back = serde_json::to_value(&request).unwrap();
    assert_eq!(back, line["body"]);
    let again: ChatRequest = serde_json::from_value(back).unwrap();
    assert_eq!(again, request);

    // The builder's own requests round-trip too; unknown roles survive.
    let built = ChatRequest::new("m")
        .message(Message::new(Role::Other("developer".into()), "d"))
        .user("u")
        .cache(true);
    let json = serde_json::to_value(&built).unwrap();
    assert_eq!(json["messages"][0]["role"], "developer");
    assert!(
        json.get("cache").is_none(),
        "the cache choice is never sent"
    );
    let back: ChatRequest = serde_json::from_value(json).unwrap();
    assert_eq!(back.messages, built.messages);
}

#[tokio::test]
async fn completions_embeddings_models_rerank() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .and(body_json(json!({"model": "mistralai/Mixtral-8x7B-v0.1", "prompt": "The capital of France is", "max_tokens": 4})))
        .respond_with(limits_headers(ResponseTemplate::new(200)).set_body_json(json!({
            "id": "cmpl-1", "object": "text.completion", "created": 1, "model": "mistralai/Mixtral-8x7B-v0.1",
            "prompt": [{"text": "The capital of France is", "logprobs": {"tokens": ["The"], "token_logprobs": [-0.1]}}],
            "choices": [{"text": " Paris", "seed": 7, "finish_reason": "length", "logprobs": null}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_json(
            json!({"model": "BAAI/bge-large-en-v1.5", "input": ["a", "b"]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "model": "BAAI/bge-large-en-v1.5",
            "data": [
                {"object": "embedding", "embedding": [0.25, -0.5], "index": 0},
                {"object": "embedding", "embedding": [1.0, 0.0], "index": 1}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(limits_headers(ResponseTemplate::new(200)).set_body_json(json!([
            {"id": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "object": "model", "created": 1692896905,
             "type": "chat", "display_name": "Llama 3.3 70B", "organization": "Meta", "license": "llama",
             "context_length": 131072, "pricing": {"hourly": 0, "input": 0.88, "output": 0.88, "base": 0, "finetune": 0},
             "config": {"chat_template": "..."}},
            {"id": "BAAI/bge-large-en-v1.5", "object": "model", "created": 1, "type": "embedding"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/rerank"))
        .and(body_json(json!({"model": "Salesforce/Llama-Rank-V1", "query": "q", "documents": ["llama", "panda"], "top_n": 1, "return_documents": true})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "rerank", "id": "9dfa", "model": "salesforce/turboranker",
            "results": [{"index": 0, "relevance_score": 0.3, "document": {"text": "llama"}}],
            "usage": {"prompt_tokens": 1837, "completion_tokens": 0, "total_tokens": 1837}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let client = client(&server);
    let completion = client
        .completions()
        .create(
            CompletionRequest::new("mistralai/Mixtral-8x7B-v0.1", "The capital of France is")
                .max_tokens(4),
        )
        .await
        .unwrap();
    assert_eq!(completion.text(), " Paris");
    assert_eq!(
        completion.choices[0].finish_reason,
        Some(FinishReason::Length)
    );
    assert_eq!(completion.choices[0].seed, Some(7));
    assert_eq!(
        completion.prompt.as_ref().unwrap()[0].text.as_deref(),
        Some("The capital of France is")
    );
    assert_eq!(completion.rate_limits().requests.remaining, Some(59));

    let embeddings = client
        .embeddings()
        .create(EmbeddingsRequest::new(
            "BAAI/bge-large-en-v1.5",
            vec!["a", "b"],
        ))
        .await
        .unwrap();
    assert_eq!(embeddings.first(), &[0.25, -0.5]);
    assert_eq!(embeddings.data[1].index, 1);
    assert!(embeddings.rate_limits().is_empty());

    let models = client.models().list().await.unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[0].context_length, Some(131_072));
    assert_eq!(models[0].pricing.as_ref().unwrap().input, 0.88);
    assert_eq!(models[0].extra["config"]["chat_template"], "...");
    assert_eq!(models[1].kind.as_deref(), Some("embedding"));
    assert_eq!(models.rate_limits().request_id.as_deref(), Some("req-abc"));
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
            "BAAI/bge-large-en-v1.5"
        ]
    );

    let ranked = client
        .rerank()
        .create(
            RerankRequest::new("Salesforce/Llama-Rank-V1", "q", ["llama", "panda"])
                .top_n(1)
                .return_documents(true),
        )
        .await
        .unwrap();
    assert_eq!(ranked.results[0].index, 0);
    assert_eq!(
        ranked.results[0].document.as_ref().unwrap().text.as_deref(),
        Some("llama")
    );
    assert_eq!(ranked.usage.as_ref().unwrap().prompt_tokens, 1837);
}

#[tokio::test]
async fn a_wrapped_model_list_and_a_bad_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "list", "data": [{"id": "x"}]})),
        )
        .mount(&server)
        .await;
    on_chat()
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>oops</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(client.models().list().await.unwrap()[0].id, "x");
    let error = client
        .chat()
        .create(ChatRequest::new("m").user("u"))
        .await
        .unwrap_err();
    let together_client::Error::Decode(decode) = &error else {
        panic!("{error:?}")
    };
    assert!(decode.body().contains("oops"));
    assert!(std::error::Error::source(&error).is_some());
}
