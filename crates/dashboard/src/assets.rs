//! The dashboard's static files (`ui/dist`, embedded at compile time, text
//! and wasm gzipped by `build.rs`), answered with an `ETag` of the build so
//! browsers revalidate cheaply, gzipped to clients that accept it.

use std::io::Read;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

static DIST: Dir<'static> = include_dir!("$SWITCHYARD_UI_DIST");

/// Changes with every dashboard build (see `build.rs`).
const DIGEST: &str = env!("SWITCHYARD_UI_DIGEST");

/// `GET /dashboard/`: the page.
pub(crate) async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /dashboard/<file>`.
pub(crate) async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    if path
        .split('/')
        .any(|part| part == ".." || part.starts_with('.'))
    {
        return not_found();
    }
    let (contents, gzipped) = match DIST.get_file(path) {
        Some(file) => (file.contents(), false),
        None => match DIST.get_file(format!("{path}.gz")) {
            Some(file) => (file.contents(), true),
            None => return not_found(),
        },
    };
    let send_gzipped = gzipped && accepts_gzip(headers);
    let etag = format!("\"{DIGEST}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        if send_gzipped || !gzipped {
            contents.into_response()
        } else {
            let mut plain = Vec::new();
            if flate2::read::GzDecoder::new(contents)
                .read_to_end(&mut plain)
                .is_err()
            {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            plain.into_response()
        }
    };
    let headers = response.headers_mut();
    if gzipped {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if send_gzipped {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// Whether the request's `Accept-Encoding` takes gzip (and not at q=0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|parameter| {
                parameter
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(accept_encoding: Option<&str>) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(value) = accept_encoding {
            headers.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
        }
        serve("index.html", &headers)
    }

    async fn body(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn pages_go_gzipped_to_clients_that_take_gzip_and_plain_to_others() {
        let gzipped = get(Some("br, gzip;q=0.8"));
        assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gzipped.headers()[header::VARY], "accept-encoding");
        let mut page = String::new();
        flate2::read::GzDecoder::new(body(gzipped).await.as_slice())
            .read_to_string(&mut page)
            .unwrap();
        assert!(page.contains("<title>Switchyard</title>"), "{page}");
        for refused in [None, Some("identity"), Some("gzip;q=0")] {
            let plain = get(refused);
            assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
            assert_eq!(
                String::from_utf8(body(plain).await).unwrap(),
                page,
                "{refused:?}"
            );
        }
        assert!(accepts_gzip(&{
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("*"));
            headers
        }));
        assert_eq!(
            serve("../x", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }
}
