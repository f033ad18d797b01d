//! Embeddings in every dialect, through one small model: a request is the
//! texts to embed (and the dimensions wanted, if any), an answer one vector
//! per text and the input tokens counted, if the provider counted them.
//!
//! Clients: OpenAI's `/v1/embeddings`, Gemini's `:embedContent` and
//! `:batchEmbedContents`, Ollama's `/api/embed` and its older
//! `/api/embeddings`. Providers: OpenAI-compatible `/embeddings` and
//! Gemini's `:batchEmbedContents`.

use serde_json::{Value, json};

use crate::{DecodeError, Dialect};

/// Most texts in one request.
pub const MAX_INPUTS: usize = 2048;

/// Texts to embed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingRequest {
    /// The texts, in order.
    pub inputs: Vec<String>,
    /// The vectors' length, when the client asked for one.
    pub dimensions: Option<u64>,
}

/// One vector per text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmbeddingAnswer {
    /// The vectors, in the request's order.
    pub vectors: Vec<Vec<f64>>,
    /// Input tokens, when the provider counted them.
    pub input_tokens: Option<u64>,
}

/// The shape a client sent its request in (and wants its answer in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingShape {
    /// OpenAI `POST /v1/embeddings`.
    OpenAi,
    /// Gemini `POST /v1beta/models/{model}:embedContent` (one text).
    GeminiSingle,
    /// Gemini `POST /v1beta/models/{model}:batchEmbedContents`.
    GeminiBatch,
    /// Ollama `POST /api/embed`.
    Ollama,
    /// Ollama's older `POST /api/embeddings` (`prompt` in, `embedding` out).
    OllamaLegacy,
}

fn texts_of(value: &Value, field: &str) -> Result<Vec<String>, DecodeError> {
    let texts = match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    DecodeError::new(format!(
                        "'{field}' must be a string or an array of strings (token arrays are not supported)"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(DecodeError::new(format!(
                "'{field}' must be a string or an array of strings"
            )));
        }
    };
    if texts.is_empty() {
        return Err(DecodeError::new(format!("'{field}' must not be empty")));
    }
    if texts.len() > MAX_INPUTS {
        return Err(DecodeError::new(format!(
            "'{field}' holds at most {MAX_INPUTS} texts"
        )));
    }
    Ok(texts)
}

fn dimensions_of(value: Option<&Value>, field: &str) -> Result<Option<u64>, DecodeError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .filter(|dimensions| *dimensions > 0)
            .map(Some)
            .ok_or_else(|| DecodeError::new(format!("'{field}' must be a positive integer"))),
    }
}

/// The text of a Gemini `content` (its parts' texts joined).
fn gemini_text(content: Option<&Value>) -> Result<String, DecodeError> {
    let parts = content
        .and_then(|content| content.get("parts"))
        .and_then(Value::as_array)
        .ok_or_else(|| DecodeError::new("'content.parts' is required"))?;
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|part| part.get("text").and_then(Value::as_str))
        .collect();
    if texts.is_empty() {
        return Err(DecodeError::new("'content.parts' must hold text"));
    }
    Ok(texts.join("\n"))
}

impl EmbeddingShape {
    /// The shape of a client's request for `dialect` (`batch`: Gemini's batch call).
    pub fn of_client(dialect: Dialect, batch: bool) -> Self {
        match dialect {
            Dialect::Gemini if batch => Self::GeminiBatch,
            Dialect::Gemini => Self::GeminiSingle,
            Dialect::Ollama => Self::Ollama,
            _ => Self::OpenAi,
        }
    }

    /// Reads a client's request.
    pub fn decode_request(self, body: &Value) -> Result<EmbeddingRequest, DecodeError> {
        if !body.is_object() {
            return Err(DecodeError::new("the request body must be a JSON object"));
        }
        match self {
            Self::OpenAi | Self::Ollama => Ok(EmbeddingRequest {
                inputs: texts_of(
                    body.get("input")
                        .ok_or_else(|| DecodeError::new("'input' is required"))?,
                    "input",
                )?,
                dimensions: dimensions_of(body.get("dimensions"), "dimensions")?,
            }),
            Self::GeminiSingle => Ok(EmbeddingRequest {
                inputs: vec![gemini_text(body.get("content"))?],
                dimensions: dimensions_of(
                    body.get("outputDimensionality"),
                    "outputDimensionality",
                )?,
            }),
            Self::GeminiBatch => {
                let requests = body
                    .get("requests")
                    .and_then(Value::as_array)
                    .filter(|requests| !requests.is_empty())
                    .ok_or_else(|| DecodeError::new("'requests' must be a non-empty array"))?;
                if requests.len() > MAX_INPUTS {
                    return Err(DecodeError::new(format!(
                        "'requests' holds at most {MAX_INPUTS} entries"
                    )));
                }
                let inputs = requests
                    .iter()
                    .map(|request| gemini_text(request.get("content")))
                    .collect::<Result<_, _>>()?;
                let dimensions = dimensions_of(
                    requests[0].get("outputDimensionality"),
                    "outputDimensionality",
                )?;
                Ok(EmbeddingRequest { inputs, dimensions })
            }
            Self::OllamaLegacy => Ok(EmbeddingRequest {
                inputs: vec![
                    body.get("prompt")
                        .and_then(Value::as_str)
                        .ok_or_else(|| DecodeError::new("'prompt' is required"))?
                        .to_owned(),
                ],
                dimensions: None,
            }),
        }
    }

    /// Writes the answer for the client; `model` as the client named it.
    pub fn encode_answer(self, answer: &EmbeddingAnswer, model: &str) -> Value {
        let tokens = answer.input_tokens.unwrap_or(0);
        match self {
            Self::OpenAi => json!({
                "object": "list",
                "data": answer.vectors.iter().enumerate().map(|(index, vector)| json!({
                    "object": "embedding", "index": index, "embedding": vector
                })).collect::<Vec<_>>(),
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
            }),
            Self::GeminiSingle => json!({
                "embedding": {"values": answer.vectors.first().cloned().unwrap_or_default()}
            }),
            Self::GeminiBatch => json!({
                "embeddings": answer.vectors.iter().map(|vector| json!({"values": vector})).collect::<Vec<_>>()
            }),
            Self::Ollama => json!({
                "model": model,
                "embeddings": answer.vectors,
                "total_duration": 0,
                "load_duration": 0,
                "prompt_eval_count": tokens
            }),
            Self::OllamaLegacy => json!({
                "embedding": answer.vectors.first().cloned().unwrap_or_default()
            }),
        }
    }
}

/// The request for a provider speaking `dialect`: its path under the base
/// URL and its body; `None` when the dialect has no embeddings here.
pub fn encode_for_provider(
    dialect: Dialect,
    request: &EmbeddingRequest,
    model: &str,
) -> Option<(String, Value)> {
    match dialect {
        Dialect::OpenAiChat | Dialect::OpenAiResponses => {
            let mut body = json!({"model": model, "input": request.inputs});
            if let Some(dimensions) = request.dimensions {
                body["dimensions"] = dimensions.into();
            }
            Some(("/embeddings".into(), body))
        }
        Dialect::Gemini => {
            let requests: Vec<Value> = request
                .inputs
                .iter()
                .map(|text| {
                    let mut one = json!({
                        "model": format!("models/{model}"),
                        "content": {"parts": [{"text": text}]}
                    });
                    if let Some(dimensions) = request.dimensions {
                        one["outputDimensionality"] = dimensions.into();
                    }
                    one
                })
                .collect();
            Some((
                format!("/models/{model}:batchEmbedContents"),
                json!({ "requests": requests }),
            ))
        }
        Dialect::AnthropicMessages | Dialect::Ollama | Dialect::Kiro => None,
    }
}

fn vector_of(value: Option<&Value>) -> Result<Vec<f64>, DecodeError> {
    value
        .and_then(Value::as_array)
        .ok_or_else(|| DecodeError::new("an embedding is not an array of numbers"))?
        .iter()
        .map(|number| {
            number
                .as_f64()
                .ok_or_else(|| DecodeError::new("an embedding holds something else than numbers"))
        })
        .collect()
}

/// Reads a provider's answer in `dialect`, checking it holds `expected` vectors.
pub fn decode_provider_answer(
    dialect: Dialect,
    body: &Value,
    expected: usize,
) -> Result<EmbeddingAnswer, DecodeError> {
    let answer = match dialect {
        Dialect::Gemini => {
            let embeddings = body
                .get("embeddings")
                .and_then(Value::as_array)
                .ok_or_else(|| DecodeError::new("the answer has no 'embeddings'"))?;
            EmbeddingAnswer {
                vectors: embeddings
                    .iter()
                    .map(|embedding| vector_of(embedding.get("values")))
                    .collect::<Result<_, _>>()?,
                input_tokens: None,
            }
        }
        _ => {
            let data = body
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| DecodeError::new("the answer has no 'data'"))?;
            let mut indexed: Vec<(u64, Vec<f64>)> = data
                .iter()
                .enumerate()
                .map(|(position, item)| {
                    let index = item
                        .get("index")
                        .and_then(Value::as_u64)
                        .unwrap_or(position as u64);
                    Ok((index, vector_of(item.get("embedding"))?))
                })
                .collect::<Result<_, DecodeError>>()?;
            indexed.sort_by_key(|(index, _)| *index);
            EmbeddingAnswer {
                vectors: indexed.into_iter().map(|(_, vector)| vector).collect(),
                input_tokens: body.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
            }
        }
    };
    if answer.vectors.len() != expected {
        return Err(DecodeError::new(format!(
            "the answer holds {} embeddings for {expected} texts",
            answer.vectors.len()
        )));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_shape_reads_and_writes() {
        let openai = EmbeddingShape::OpenAi
            .decode_request(&json!({"model": "m", "input": ["a", "b"], "dimensions": 8}))
            .unwrap();
        assert_eq!(openai.inputs, ["a", "b"]);
        assert_eq!(openai.dimensions, Some(8));
        let single = EmbeddingShape::GeminiSingle
            .decode_request(
                &json!({"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 4}),
            )
            .unwrap();
        assert_eq!(
            (single.inputs.as_slice(), single.dimensions),
            (&["hello".to_owned()][..], Some(4))
        );
        let batch = EmbeddingShape::GeminiBatch
            .decode_request(&json!({"requests": [
                {"model": "models/x", "content": {"parts": [{"text": "one"}]}},
                {"model": "models/x", "content": {"parts": [{"text": "two"}]}}
            ]}))
            .unwrap();
        assert_eq!(batch.inputs, ["one", "two"]);
        let ollama = EmbeddingShape::Ollama
            .decode_request(&json!({"model": "m", "input": "solo"}))
            .unwrap();
        assert_eq!(ollama.inputs, ["solo"]);
        let legacy = EmbeddingShape::OllamaLegacy
            .decode_request(&json!({"model": "m", "prompt": "old"}))
            .unwrap();
        assert_eq!(legacy.inputs, ["old"]);
        for (shape, bad) in [
            (EmbeddingShape::OpenAi, json!({"model": "m"})),
            (EmbeddingShape::OpenAi, json!({"input": [1, 2]})),
            (EmbeddingShape::OpenAi, json!({"input": []})),
            (
                EmbeddingShape::OpenAi,
                json!({"input": "x", "dimensions": -1}),
            ),
            (
                EmbeddingShape::GeminiSingle,
                json!({"content": {"parts": []}}),
            ),
            (EmbeddingShape::GeminiBatch, json!({"requests": []})),
            (EmbeddingShape::OllamaLegacy, json!({"input": "x"})),
            (EmbeddingShape::Ollama, json!("text")),
        ] {
            assert!(shape.decode_request(&bad).is_err(), "{shape:?} {bad}");
        }

        let answer = EmbeddingAnswer {
            vectors: vec![vec![0.5, 1.0], vec![0.25, 0.0]],
            input_tokens: Some(6),
        };
        let written = EmbeddingShape::OpenAi.encode_answer(&answer, "e/m");
        assert_eq!(written["data"][1]["embedding"], json!([0.25, 0.0]));
        assert_eq!(written["usage"]["prompt_tokens"], 6);
        assert_eq!(
            EmbeddingShape::GeminiBatch.encode_answer(&answer, "m")["embeddings"][0]["values"],
            json!([0.5, 1.0])
        );
        assert_eq!(
            EmbeddingShape::GeminiSingle.encode_answer(&answer, "m")["embedding"]["values"],
            json!([0.5, 1.0])
        );
        assert_eq!(
            EmbeddingShape::Ollama.encode_answer(&answer, "m")["embeddings"][1],
            json!([0.25, 0.0])
        );
        assert_eq!(
            EmbeddingShape::OllamaLegacy.encode_answer(&answer, "m")["embedding"],
            json!([0.5, 1.0])
        );
    }

    #[test]
    fn providers_are_asked_and_read_in_their_format() {
        let request = EmbeddingRequest {
            inputs: vec!["a".into(), "b".into()],
            dimensions: Some(3),
        };
        let (path, body) =
            encode_for_provider(Dialect::Gemini, &request, "text-embedding-004").unwrap();
        assert_eq!(path, "/models/text-embedding-004:batchEmbedContents");
        assert_eq!(body["requests"][1]["content"]["parts"][0]["text"], "b");
        assert_eq!(body["requests"][0]["model"], "models/text-embedding-004");
        assert_eq!(body["requests"][0]["outputDimensionality"], 3);
        let (path, body) = encode_for_provider(Dialect::OpenAiChat, &request, "m").unwrap();
        assert_eq!(
            (path.as_str(), &body["input"]),
            ("/embeddings", &json!(["a", "b"]))
        );
        assert!(encode_for_provider(Dialect::AnthropicMessages, &request, "m").is_none());

        let gemini = decode_provider_answer(
            Dialect::Gemini,
            &json!({"embeddings": [{"values": [1.0]}, {"values": [2.0]}]}),
            2,
        )
        .unwrap();
        assert_eq!(gemini.vectors, vec![vec![1.0], vec![2.0]]);
        let openai = decode_provider_answer(
            Dialect::OpenAiChat,
            &json!({"data": [{"index": 1, "embedding": [2.0]}, {"index": 0, "embedding": [1.0]}],
                    "usage": {"prompt_tokens": 4}}),
            2,
        )
        .unwrap();
        assert_eq!(openai.vectors, vec![vec![1.0], vec![2.0]]);
        assert_eq!(openai.input_tokens, Some(4));
        assert!(decode_provider_answer(Dialect::Gemini, &json!({"embeddings": []}), 2).is_err());
        assert!(
            decode_provider_answer(
                Dialect::OpenAiChat,
                &json!({"data": [{"embedding": ["x"]}]}),
                1
            )
            .is_err()
        );
    }
}
