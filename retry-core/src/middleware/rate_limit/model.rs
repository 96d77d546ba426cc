//! The model a request names, which keys its limits apart from other models' on one host.
//!
//! LLM APIs limit each model on its own: Together per organisation and model, OpenAI and
//! Anthropic per model too. Paced as one, two models' answers would tell one learner of two
//! limits at once (the headers of the fast model's bucket, then the slow one's), and the
//! slow model's 429s would cut the fast one's pace.

use std::borrow::Cow;

use reqwest::Request;
use serde::Deserialize;

/// The most models of one host paced apart: each is a state the limiter keeps for as long as
/// it lives (and a `model` label on its metrics), so a client that names a new model with
/// every request must not grow it without bound. Requests naming others share the host's.
pub(crate) const MOST_PER_HOST: usize = 64;

/// The longest model name kept: a longer one is not a model name, and each name kept is a
/// state the limiter holds for as long as it lives.
const LONGEST: usize = 256;

/// A JSON object's top-level `model`, every other field skipped unread.
#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
}

/// The top-level `"model"` string of `request`'s JSON body, if it has one in memory.
///
/// A real parse rather than a scan for `"model"`: a tool's schema or a message may hold that
/// key deeper down, and only the top level names what the server limits. A body that is not
/// a JSON object, or a stream (unread, as reading would consume it), names no model.
pub(crate) fn of(request: &Request) -> Option<String> {
    let body = request.body()?.as_bytes()?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let named: Named<'_> = serde_json::from_slice(body).ok()?;
    named
        .model
        .filter(|model| !model.is_empty() && model.len() <= LONGEST)
        .map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(body: &'static str) -> Request {
        let mut req = Request::new(
            reqwest::Method::POST,
            "http://127.0.0.1/v1/chat/completions".parse().unwrap(),
        );
        *req.body_mut() = Some(body.into());
        req
    }

    #[test]
    fn the_top_level_model_names_it() {
        let body = r#"{"messages":[{"role":"user","content":"hi"}],"model":"m-fast","n":1}"#;
        assert_eq!(of(&post(body)).as_deref(), Some("m-fast"));
        let escaped = r#" {"model":"org\/m\u0031"}"#;
        assert_eq!(of(&post(escaped)).as_deref(), Some("org/m1"));
    }

    #[test]
    fn a_model_deeper_down_or_none_names_nothing() {
        for body in [
            r#"{"tools":[{"model":"x"}],"messages":[]}"#,
            r#"{"model":null}"#,
            r#"{"model":7}"#,
            r#"{"model":""}"#,
            r#"[{"model":"x"}]"#,
            r#"{"model":"x""#,
            "model=x",
            "",
        ] {
            assert_eq!(of(&post(body)), None, "{body}");
        }
        let get = Request::new(reqwest::Method::GET, "http://h/v1/models".parse().unwrap());
        assert_eq!(of(&get), None);
    }

    #[test]
    fn an_overlong_name_is_not_kept() {
        let long = format!(r#"{{"model":"{}"}}"#, "m".repeat(LONGEST + 1));
        let mut req = post("{}");
        *req.body_mut() = Some(long.into());
        assert_eq!(of(&req), None);
    }
}
