//! The parts of a chat request and answer: [`Message`] and its [`Content`], [`Tool`]s and
//! [`ToolCall`]s, [`ResponseFormat`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Extra, Role};

/// One message of a conversation (`ChatCompletionMessageParam`, and the answer's
/// `ChatCompletionMessage`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    #[serde(default)]
    pub role: Role,
    /// What it says: text, or parts (text, images, ...); `None` for an assistant message
    /// that only calls tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// The author's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The tool calls of an assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// The call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// The model's reasoning, for models that show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Message {
    /// A message of `role` saying `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: Some(Content::Text(content.into())),
            ..Message::default()
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Message::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Message::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message::new(Role::Assistant, content)
    }

    /// A tool's answer to the call `call_id`.
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            tool_call_id: Some(call_id.into()),
            ..Message::new(Role::Tool, content)
        }
    }

    /// The message's text: its content if it is text, else its first text part, else `""`.
    pub fn text(&self) -> &str {
        self.content.as_ref().map_or("", Content::text)
    }
}

/// A message's content (`ChatCompletionUserMessageContent`): a string, or parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text, images, video, audio.
    Parts(Vec<ContentPart>),
}

impl Content {
    /// The text, or the first text part, or `""`.
    pub fn text(&self) -> &str {
        match self {
            Content::Text(text) => text,
            Content::Parts(parts) => parts
                .iter()
                .find_map(|p| p.text.as_deref())
                .unwrap_or_default(),
        }
    }
}

impl From<String> for Content {
    fn from(text: String) -> Self {
        Content::Text(text)
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Self {
        Content::Text(text.to_owned())
    }
}

/// One part of a multimodal message: `{"type": "text", "text": ...}`,
/// `{"type": "image_url", "image_url": {"url": ...}}`, and the video and audio kinds, kept in
/// `extra`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    /// `text`, `image_url`, `video_url`, `audio_url`, `input_audio`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The other fields (`image_url`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart {
            kind: "text".into(),
            text: Some(text.into()),
            extra: Extra::new(),
        }
    }

    /// An image by URL (or `data:` URL).
    pub fn image_url(url: impl Into<String>) -> Self {
        let mut extra = Extra::new();
        extra.insert("image_url".into(), serde_json::json!({ "url": url.into() }));
        ContentPart {
            kind: "image_url".into(),
            text: None,
            extra,
        }
    }
}

/// A tool the model may call (`ToolsPart`): a function, described by a JSON schema.
///
/// ```
/// use together_client::{ChatRequest, Tool};
///
/// let weather = Tool::function(
///     "get_weather",
///     "The weather in a city",
///     serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
/// );
/// let request = ChatRequest::new("m").user("Weather in Paris?").tool(weather).tool_choice("auto");
/// assert_eq!(request.tools.unwrap()[0].function.name, "get_weather");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `function` today.
    #[serde(rename = "type", default = "function")]
    pub kind: String,
    /// The function.
    #[serde(default)]
    pub function: FunctionDef,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

fn function() -> String {
    "function".into()
}

impl Tool {
    /// A function tool with a JSON-schema `parameters` object.
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
    ) -> Self {
        Tool {
            kind: function(),
            function: FunctionDef {
                name: name.into(),
                description: Some(description.into()),
                parameters: Some(parameters),
                extra: Extra::new(),
            },
            extra: Extra::new(),
        }
    }
}

/// A function a tool exposes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its parameters, as a JSON schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A tool call of the model (`ToolChoice` in the spec). In a stream, a call comes in pieces:
/// the first delta has its id and name, the next ones more of its `arguments`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Its position among the message's calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Its id, which the tool's answer quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Always `function` today.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The function called and its arguments.
    #[serde(default)]
    pub function: FunctionCall,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The function of a [`ToolCall`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its arguments, as a JSON string.
    #[serde(default)]
    pub arguments: String,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The format the answer must take (`response_format`): `text`, `json_object`, or
/// `json_schema` with a schema.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseFormat {
    /// `text`, `json_object` or `json_schema`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The schema, for `json_schema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<JsonSchema>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ResponseFormat {
    /// Plain text (the default).
    pub fn text() -> Self {
        ResponseFormat {
            kind: "text".into(),
            ..ResponseFormat::default()
        }
    }

    /// JSON mode: any valid JSON object.
    pub fn json_object() -> Self {
        ResponseFormat {
            kind: "json_object".into(),
            ..ResponseFormat::default()
        }
    }

    /// Structured output: JSON matching `schema`.
    pub fn json_schema(name: impl Into<String>, schema: Value) -> Self {
        ResponseFormat {
            kind: "json_schema".into(),
            json_schema: Some(JsonSchema {
                name: name.into(),
                schema: Some(schema),
                ..JsonSchema::default()
            }),
            extra: Extra::new(),
        }
    }
}

/// A JSON schema for structured output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonSchema {
    /// Its name (`a-z`, `A-Z`, `0-9`, `_`, `-`; 64 at most).
    #[serde(default)]
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Strict adherence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}
