//! Multipart uploads (`/v1/images/edits`, `/v1/audio/transcriptions`,
//! `/v1/audio/translations`): read from the client part by part as the
//! bytes arrive, the text fields kept and the files spooled to one
//! temporary file, so memory stays bounded whatever the upload's size and
//! each attempt of a fallback can send the upload again, its `model` field
//! replaced by the target's model.

use std::io::SeekFrom;
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::ApiError;

/// Most bytes of one text field (a prompt, a language, a format) kept in memory.
const MAX_TEXT_FIELD_BYTES: u64 = 256 * 1024;
/// Most parts of one upload.
const MAX_PARTS: usize = 64;

/// A multipart upload as received: its text fields in memory, its files in
/// a temporary file (removed when the upload is dropped).
#[derive(Debug)]
pub(crate) struct Upload {
    parts: Vec<UploadPart>,
    /// The files' bytes, one after the other.
    spool: tempfile::NamedTempFile,
}

/// One part of an upload.
#[derive(Debug)]
struct UploadPart {
    name: String,
    content: PartContent,
}

/// What a part holds.
#[derive(Debug)]
enum PartContent {
    /// A form field's value.
    Text(String),
    /// A file: where its bytes are in the spool.
    File {
        file_name: String,
        content_type: Option<String>,
        offset: u64,
        len: u64,
    },
}

impl Upload {
    /// Reads a `multipart/form-data` body: at most `max_bytes` in all, with
    /// at most `idle` between two chunks. Errors are the client's: 415 for
    /// another content type, 413 past the limit, 408 for a stalled upload,
    /// 400 for a malformed body.
    pub(crate) async fn read(
        content_type: Option<&str>,
        body: Body,
        max_bytes: u64,
        idle: Duration,
    ) -> Result<Self, ApiError> {
        let content_type = content_type.unwrap_or_default();
        let boundary = multer::parse_boundary(content_type).map_err(|_| {
            ApiError::unsupported_media_type(format!(
                "this route takes a multipart/form-data upload (a file and its fields), not {:?}",
                content_type.split(';').next().unwrap_or_default()
            ))
        })?;
        let constraints =
            multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(max_bytes));
        let mut multipart =
            multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
        let spool = tempfile::NamedTempFile::new().map_err(|error| {
            tracing::error!(%error, "cannot create a temporary file for an upload");
            ApiError::internal("the gateway cannot spool the upload (no room for a temporary file)")
        })?;
        let mut writer = tokio::fs::File::from_std(spool.as_file().try_clone().map_err(|_| {
            ApiError::internal("the gateway cannot spool the upload (no room for a temporary file)")
        })?);
        let mut parts = Vec::new();
        let mut file_bytes = 0u64;
        while let Some(mut field) = within(idle, max_bytes, multipart.next_field()).await? {
            if parts.len() == MAX_PARTS {
                return Err(ApiError::bad_request(
                    "invalid_upload",
                    format!("an upload has at most {MAX_PARTS} parts"),
                ));
            }
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let part_type = field.content_type().map(ToString::to_string);
            let mut len = 0u64;
            let mut text = Vec::new();
            while let Some(chunk) = within(idle, max_bytes, field.chunk()).await? {
                len += chunk.len() as u64;
                if file_name.is_some() {
                    writer.write_all(&chunk).await.map_err(spool_failed)?;
                } else if len > MAX_TEXT_FIELD_BYTES {
                    return Err(ApiError::bad_request(
                        "invalid_upload",
                        format!(
                            "the field {name:?} is longer than {MAX_TEXT_FIELD_BYTES} bytes (send files with a file name)"
                        ),
                    ));
                } else {
                    text.extend_from_slice(&chunk);
                }
            }
            let content = match file_name {
                Some(file_name) => {
                    let offset = file_bytes;
                    file_bytes += len;
                    PartContent::File {
                        file_name,
                        content_type: part_type,
                        offset,
                        len,
                    }
                }
                None => PartContent::Text(String::from_utf8(text).map_err(|_| {
                    ApiError::bad_request(
                        "invalid_upload",
                        format!("the field {name:?} is not UTF-8 text"),
                    )
                })?),
            };
            parts.push(UploadPart { name, content });
        }
        writer.flush().await.map_err(spool_failed)?;
        Ok(Self { parts, spool })
    }

    /// The text fields, by name (a name sent twice: its last value).
    pub(crate) fn text_fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parts.iter().filter_map(|part| match &part.content {
            PartContent::Text(text) => Some((part.name.as_str(), text.as_str())),
            PartContent::File { .. } => None,
        })
    }

    /// The files, as `(field, file name, bytes)`, for the request log.
    pub(crate) fn files(&self) -> impl Iterator<Item = (&str, &str, u64)> {
        self.parts.iter().filter_map(|part| match &part.content {
            PartContent::File { file_name, len, .. } => {
                Some((part.name.as_str(), file_name.as_str(), *len))
            }
            PartContent::Text(_) => None,
        })
    }

    /// The files sent in the fields called `names`, read whole (for a
    /// provider that takes them inline), with their media types; `None`
    /// when together they exceed `limit` bytes.
    pub(crate) async fn read_files(
        &self,
        names: &[&str],
        limit: u64,
    ) -> std::io::Result<Option<Vec<(Option<&str>, &str, Vec<u8>)>>> {
        let mut files = Vec::new();
        let mut total = 0u64;
        for part in &self.parts {
            let PartContent::File {
                file_name,
                content_type,
                offset,
                len,
            } = &part.content
            else {
                continue;
            };
            if !names.contains(&part.name.as_str()) {
                continue;
            }
            total += len;
            if total > limit {
                return Ok(None);
            }
            let mut file = tokio::fs::File::open(self.spool.path()).await?;
            file.seek(SeekFrom::Start(*offset)).await?;
            let mut bytes = Vec::with_capacity(*len as usize);
            file.take(*len).read_to_end(&mut bytes).await?;
            files.push((content_type.as_deref(), file_name.as_str(), bytes));
        }
        Ok(Some(files))
    }

    /// The upload as a form to send again, `model` set to `model`; each
    /// file is read from the spool as it is sent.
    pub(crate) async fn form(&self, model: &str) -> std::io::Result<reqwest::multipart::Form> {
        let mut form = reqwest::multipart::Form::new();
        for part in &self.parts {
            let sent = match &part.content {
                PartContent::Text(_) if part.name == "model" => {
                    reqwest::multipart::Part::text(model.to_owned())
                }
                PartContent::Text(text) => reqwest::multipart::Part::text(text.clone()),
                PartContent::File {
                    file_name,
                    content_type,
                    offset,
                    len,
                } => {
                    // A handle of its own: an earlier attempt may still be
                    // reading its copy.
                    let mut file = tokio::fs::File::open(self.spool.path()).await?;
                    file.seek(SeekFrom::Start(*offset)).await?;
                    let bytes = tokio_util::io::ReaderStream::new(file.take(*len));
                    let mut sent = reqwest::multipart::Part::stream_with_length(
                        reqwest::Body::wrap_stream(bytes),
                        *len,
                    )
                    .file_name(file_name.clone());
                    if let Some(content_type) = content_type {
                        sent = sent.mime_str(content_type).map_err(|_| {
                            std::io::Error::new(
                                std::io::ErrorKind::InvalidInput,
                                "a file's content type is not valid",
                            )
                        })?;
                    }
                    sent
                }
            };
            form = form.part(part.name.clone(), sent);
        }
        Ok(form)
    }
}

/// What `read` (a step of reading the upload) gives, unless the client sent
/// nothing for `idle`.
async fn within<T>(
    idle: Duration,
    max_bytes: u64,
    read: impl Future<Output = multer::Result<T>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(idle, read).await {
        Ok(read) => read.map_err(|error| upload_error(&error, max_bytes)),
        Err(_) => Err(ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            ..ApiError::bad_request(
                "request_timeout",
                format!(
                    "the upload stalled for {}s (setting request_read_timeout_secs)",
                    idle.as_secs()
                ),
            )
        }),
    }
}

/// The client's error for a body multer could not read.
fn upload_error(error: &multer::Error, max_bytes: u64) -> ApiError {
    match error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                ..ApiError::bad_request(
                    "request_too_large",
                    format!(
                        "the upload is larger than {max_bytes} bytes (setting max_upload_bytes)"
                    ),
                )
            }
        }
        multer::Error::StreamReadFailed(_) => {
            ApiError::bad_request("invalid_body", "the upload was cut off")
        }
        other => ApiError::bad_request(
            "invalid_upload",
            format!("the multipart body cannot be read: {other}"),
        ),
    }
}

/// The error when the spool cannot be written (a full disk).
fn spool_failed(error: std::io::Error) -> ApiError {
    tracing::error!(%error, "cannot write an upload to its temporary file");
    ApiError::internal("the gateway cannot spool the upload (its temporary directory is full?)")
}

/// The content type of a request, if any.
pub(crate) fn content_type(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
}
