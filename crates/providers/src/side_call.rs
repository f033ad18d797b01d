//! Side calls to a service's own endpoints (logins, token refreshes and
//! exchanges, quota readers, model lists): their answers are read whole but
//! bounded.

/// Most bytes read from the answers of side calls (logins, token refreshes,
/// quota readers, model lists): model lists are the largest, at a few MB.
pub const SIDE_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The body of a side call's answer (see [`SIDE_BODY_BYTES`]) as JSON;
/// `None` when it is larger, broken off or not JSON.
pub async fn side_json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Option<T> {
    let text = side_text(response).await?;
    serde_json::from_str(&text).ok()
}

/// The body of a side call's answer as text, at most [`SIDE_BODY_BYTES`].
pub async fn side_text(mut response: reqwest::Response) -> Option<String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        if body.len() + chunk.len() > SIDE_BODY_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(String::from_utf8_lossy(&body).into_owned())
}
