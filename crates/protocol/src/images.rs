//! Image generation between OpenAI's `POST /v1/images/generations` and
//! Gemini's API: Gemini's image models answer `generateContent` with image
//! parts (`responseModalities: ["TEXT", "IMAGE"]`), Imagen models answer
//! `:predict` (`instances`/`parameters`, `predictions[].bytesBase64Encoded`).

use serde_json::{Value, json};

use crate::DecodeError;

/// An image request as OpenAI's reference describes it, the parts a
/// translation carries.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRequest {
    /// What to draw.
    pub prompt: String,
    /// How many images (1 to 10).
    pub count: u32,
    /// `WIDTHxHEIGHT`, if given.
    pub size: Option<String>,
    /// The client asked for `url` rather than `b64_json`.
    pub wants_url: bool,
    /// Images to edit (an edit request): media type and base64 data.
    pub inputs: Vec<(String, String)>,
}

/// The images of an answer and the tokens it reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageAnswer {
    /// Each image: its base64 data and media type.
    pub images: Vec<(String, String)>,
    /// Text the model wrote beside the images (Gemini), kept as the
    /// revised prompt.
    pub text: Option<String>,
    /// Input tokens, when reported.
    pub input_tokens: u64,
    /// Output tokens, when reported.
    pub output_tokens: u64,
}

impl ImageRequest {
    /// Reads OpenAI's request body: `prompt` required, `n` 1 to 10.
    pub fn decode_openai(body: &Value) -> Result<Self, DecodeError> {
        let prompt = body
            .get("prompt")
            .and_then(Value::as_str)
            .filter(|prompt| !prompt.trim().is_empty())
            .ok_or_else(|| DecodeError::new("'prompt' is required: a description of the image"))?;
        let count = match body.get("n") {
            None | Some(Value::Null) => 1,
            // A number, or its text in a multipart form.
            Some(n) => n
                .as_u64()
                .or_else(|| n.as_str()?.trim().parse().ok())
                .filter(|n| (1..=10).contains(n))
                .ok_or_else(|| DecodeError::new("'n' must be a whole number from 1 to 10"))?
                as u32,
        };
        let size = body.get("size").and_then(Value::as_str).map(str::to_owned);
        let wants_url = body.get("response_format").and_then(Value::as_str) == Some("url");
        Ok(Self {
            prompt: prompt.to_owned(),
            count,
            size,
            wants_url,
            inputs: Vec::new(),
        })
    }

    /// The path under Gemini's base URL and the body for `model`: Imagen
    /// models (`imagen-…`) are asked through `:predict` (generation only:
    /// `None` for an edit), the others through `:generateContent` with image
    /// output, the images to edit before the prompt.
    pub fn encode_for_gemini(&self, model: &str) -> Option<(String, Value)> {
        let aspect = self.size.as_deref().and_then(aspect_ratio);
        if is_imagen(model) {
            if !self.inputs.is_empty() {
                return None;
            }
            let mut parameters = json!({ "sampleCount": self.count });
            if let Some(aspect) = aspect {
                parameters["aspectRatio"] = aspect.into();
            }
            return Some((
                format!("/models/{model}:predict"),
                json!({ "instances": [{ "prompt": self.prompt }], "parameters": parameters }),
            ));
        }
        let mut config = json!({ "responseModalities": ["TEXT", "IMAGE"] });
        if self.count > 1 {
            config["candidateCount"] = self.count.into();
        }
        if let Some(aspect) = aspect {
            config["imageConfig"] = json!({ "aspectRatio": aspect });
        }
        let mut parts: Vec<Value> = self
            .inputs
            .iter()
            .map(|(mime, data)| json!({ "inlineData": { "mimeType": mime, "data": data } }))
            .collect();
        parts.push(json!({ "text": self.prompt }));
        Some((
            format!("/models/{model}:generateContent"),
            json!({
                "contents": [{ "role": "user", "parts": parts }],
                "generationConfig": config,
            }),
        ))
    }
}

/// Whether `model` is an Imagen model (asked through `:predict`).
pub fn is_imagen(model: &str) -> bool {
    model.starts_with("imagen")
}

/// Gemini's aspect ratio for an OpenAI size, where one matches.
fn aspect_ratio(size: &str) -> Option<&'static str> {
    let (width, height) = size.split_once('x')?;
    let (width, height) = (width.parse::<u32>().ok()?, height.parse::<u32>().ok()?);
    if width == 0 || height == 0 {
        return None;
    }
    let ratio = f64::from(width) / f64::from(height);
    [
        ("1:1", 1.0),
        ("3:4", 0.75),
        ("4:3", 4.0 / 3.0),
        ("9:16", 9.0 / 16.0),
        ("16:9", 16.0 / 9.0),
        ("2:3", 2.0 / 3.0),
        ("3:2", 1.5),
    ]
    .into_iter()
    .find(|(_, value)| (ratio - value).abs() < 0.05)
    .map(|(name, _)| name)
}

impl ImageAnswer {
    /// Reads Gemini's answer to what [`ImageRequest::encode_for_gemini`]
    /// sent: `predictions` (Imagen) or candidates' `inlineData` parts.
    pub fn decode_gemini(answer: &Value) -> Result<Self, DecodeError> {
        let mut decoded = Self::default();
        if let Some(predictions) = answer.get("predictions").and_then(Value::as_array) {
            for prediction in predictions {
                if let Some(data) = prediction.get("bytesBase64Encoded").and_then(Value::as_str) {
                    let mime = prediction
                        .get("mimeType")
                        .and_then(Value::as_str)
                        .unwrap_or("image/png");
                    decoded.images.push((data.to_owned(), mime.to_owned()));
                }
            }
        } else {
            let candidates = answer
                .get("candidates")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    DecodeError::new("the answer has neither predictions nor candidates")
                })?;
            let parts = candidates
                .iter()
                .filter_map(|candidate| candidate.pointer("/content/parts")?.as_array())
                .flatten();
            let mut text = String::new();
            for part in parts {
                let inline = part.get("inlineData").or_else(|| part.get("inline_data"));
                if let Some(inline) = inline {
                    let data = inline
                        .get("data")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let mime = inline
                        .get("mimeType")
                        .or_else(|| inline.get("mime_type"))
                        .and_then(Value::as_str)
                        .unwrap_or("image/png");
                    decoded.images.push((data.to_owned(), mime.to_owned()));
                } else if let Some(said) = part.get("text").and_then(Value::as_str) {
                    text.push_str(said);
                }
            }
            decoded.text = (!text.trim().is_empty()).then_some(text);
        }
        if decoded.images.is_empty() {
            // A prompt refused by the provider's safety filters ends here.
            let why = answer
                .pointer("/candidates/0/finishReason")
                .or_else(|| answer.pointer("/promptFeedback/blockReason"))
                .and_then(Value::as_str)
                .unwrap_or("no image in the answer");
            return Err(DecodeError::new(format!(
                "the provider made no image ({why})"
            )));
        }
        let count = |name: &str| {
            answer
                .pointer(&format!("/usageMetadata/{name}"))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        decoded.input_tokens = count("promptTokenCount");
        decoded.output_tokens = count("candidatesTokenCount");
        Ok(decoded)
    }

    /// OpenAI's answer: `data[].b64_json` (or a `data:` URL in `url` when
    /// the client asked for URLs: there is no file to point at), with usage.
    pub fn encode_openai(&self, created: u64, wants_url: bool) -> Value {
        let data: Vec<Value> = self
            .images
            .iter()
            .map(|(data, mime)| {
                let mut image = if wants_url {
                    json!({ "url": format!("data:{mime};base64,{data}") })
                } else {
                    json!({ "b64_json": data })
                };
                if let Some(text) = &self.text {
                    image["revised_prompt"] = text.clone().into();
                }
                image
            })
            .collect();
        json!({
            "created": created,
            "data": data,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "total_tokens": self.input_tokens + self.output_tokens,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagen_and_gemini_image_models_are_asked_their_own_way() {
        let request = ImageRequest::decode_openai(
            &json!({"model": "x", "prompt": "a red train", "n": 2, "size": "1792x1024"}),
        )
        .unwrap();
        let (path, body) = request
            .encode_for_gemini("imagen-4.0-generate-001")
            .unwrap();
        assert_eq!(path, "/models/imagen-4.0-generate-001:predict");
        assert_eq!(body["instances"][0]["prompt"], "a red train");
        assert_eq!(body["parameters"]["sampleCount"], 2);
        assert_eq!(body["parameters"]["aspectRatio"], "16:9");
        let (path, body) = request.encode_for_gemini("gemini-2.5-flash-image").unwrap();
        assert_eq!(path, "/models/gemini-2.5-flash-image:generateContent");
        assert_eq!(body["generationConfig"]["responseModalities"][1], "IMAGE");
        assert_eq!(body["contents"][0]["parts"][0]["text"], "a red train");
        // An edit: the image first, then what to do with it; Imagen cannot.
        let edit = ImageRequest {
            inputs: vec![("image/png".into(), "cG5n".into())],
            ..request
        };
        let (_, body) = edit.encode_for_gemini("gemini-2.5-flash-image").unwrap();
        assert_eq!(
            body["contents"][0]["parts"][0]["inlineData"]["data"],
            "cG5n"
        );
        assert_eq!(body["contents"][0]["parts"][1]["text"], "a red train");
        assert!(edit.encode_for_gemini("imagen-4.0-generate-001").is_none());
    }

    #[test]
    fn bad_requests_are_refused() {
        assert!(ImageRequest::decode_openai(&json!({"model": "x"})).is_err());
        assert!(ImageRequest::decode_openai(&json!({"prompt": "p", "n": 0})).is_err());
        assert!(ImageRequest::decode_openai(&json!({"prompt": "p", "n": 11})).is_err());
    }

    #[test]
    fn answers_become_openai_images() {
        let answer = json!({
            "candidates": [{"content": {"parts": [
                {"text": "Here is your train."},
                {"inlineData": {"mimeType": "image/png", "data": "aW1n"}}
            ]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 1290}
        });
        let decoded = ImageAnswer::decode_gemini(&answer).unwrap();
        let encoded = decoded.encode_openai(1, false);
        assert_eq!(encoded["data"][0]["b64_json"], "aW1n");
        assert_eq!(encoded["data"][0]["revised_prompt"], "Here is your train.");
        assert_eq!(encoded["usage"]["total_tokens"], 1296);
        let url = decoded.encode_openai(1, true);
        assert_eq!(url["data"][0]["url"], "data:image/png;base64,aW1n");
        let imagen =
            json!({"predictions": [{"bytesBase64Encoded": "b25l", "mimeType": "image/jpeg"}]});
        assert_eq!(ImageAnswer::decode_gemini(&imagen).unwrap().images.len(), 1);
        let refused = json!({"candidates": [{"finishReason": "IMAGE_SAFETY"}]});
        let error = ImageAnswer::decode_gemini(&refused).unwrap_err();
        assert!(error.message.contains("IMAGE_SAFETY"), "{}", error.message);
    }
}
