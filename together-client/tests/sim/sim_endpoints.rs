//! The simulator's endpoints answer in the shapes of Together's spec, deterministically, and
//! its bearer auth and request errors answer with Together's error body.

use crate::kit::sim::{chat, chat_body, error_of, header, launch, post};
use crate::kit::untimed_http as client;
use serde_json::{Value, json};
use together_client::sim::Simulator;

#[tokio::test]
async fn chat_completion_echoes_the_last_user_message() {
    let sim = Simulator::start().await.unwrap();
    let response = chat(&client(), &sim, "What is the capital of France?").await;
    assert_eq!(response.status(), 200);
    assert!(
        header(&response, "x-request-id")
            .unwrap()
            .starts_with("sim-")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "meta-llama/Llama-3.3-70B-Instruct-Turbo");
    assert!(body["id"].is_string() && body["created"].is_u64());
    assert!(body["prompt"].is_array());
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(
        choice["message"]["content"],
        "Echo: What is the capital of France?"
    );
    // Tokens are words: 2 (system) + 6 (user) in, 7 out.
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 8, "completion_tokens": 7, "total_tokens": 15})
    );
}

#[tokio::test]
async fn chat_respects_max_tokens_and_multimodal_text_parts() {
    let sim = Simulator::start().await.unwrap();
    let request = json!({
        "model": "m",
        "max_tokens": 3,
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "one two"},
            {"type": "image_url", "image_url": {"url": "http://x"}},
            {"type": "text", "text": "three four"},
        ]}],
    });
    let body: Value = post(&client(), &sim, "/chat/completions", &request)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Echo: one two");
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["usage"]["completion_tokens"], 3);
    // The prompt key is the text parts, joined.
    assert_eq!(sim.stats().successes_for("one two\nthree four"), 1);
}

#[tokio::test]
async fn completion_shape() {
    let sim = Simulator::start().await.unwrap();
    let request = json!({"model": "mistralai/Mixtral-8x7B-v0.1", "prompt": "Once upon a time"});
    let response = post(&client(), &sim, "/completions", &request).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "text.completion");
    assert_eq!(body["model"], "mistralai/Mixtral-8x7B-v0.1");
    assert_eq!(body["choices"][0]["text"], "Echo: Once upon a time");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["usage"]["total_tokens"], 9);
    assert!(body["id"].is_string() && body["created"].is_u64() && body["prompt"].is_array());
}

#[tokio::test]
async fn embeddings_have_the_requested_dimension_and_are_deterministic() {
    let sim = Simulator::start().await.unwrap();
    let client = client();
    let request = json!({
        "model": "togethercomputer/m2-bert-80M-8k-retrieval",
        "input": ["llamas are camelids", "pandas are bears"],
        "dimensions": 32,
    });
    let first: Value = post(&client, &sim, "/embeddings", &request)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["object"], "list");
    assert_eq!(first["model"], "togethercomputer/m2-bert-80M-8k-retrieval");
    let data = first["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
        let vector: Vec<f64> = serde_json::from_value(item["embedding"].clone()).unwrap();
        assert_eq!(vector.len(), 32);
        let norm: f64 = vector.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-3, "unit vector, got norm² {norm}");
    }
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    let again: Value = post(&client, &sim, "/embeddings", &request)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"], again["data"]);

    // A single string, default dimension.
    let one: Value = post(
        &client,
        &sim,
        "/embeddings",
        &json!({"model": "e", "input": "hi"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(one["data"][0]["embedding"].as_array().unwrap().len(), 768);
}

#[tokio::test]
async fn models_is_a_bare_array() {
    let sim = Simulator::start().await.unwrap();
    let response = client()
        .get(format!("{}/models", sim.base_url()))
        .bearer_auth(sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let models = body.as_array().expect("a bare JSON array");
    assert!(models.len() >= 4);
    for model in models {
        assert_eq!(model["object"], "model");
        assert!(model["id"].is_string() && model["created"].is_u64());
        assert!(model["context_length"].is_u64());
    }
    let types: Vec<&str> = models.iter().map(|m| m["type"].as_str().unwrap()).collect();
    for kind in ["chat", "language", "embedding", "rerank"] {
        assert!(types.contains(&kind), "{types:?}");
    }
}

#[tokio::test]
async fn rerank_orders_by_overlap_and_honours_top_n() {
    let sim = Simulator::start().await.unwrap();
    let request = json!({
        "model": "Salesforce/Llama-Rank-V1",
        "query": "llama camelid",
        "documents": [
            "The giant panda is a bear.",
            {"title": "Llama", "text": "The llama is a domesticated South American camelid."},
            "A guanaco is related to the llama.",
        ],
        "top_n": 2,
        "return_documents": true,
    });
    let body: Value = post(&client(), &sim, "/rerank", &request)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "rerank");
    assert_eq!(body["model"], "Salesforce/Llama-Rank-V1");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["index"], 1);
    assert_eq!(results[0]["relevance_score"], 1.0);
    assert_eq!(results[1]["index"], 2);
    assert_eq!(results[1]["relevance_score"], 0.5);
    assert_eq!(
        results[1]["document"]["text"],
        "A guanaco is related to the llama."
    );
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    // Without return_documents the text is null.
    let mut request = request;
    request["return_documents"] = json!(false);
    let body: Value = post(&client(), &sim, "/rerank", &request)
        .await
        .json()
        .await
        .unwrap();
    assert!(body["results"][0]["document"]["text"].is_null());
}

#[tokio::test]
async fn wrong_or_missing_key_is_401_with_togethers_body() {
    let sim = launch(Simulator::builder().api_key("right")).await;
    let client = client();
    let url = format!("{}/chat/completions", sim.base_url());
    let body = chat_body("hi");
    for request in [
        client.post(&url).bearer_auth("wrong").json(&body),
        client.post(&url).json(&body),
        client
            .post(&url)
            .basic_auth("right", None::<&str>)
            .json(&body),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let error = error_of(response).await;
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["code"], "invalid_api_key");
        assert!(error["message"].as_str().unwrap().contains("API key"));
    }
    let ok = client.post(&url).bearer_auth("right").json(&body);
    assert_eq!(ok.send().await.unwrap().status(), 200);
    let stats = sim.stats();
    assert_eq!(
        (stats.requests, stats.unauthorized, stats.successes),
        (4, 3, 1)
    );
}

#[tokio::test]
async fn bad_bodies_and_paths_are_togethers_errors() {
    let sim = launch(Simulator::builder().context_window(10)).await;
    let client = client();

    let invalid = client
        .post(format!("{}/chat/completions", sim.base_url()))
        .bearer_auth(sim.api_key())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    assert_eq!(error_of(invalid).await["type"], "invalid_request_error");

    let no_messages = post(&client, &sim, "/chat/completions", &json!({"model": "m"})).await;
    assert_eq!(no_messages.status(), 400);
    assert_eq!(error_of(no_messages).await["param"], "messages");

    let no_model = post(&client, &sim, "/embeddings", &json!({"input": "x"})).await;
    assert_eq!(no_model.status(), 400);
    assert_eq!(error_of(no_model).await["param"], "model");

    // Prompt (2 + 3 words) plus max_tokens over the window of 10: 403, as on Together.
    let mut long = chat_body("one two three");
    long["max_tokens"] = json!(6);
    let too_long = post(&client, &sim, "/chat/completions", &long).await;
    assert_eq!(too_long.status(), 403);
    let error = error_of(too_long).await;
    assert!(
        error["message"].as_str().unwrap().contains("must be <= 10"),
        "{error}"
    );
    long["max_tokens"] = json!(5);
    assert_eq!(
        post(&client, &sim, "/chat/completions", &long)
            .await
            .status(),
        200
    );

    let unknown = post(&client, &sim, "/nope", &json!({})).await;
    assert_eq!(unknown.status(), 404);
    error_of(unknown).await;

    let stats = sim.stats();
    assert_eq!(
        (stats.other_errors, stats.successes, stats.requests),
        (5, 1, 6)
    );
}
