//! The HTTP surface: routes, path normalisation, the API-key layer, and
//! JSON errors for everything that does not match. Handlers are thin: they
//! parse, pick the provider, and hand over to [`crate::upstream`].

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Extension, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};
use switchyard_store::now_millis;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::auth::{CallerKey, require_api_key};
use crate::extract::{
    AnthropicClient, BodyRejection, ClientDialect, GeminiClient, JsonBody, OllamaClient,
    OpenAiChatClient, ResponsesClient,
};
use crate::guard::{self, MAX_BODY_BYTES};
use crate::request_log::PendingRecord;
use crate::routing::{Candidate, Plan, PlanStep, RoutingConfig};
use crate::upload::Upload;
use crate::upstream::{self, IncomingChat};
use crate::{ApiError, RouterState};
use switchyard_config::capabilities::{Capability, capabilities};
use switchyard_protocol::Dialect;
use switchyard_protocol::embeddings::EmbeddingShape;

/// The router with every route and layer except path normalisation;
/// `extra` routes (the dashboard) are served beside the gateway's own,
/// behind the same `Host` and `Origin` checks.
pub fn router(state: RouterState, extra: Option<Router>) -> Router {
    let authenticated = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/messages", post(messages))
        .route("/v1/responses", post(responses))
        .route("/v1/responses/compact", post(compact_responses))
        .route("/codex/responses/compact", post(compact_responses))
        .route("/codex/responses", post(responses))
        .route("/codex/v1/responses", post(responses))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/v1beta/models", get(list_gemini_models))
        .route(
            "/v1beta/models/{*target}",
            post(gemini_generate).get(gemini_model),
        )
        // google-genai 3 calls Gemini's v1 paths by default; OpenAI and
        // Anthropic clients read one model at `GET /v1/models/{id}`.
        .route(
            "/v1/models/{*target}",
            post(gemini_generate).get(model_info),
        )
        .route("/api/chat", post(ollama_chat))
        .route("/v1/api/chat", post(ollama_chat))
        .route(
            "/v1/embeddings",
            embeddings_route::<OpenAiChatClient>(EmbeddingShape::OpenAi),
        )
        .route(
            "/api/embed",
            embeddings_route::<OllamaClient>(EmbeddingShape::Ollama),
        )
        .route(
            "/v1/api/embed",
            embeddings_route::<OllamaClient>(EmbeddingShape::Ollama),
        )
        .route(
            "/api/embeddings",
            embeddings_route::<OllamaClient>(EmbeddingShape::OllamaLegacy),
        )
        .route("/api/tags", get(ollama_tags))
        .route("/v1/api/tags", get(ollama_tags))
        .route("/v1/models", get(list_models));
    let authenticated = OPENAI_ENDPOINTS
        .iter()
        .fold(authenticated, |router, endpoint| {
            router.route(endpoint.client_path, openai_route(*endpoint))
        })
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            guard::read_body_in_time,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ));
    // Uploads are read as they arrive (spooled), not whole into memory.
    let uploads = UPLOAD_ENDPOINTS
        .iter()
        .fold(Router::new(), |router, endpoint| {
            router.route(endpoint.client_path, upload_route(*endpoint))
        })
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_api_key,
        ));
    let authenticated = authenticated.merge(uploads);
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(guard::cors_allows))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(std::time::Duration::from_secs(600));
    let mut routes = Router::new()
        // Claude Code probes its base URL with `HEAD /`.
        .route("/", get(live))
        .route("/health/live", get(live))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/version", get(ollama_version))
        .merge(authenticated)
        .with_state(state.clone());
    if let Some(extra) = extra {
        routes = routes.merge(extra);
    }
    routes
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::check_host_and_origin,
        ))
        .layer(middleware::from_fn(log_request))
        .layer(CatchPanicLayer::custom(|_panic| {
            ApiError::internal("the gateway hit an internal error; details are in its log")
                .into_response()
        }))
}

/// Collapses a doubled `/v1/v1/...` (a base URL that already ended in `/v1`
/// plus a client that appends `/v1`) to `/v1/...`.
pub(crate) fn normalize_path(mut request: Request) -> Request {
    let path = request.uri().path();
    if !path.starts_with("/v1/v1") {
        return request;
    }
    let mut trimmed = path;
    while let Some(rest) = trimmed.strip_prefix("/v1/v1") {
        if !(rest.is_empty() || rest.starts_with('/')) {
            break;
        }
        trimmed = &trimmed[3..];
    }
    let rewritten = match request.uri().query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    if let Ok(path_and_query) = rewritten.parse() {
        let mut parts = request.uri().clone().into_parts();
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

async fn log_request(request: Request, next: middleware::Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// `GET /metrics`: Prometheus' text format, with the metrics token as a
/// Bearer token; 404 while no token exists (metrics are off).
async fn metrics(State(state): State<RouterState>, headers: HeaderMap) -> Response {
    let config = match state.config() {
        Ok(config) => config,
        Err(error) => return error.into_response(),
    };
    let Some(expected) = &config.metrics_token else {
        return ApiError::unknown_route(
            StatusCode::NOT_FOUND,
            "GET",
            "/metrics (metrics are off: `switchyard metrics enable` makes their token)",
        )
        .into_response();
    };
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| switchyard_store::hash_api_key(token.trim()));
    if presented.as_deref() != Some(expected.as_str()) {
        return ApiError::unauthorized("send the metrics token as 'Authorization: Bearer <token>'")
            .into_response();
    }
    let text = state.metrics.render(&config, &state.health);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `GET /health/live` (and `/`): the process answers; reads nothing.
async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /health`: version, uptime, the database (engine, address without
/// password, whether it answers, usage records waiting for it) and each
/// provider's state, for load balancers and container health checks. `status` is `ok`, or `degraded`
/// when no enabled provider has an account ready; a database that cannot
/// be read is a 503.
async fn health(State(state): State<RouterState>) -> Response {
    let config = match state.config() {
        Ok(config) => config,
        Err(_) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "error", "message": "the database cannot be read" })),
            )
                .into_response();
        }
    };
    let now = now_millis();
    let mut providers: Vec<_> = config.providers.values().collect();
    providers.sort_by(|a, b| a.provider.name.cmp(&b.provider.name));
    let mut any_ready = false;
    let listed: Vec<Value> = providers
        .into_iter()
        .map(|entry| {
            let ready = entry
                .accounts
                .iter()
                .filter(|account| {
                    account.enabled
                        && !account.needs_login
                        && config
                            .cooldown(account.id, "")
                            .is_none_or(|cooldown| cooldown.until <= now)
                })
                .count();
            let breaker_open = state.health.breaker_open(entry.provider.id);
            let state_name = if !entry.provider.enabled {
                "disabled"
            } else if breaker_open {
                "failing"
            } else if ready == 0 {
                "unavailable"
            } else {
                any_ready = true;
                "ok"
            };
            json!({
                "name": entry.provider.name,
                "prefix": entry.provider.prefix,
                "state": state_name,
                "accounts": entry.accounts.len(),
                "ready_accounts": ready,
            })
        })
        .collect();
    let status = if any_ready || listed.is_empty() {
        "ok"
    } else {
        "degraded"
    };
    let (database, reachable) = state.with_store(|store| (store.database(), store.reachable()));
    Json(json!({
        "status": status,
        "version": &*state.version,
        "uptime_secs": state.started.elapsed().as_secs(),
        "database": {
            "engine": database.engine,
            "location": database.location,
            "reachable": reachable,
            "usage_waiting": state.usage.queued(),
        },
        "providers": listed,
    }))
    .into_response()
}

async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::unknown_route(StatusCode::NOT_FOUND, method.as_str(), uri.path())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::unknown_route(StatusCode::METHOD_NOT_ALLOWED, method.as_str(), uri.path())
}

/// `GET /v1/models`: combos, aliases and every model of every enabled
/// provider as `prefix/model`.
async fn list_models(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
) -> Result<Json<Value>, ApiError> {
    let data: Vec<Value> = known_models(&state, &caller)?
        .into_iter()
        .map(|(id, created, owned_by)| {
            // What the model can do (combos and aliases: what their name says).
            let can: Vec<&str> = capabilities(&id)
                .listed
                .iter()
                .map(|capability| capability.as_str())
                .collect();
            json!({"id": id, "object": "model", "created": created, "owned_by": owned_by, "capabilities": can})
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}

/// `GET /v1beta/models`: every model of every enabled provider, Gemini-style.
async fn list_gemini_models(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
) -> Response {
    let providers = match providers_by_name(&state) {
        Ok(providers) => providers,
        Err(error) => return error.into_response_for(Dialect::Gemini),
    };
    let models: Vec<Value> = providers
        .iter()
        .filter(|provider| provider.enabled)
        .flat_map(|provider| {
            provider
                .models
                .iter()
                .map(|model| format!("{}/{model}", provider.prefix))
                .filter(|id| caller.allows(id))
                .map(|id| {
                    let model = id.split_once('/').map_or(id.as_str(), |(_, model)| model);
                    json!({
                        "name": format!("models/{id}"),
                        "baseModelId": id,
                        "displayName": id,
                        "description": format!("{model} via {}", provider.name),
                        "supportedGenerationMethods": ["generateContent", "streamGenerateContent"],
                    })
                })
        })
        .collect();
    Json(json!({ "models": models })).into_response()
}

/// `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent`,
/// `:countTokens`, `:embedContent` and `:batchEmbedContents`.
async fn gemini_generate(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    target: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<JsonBody<GeminiClient>, BodyRejection<GeminiClient>>,
) -> Response {
    let pending = PendingRecord::new(&state, "/v1beta/models", &caller, Dialect::Gemini);
    let target = match target {
        Ok(Path(target)) => target,
        Err(rejection) => return pending.fail(path_error(&rejection)),
    };
    let Some((model, action)) = target.rsplit_once(':') else {
        return pending.fail(ApiError::unknown_route(
            StatusCode::NOT_FOUND,
            "POST",
            &format!("/v1beta/models/{target}"),
        ));
    };
    let (stream, routed) = match action {
        "generateContent" => (false, Routed::Chat),
        "streamGenerateContent" => (true, Routed::Chat),
        "embedContent" | "batchEmbedContents" => {
            let batch = action == "batchEmbedContents";
            let shape = EmbeddingShape::of_client(Dialect::Gemini, batch);
            (false, Routed::Embeddings(shape))
        }
        "countTokens" => {
            let model = model.strip_prefix("models/").unwrap_or(model);
            return gemini_count_tokens(&state, &caller, model, body, pending).await;
        }
        _ => {
            return pending.fail(ApiError::unknown_route(
                StatusCode::NOT_FOUND,
                "POST",
                &format!("/v1beta/models/{target}"),
            ));
        }
    };
    let model = model.strip_prefix("models/").unwrap_or(model).to_owned();
    let body = match body {
        Ok(JsonBody(body, _)) => body,
        Err(rejection) => return pending.fail(rejection.0),
    };
    let incoming = match IncomingChat::parse_with_model(&body, model, stream) {
        Ok(incoming) => incoming,
        Err(error) => return pending.fail(error),
    };
    route(&state, &caller.config, pending, &headers, incoming, routed).await
}

/// `POST /v1beta/models/{model}:countTokens` (Gemini).
async fn gemini_count_tokens(
    state: &RouterState,
    caller: &CallerKey,
    model: &str,
    body: Result<JsonBody<GeminiClient>, BodyRejection<GeminiClient>>,
    pending: PendingRecord,
) -> Response {
    // Counting is not a request to record.
    drop(pending);
    let dialect = Dialect::Gemini;
    let body = match body {
        Ok(JsonBody(body, _)) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let incoming = match IncomingChat::parse_with_model(&body, model.to_owned(), false) {
        Ok(incoming) => incoming,
        Err(error) => return error.into_response_for(dialect),
    };
    // An unknown model can still be counted locally.
    let candidate = first_candidate_in(state, &caller.config, model).ok();
    match upstream::gemini_count_tokens(state, &caller.config, candidate, &incoming).await {
        Ok(counted) => Json(counted).into_response(),
        Err(error) => error.into_response_for(dialect),
    }
}

/// A path that could not be read (not UTF-8 once decoded), as a 400.
fn path_error(rejection: &PathRejection) -> ApiError {
    ApiError::bad_request("invalid_path", rejection.body_text())
}

/// Every provider of the routing snapshot, by name (the database's order).
fn providers_by_name(state: &RouterState) -> Result<Vec<switchyard_store::Provider>, ApiError> {
    let config = state.config()?;
    let mut providers: Vec<switchyard_store::Provider> = config
        .providers
        .values()
        .map(|entry| entry.provider.clone())
        .collect();
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(providers)
}

/// Every model a client may name, as `(id, created, owner)`: combos, aliases
/// and each enabled provider's `prefix/model`.
fn known_models(
    state: &RouterState,
    caller: &CallerKey,
) -> Result<Vec<(String, i64, String)>, ApiError> {
    // From the routing snapshot, in the database's order (by name).
    let providers = providers_by_name(state)?;
    let config = state.config()?;
    let mut combos: Vec<_> = config.combos.values().cloned().collect();
    combos.sort_by(|a, b| a.name.cmp(&b.name));
    let mut aliases: Vec<_> = config.aliases.values().cloned().collect();
    aliases.sort_by(|a, b| a.name.cmp(&b.name));
    let combos = combos.into_iter().map(|combo| {
        (
            combo.name,
            combo.created_at / 1000,
            "switchyard-combo".to_owned(),
        )
    });
    let aliases = aliases.into_iter().map(|alias| {
        (
            alias.name,
            alias.created_at / 1000,
            "switchyard-alias".to_owned(),
        )
    });
    let models = providers
        .into_iter()
        .filter(|provider| provider.enabled)
        .flat_map(|provider| {
            provider
                .models
                .iter()
                .map(|model| {
                    (
                        format!("{}/{model}", provider.prefix),
                        provider.created_at / 1000,
                        provider.name.clone(),
                    )
                })
                .collect::<Vec<_>>()
        });
    Ok(combos
        .chain(aliases)
        .chain(models)
        .filter(|(id, ..)| caller.allows(id))
        .collect())
}

/// `GET /v1/models/{id}`: one model, in Anthropic's shape when the client
/// sends `anthropic-version`, else OpenAI's.
async fn model_info(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let anthropic = headers.contains_key("anthropic-version");
    let dialect = if anthropic {
        Dialect::AnthropicMessages
    } else {
        Dialect::OpenAiChat
    };
    let id = match id {
        Ok(Path(id)) => id,
        Err(rejection) => return path_error(&rejection).into_response_for(dialect),
    };
    // google-genai reads Gemini's v1 path with its own key header.
    if headers.contains_key("x-goog-api-key") || id.starts_with("models/") {
        return gemini_model(State(state), Extension(caller), Ok(Path(id))).await;
    }
    let models = match known_models(&state, &caller) {
        Ok(models) => models,
        Err(error) => return error.into_response_for(dialect),
    };
    let Some((id, created, owner)) = models.into_iter().find(|(known, ..)| *known == id) else {
        return ApiError::model_not_found(format!(
            "the model {id:?} does not exist (list them with GET /v1/models)"
        ))
        .into_response_for(dialect);
    };
    let body = if anthropic {
        let created_at = jiff::Timestamp::from_second(created)
            .map(|at| at.to_string())
            .unwrap_or_default();
        json!({"type": "model", "id": id, "display_name": id, "created_at": created_at})
    } else {
        json!({"id": id, "object": "model", "created": created, "owned_by": owner})
    };
    Json(body).into_response()
}

/// `GET /v1beta/models/{model}`: one model, Gemini-style.
async fn gemini_model(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    let name = match name {
        Ok(Path(name)) => name,
        Err(rejection) => return path_error(&rejection).into_response_for(Dialect::Gemini),
    };
    let id = name.strip_prefix("models/").unwrap_or(&name);
    let models = match known_models(&state, &caller) {
        Ok(models) => models,
        Err(error) => return error.into_response_for(Dialect::Gemini),
    };
    match models.into_iter().find(|(known, ..)| known == id) {
        Some((id, _, owner)) => Json(json!({
            "name": format!("models/{id}"),
            "baseModelId": id,
            "displayName": id,
            "description": format!("{id} via {owner}"),
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
        }))
        .into_response(),
        None => ApiError::model_not_found(format!("the model {id:?} does not exist"))
            .into_response_for(Dialect::Gemini),
    }
}

/// `GET /api/version`: what Ollama clients check first.
async fn ollama_version() -> Json<Value> {
    Json(json!({ "version": "0.12.0" }))
}

/// `GET /api/tags`: every model of every enabled provider, Ollama-style.
async fn ollama_tags(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
) -> Response {
    let providers = match providers_by_name(&state) {
        Ok(providers) => providers,
        Err(error) => return error.into_response_for(Dialect::Ollama),
    };
    let models: Vec<Value> = providers
        .iter()
        .filter(|provider| provider.enabled)
        .flat_map(|provider| {
            let modified_at = switchyard_protocol::dialect::rfc3339(
                std::time::UNIX_EPOCH
                    + std::time::Duration::from_millis(provider.created_at.max(0) as u64),
            );
            let caller = caller.clone();
            provider
                .models
                .iter()
                .map(move |model| format!("{}/{model}", provider.prefix))
                .filter(move |id| caller.allows(id))
                .map(move |id| {
                    json!({
                        "name": id,
                        "model": id,
                        "modified_at": modified_at,
                        "size": 0,
                        "digest": "",
                        "details": {
                            "parent_model": "",
                            "format": "remote",
                            "family": provider.name,
                            "families": null,
                            "parameter_size": "",
                            "quantization_level": "",
                        },
                    })
                })
        })
        .collect();
    Json(json!({ "models": models })).into_response()
}

/// `POST /api/chat` and `/v1/api/chat` (Ollama).
async fn ollama_chat(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    headers: HeaderMap,
    body: Result<JsonBody<OllamaClient>, BodyRejection<OllamaClient>>,
) -> Response {
    let pending = PendingRecord::new(&state, "/api/chat", &caller, Dialect::Ollama);
    let body = match body {
        Ok(JsonBody(body, _)) => body,
        Err(rejection) => return pending.fail(rejection.0),
    };
    let mut incoming = match IncomingChat::parse(&body) {
        Ok(incoming) => incoming,
        Err(error) => return pending.fail(error),
    };
    incoming.stream_unless_told();
    route_chat(&state, &caller.config, pending, &headers, incoming).await
}

/// `POST /v1/messages/count_tokens` (Anthropic): never an error for a valid request.
async fn count_tokens(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    headers: HeaderMap,
    JsonBody(body, _): JsonBody<AnthropicClient>,
) -> Response {
    let dialect = Dialect::AnthropicMessages;
    let incoming = match IncomingChat::parse(&body) {
        Ok(incoming) => incoming,
        Err(error) => return error.into_response_for(dialect),
    };
    // An unknown model can still be counted locally.
    let candidate = first_candidate_in(&state, &caller.config, &incoming.model).ok();
    match upstream::count_tokens(&state, &caller.config, candidate, incoming, &headers).await {
        Ok(counted) => Json(counted).into_response(),
        Err(error) => error.into_response_for(dialect),
    }
}

/// An OpenAI endpoint besides chat that takes a JSON body naming a model:
/// where clients send it and the path at an OpenAI-compatible provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenAiEndpoint {
    client_path: &'static str,
    provider_path: &'static str,
    /// Whether `"stream": true` can be relayed (not yet for any of these).
    streams: bool,
}

/// OpenAI's JSON endpoints besides chat, served through [`openai_endpoint`].
const OPENAI_ENDPOINTS: &[OpenAiEndpoint] = &[
    // The legacy text completions, streamed or not.
    OpenAiEndpoint {
        client_path: "/v1/completions",
        provider_path: "/completions",
        streams: true,
    },
    OpenAiEndpoint {
        client_path: "/v1/moderations",
        provider_path: "/moderations",
        streams: false,
    },
    // JSON in, JSON with URLs or base64 out.
    OpenAiEndpoint {
        client_path: "/v1/images/generations",
        provider_path: "/images/generations",
        streams: false,
    },
    // JSON in, audio bytes out (within the body limit).
    OpenAiEndpoint {
        client_path: "/v1/audio/speech",
        provider_path: "/audio/speech",
        streams: false,
    },
    // The Cohere/Jina shape: model, query, documents.
    OpenAiEndpoint {
        client_path: "/v1/rerank",
        provider_path: "/rerank",
        streams: false,
    },
];

/// OpenAI's multipart endpoints, served through [`upload_endpoint`]: the
/// same fields as JSON ones, with files.
const UPLOAD_ENDPOINTS: &[OpenAiEndpoint] = &[
    OpenAiEndpoint {
        client_path: "/v1/images/edits",
        provider_path: "/images/edits",
        streams: false,
    },
    // Streamed as events when the model can (`stream=true`).
    OpenAiEndpoint {
        client_path: "/v1/audio/transcriptions",
        provider_path: "/audio/transcriptions",
        streams: true,
    },
    OpenAiEndpoint {
        client_path: "/v1/audio/translations",
        provider_path: "/audio/translations",
        streams: false,
    },
];

/// The `POST` handler of the multipart `endpoint`.
fn upload_route(endpoint: OpenAiEndpoint) -> axum::routing::MethodRouter<RouterState> {
    post(
        move |state: State<RouterState>, caller: Extension<CallerKey>, request: Request| {
            upload_endpoint(state, caller, request, endpoint)
        },
    )
}

/// Reads a multipart upload (spooled, within the `max_upload_bytes`
/// setting, the client idle at most `request_read_timeout_secs`) and routes
/// it by its `model` field as [`openai_endpoint`] routes JSON.
async fn upload_endpoint(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    request: Request,
    endpoint: OpenAiEndpoint,
) -> Response {
    let pending = PendingRecord::new(&state, endpoint.client_path, &caller, Dialect::OpenAiChat);
    let (parts, body) = request.into_parts();
    let settings = &caller.config.settings;
    let read = Upload::read(
        crate::upload::content_type(&parts.headers),
        body,
        settings.max_upload_bytes,
        settings.request_read_timeout,
    )
    .await;
    let incoming = match read.and_then(IncomingChat::from_upload) {
        Ok(incoming) => incoming,
        // What is left unread makes the connection unusable.
        Err(error) => return guard::closing(pending.fail(error)),
    };
    if incoming.stream && !endpoint.streams {
        return pending.fail(ApiError::bad_request(
            "unsupported_value",
            format!(
                "streaming is not supported on {}; send stream=false",
                endpoint.client_path
            ),
        ));
    }
    route(
        &state,
        &caller.config,
        pending,
        &parts.headers,
        incoming,
        Routed::OpenAi(endpoint.provider_path),
    )
    .await
}

/// The `POST` handler of `endpoint`.
fn openai_route(endpoint: OpenAiEndpoint) -> axum::routing::MethodRouter<RouterState> {
    post(
        move |state: State<RouterState>,
              caller: Extension<CallerKey>,
              headers: HeaderMap,
              body: Result<JsonBody<OpenAiChatClient>, BodyRejection<OpenAiChatClient>>| {
            openai_endpoint(state, caller, headers, body, endpoint)
        },
    )
}

/// The `POST` handler of embeddings in a client's `shape`, its body read
/// as `D`'s JSON (size, content type, errors in `D`'s shape).
fn embeddings_route<D: ClientDialect>(
    shape: EmbeddingShape,
) -> axum::routing::MethodRouter<RouterState> {
    post(
        move |state: State<RouterState>,
              caller: Extension<CallerKey>,
              headers: HeaderMap,
              body: Result<JsonBody<D>, BodyRejection<D>>| {
            let body = body
                .map(|JsonBody(body, _)| body)
                .map_err(|rejection| rejection.0);
            embeddings_endpoint(state, caller, headers, body, shape)
        },
    )
}

/// Routes an embeddings request (OpenAI's or Ollama's, model in the body)
/// along the plan of its model: passed through or translated per target,
/// with fallback, usage, cost, the request log and key policies.
async fn embeddings_endpoint(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    headers: HeaderMap,
    body: Result<Bytes, ApiError>,
    shape: EmbeddingShape,
) -> Response {
    let (path, dialect) = match shape {
        EmbeddingShape::Ollama => ("/api/embed", Dialect::Ollama),
        EmbeddingShape::OllamaLegacy => ("/api/embeddings", Dialect::Ollama),
        _ => ("/v1/embeddings", Dialect::OpenAiChat),
    };
    let pending = PendingRecord::new(&state, path, &caller, dialect);
    let body = match body {
        Ok(body) => body,
        Err(error) => return pending.fail(error),
    };
    let incoming = match IncomingChat::parse(&body) {
        Ok(incoming) => incoming,
        Err(error) => return pending.fail(error),
    };
    if incoming.stream {
        return pending.fail(ApiError::bad_request(
            "unsupported_value",
            "embeddings are not streamed; send \"stream\": false",
        ));
    }
    route(
        &state,
        &caller.config,
        pending,
        &headers,
        incoming,
        Routed::Embeddings(shape),
    )
    .await
}

/// Routes a JSON request for `endpoint` along the plan of the model it
/// names, to OpenAI-compatible providers (with fallback, usage, cost, the
/// request log and key policies, as chat requests).
async fn openai_endpoint(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    headers: HeaderMap,
    body: Result<JsonBody<OpenAiChatClient>, BodyRejection<OpenAiChatClient>>,
    endpoint: OpenAiEndpoint,
) -> Response {
    let pending = PendingRecord::new(&state, endpoint.client_path, &caller, Dialect::OpenAiChat);
    let body = match body {
        Ok(JsonBody(body, _)) => body,
        Err(rejection) => return pending.fail(rejection.0),
    };
    let incoming = match IncomingChat::parse(&body) {
        Ok(incoming) => incoming,
        Err(error) => return pending.fail(error),
    };
    if incoming.stream && !endpoint.streams {
        return pending.fail(ApiError::bad_request(
            "unsupported_value",
            format!(
                "streaming is not supported on {} here yet; send \"stream\": false",
                endpoint.client_path
            ),
        ));
    }
    route(
        &state,
        &caller.config,
        pending,
        &headers,
        incoming,
        Routed::OpenAi(endpoint.provider_path),
    )
    .await
}

/// The first account a request for `model` would go to under `config`.
fn first_candidate_in(
    state: &RouterState,
    config: &RoutingConfig,
    model: &str,
) -> Result<Candidate, ApiError> {
    let plan = state.plan(config, model)?;
    let first = plan.candidates().next().cloned();
    first.ok_or_else(|| nothing_to_try(model, &plan))
}

/// `POST /v1/chat/completions` (OpenAI Chat Completions).
async fn chat_completions(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    headers: HeaderMap,
    body: Result<JsonBody<OpenAiChatClient>, BodyRejection<OpenAiChatClient>>,
) -> Response {
    let path = "/v1/chat/completions";
    let dialect = Dialect::OpenAiChat;
    let body = body.map(|body| body.0).map_err(|rejection| rejection.0);
    handle_chat(&state, &caller, path, dialect, None, &headers, body).await
}

/// `POST /v1/responses` and Codex CLI's `/codex/responses` (OpenAI Responses).
async fn responses(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    headers: HeaderMap,
    body: Result<JsonBody<ResponsesClient>, BodyRejection<ResponsesClient>>,
) -> Response {
    let path = "/v1/responses";
    let body = body.map(|body| body.0).map_err(|rejection| rejection.0);
    handle_chat(
        &state,
        &caller,
        path,
        Dialect::OpenAiResponses,
        None,
        &headers,
        body,
    )
    .await
}

/// What the model is asked for when a client compacts its history.
const COMPACTION_PROMPT: &str = "Summarize the conversation so far for a handoff to another assistant that will continue the work: the user's goals and constraints, what was done (files, commands, decisions) and what is left to do. Be complete but concise; write only the summary.";

/// Most bytes of a compaction answer read back.
const MAX_COMPACTION_ANSWER: usize = 8 * 1024 * 1024;

/// `POST /v1/responses/compact` (Codex's remote compaction): the history in
/// `input` summarised by the requested model, through the normal routing
/// path (any provider, translated as needed), and answered as Responses
/// `output` items that replace the history: one user message with the
/// summary.
async fn compact_responses(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    headers: HeaderMap,
    JsonBody(body, _): JsonBody<ResponsesClient>,
) -> Response {
    let dialect = Dialect::OpenAiResponses;
    let Ok(Value::Object(mut request)) = serde_json::from_slice::<Value>(&body) else {
        return ApiError::bad_request("invalid_json", "the request body must be a JSON object")
            .into_response_for(dialect);
    };
    let mut input = match request.remove("input") {
        Some(Value::Array(items)) => items,
        Some(Value::String(text)) => {
            vec![
                json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}),
            ]
        }
        _ => {
            return ApiError::bad_request("missing_field", "'input' is required")
                .into_response_for(dialect);
        }
    };
    input.push(json!({"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": COMPACTION_PROMPT}]}));
    let mut summarize = serde_json::Map::new();
    for field in ["model", "instructions", "reasoning"] {
        if let Some(value) = request.remove(field) {
            summarize.insert(field.into(), value);
        }
    }
    summarize.insert("input".into(), Value::Array(input));
    summarize.insert("stream".into(), Value::Bool(false));
    summarize.insert("store".into(), Value::Bool(false));
    let summarize = Bytes::from(Value::Object(summarize).to_string());
    let incoming = match IncomingChat::parse(&summarize) {
        Ok(incoming) => incoming,
        Err(error) => return error.into_response_for(dialect),
    };
    let pending = PendingRecord::new(&state, "/v1/responses/compact", &caller, dialect);
    let answer = route_chat(&state, &caller.config, pending, &headers, incoming).await;
    if answer.status() != StatusCode::OK {
        return answer;
    }
    let answer = match axum::body::to_bytes(answer.into_body(), MAX_COMPACTION_ANSWER).await {
        Ok(answer) => answer,
        Err(_) => {
            return ApiError::upstream_unreachable("the summary could not be read")
                .into_response_for(dialect);
        }
    };
    let summary: String = serde_json::from_slice::<Value>(&answer)
        .ok()
        .and_then(|answer| answer["output"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|part| part["text"].as_str().map(str::to_owned))
        .collect();
    if summary.trim().is_empty() {
        return ApiError::upstream_unreachable("the model answered the compaction with no text")
            .into_response_for(dialect);
    }
    Json(json!({
        "object": "response.compaction",
        "output": [{
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": summary}],
        }],
    }))
    .into_response()
}

/// `POST /v1/messages` (Anthropic Messages).
async fn messages(
    State(state): State<RouterState>,
    Extension(caller): Extension<CallerKey>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<JsonBody<AnthropicClient>, BodyRejection<AnthropicClient>>,
) -> Response {
    let path = "/v1/messages";
    let dialect = Dialect::AnthropicMessages;
    let body = body.map(|body| body.0).map_err(|rejection| rejection.0);
    handle_chat(&state, &caller, path, dialect, uri.query(), &headers, body).await
}

/// Parses, routes and forwards a chat request that came to `path` in `dialect`.
async fn handle_chat(
    state: &RouterState,
    caller: &CallerKey,
    path: &'static str,
    dialect: Dialect,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, ApiError>,
) -> Response {
    let mut pending = PendingRecord::new(state, path, caller, dialect);
    let body = match body {
        Ok(body) => body,
        Err(error) => return pending.fail(error),
    };
    pending.log_bodies_of(&caller.config, &body);
    let mut incoming = match IncomingChat::parse(&body) {
        Ok(incoming) => incoming,
        Err(error) => return pending.fail(error),
    };
    incoming.anthropic_beta = dialect == Dialect::AnthropicMessages
        && query.is_some_and(|query| query.split('&').any(|pair| pair == "beta=true"));
    route_chat(state, &caller.config, pending, headers, incoming).await
}

/// Plans where a parsed request may go and forwards it: each candidate
/// (target and account) in turn until one answers. A failure before
/// anything reached the client moves on to the next candidate.
async fn route_chat(
    state: &RouterState,
    config: &RoutingConfig,
    pending: PendingRecord,
    headers: &HeaderMap,
    incoming: IncomingChat,
) -> Response {
    route(state, config, pending, headers, incoming, Routed::Chat).await
}

/// What a routed request asks a provider for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Routed {
    /// A chat exchange in any dialect.
    Chat,
    /// An OpenAI endpoint besides chat, by its path at the provider
    /// (`/moderations`, `/images/generations`, ...).
    OpenAi(&'static str),
    /// Embeddings, asked in a client's shape.
    Embeddings(EmbeddingShape),
}

impl Routed {
    /// What the model must be able to do.
    fn needs(self) -> Capability {
        match self {
            Self::Chat | Self::OpenAi("/completions") => Capability::Chat,
            Self::Embeddings(_) => Capability::Embeddings,
            Self::OpenAi("/moderations") => Capability::Moderation,
            Self::OpenAi("/images/generations" | "/images/edits") => Capability::Images,
            Self::OpenAi("/rerank") => Capability::Rerank,
            Self::OpenAi(_) => Capability::Audio,
        }
    }
}

/// Walks the routing plan of `incoming`, trying each candidate until one
/// answers or a failure reached the client.
async fn route(
    state: &RouterState,
    config: &RoutingConfig,
    mut pending: PendingRecord,
    headers: &HeaderMap,
    incoming: IncomingChat,
    routed: Routed,
) -> Response {
    pending.record.model = incoming.model.clone();
    pending.record.stream = incoming.stream;
    pending.log_bodies_of(config, incoming.body_json());
    if routed == Routed::Chat
        && let Err(error) = incoming.check_shape(pending.dialect)
    {
        return pending.fail(error);
    }
    if let Some(policy) = &pending.policy
        && !policy.allows(&incoming.model)
    {
        let error = ApiError::model_not_allowed(format!(
            "this API key may not use {:?}; it may use: {}",
            incoming.model,
            policy.allowed_models.join(", ")
        ));
        return pending.fail(error);
    }
    if let Some(policy) = pending.policy.clone()
        && let Err(error) = state.admit_key(&policy)
    {
        return pending.fail(error);
    }
    let plan = match state.plan(config, &incoming.model) {
        Ok(plan) => plan,
        Err(error) => return pending.fail(error),
    };
    pending.record.combo = plan.combo.clone();
    // A target whose model is made for something else is left out (its
    // provider would only answer 404).
    let needs = routed.needs();
    let able = |candidate: &Candidate| capabilities(&candidate.upstream_model).allows(needs);
    let count = plan
        .candidates()
        .filter(|candidate| able(candidate))
        .count();
    let mut tried = 0;
    let mut last_error = None;
    for step in &plan.steps {
        let candidate = match step {
            PlanStep::Skip(skipped) => {
                pending.record.attempts.push(skipped.clone());
                continue;
            }
            PlanStep::Try(candidate) if !able(candidate) => {
                let why = format!(
                    "{} is not a model for {}",
                    candidate.upstream_model,
                    needs.as_str()
                );
                pending.record.attempts.push(switchyard_store::Attempt {
                    target: candidate.target.clone(),
                    provider: Some(candidate.provider_name().to_owned()),
                    account: Some(candidate.account.label.clone()),
                    status: 400,
                    latency_ms: 0,
                    error: Some(why.clone()),
                    skipped: true,
                });
                if tried == 0 {
                    last_error = Some(ApiError::bad_request(
                        "model_not_supported",
                        format!(
                            "{:?} cannot serve this request: {why} (GET /v1/models lists what each model can do)",
                            incoming.model
                        ),
                    ));
                }
                continue;
            }
            PlanStep::Try(candidate) => candidate,
        };
        tried += 1;
        let has_fallback = tried < count;
        pending.begin_attempt(candidate);
        if candidate.probe {
            tracing::info!(provider = %candidate.provider_name(), "probing a provider whose circuit breaker was open");
        }
        // Boxed: the attempt's future is large, and would otherwise be
        // copied whole each time an enclosing future moves.
        let attempt = match routed {
            Routed::Chat => {
                Box::pin(upstream::forward_chat(
                    state,
                    config,
                    candidate,
                    &incoming,
                    headers,
                    pending,
                    has_fallback,
                ))
                .await
            }
            Routed::Embeddings(shape) => {
                Box::pin(upstream::forward_embeddings(
                    state,
                    config,
                    candidate,
                    shape,
                    &incoming,
                    headers,
                    pending,
                    has_fallback,
                ))
                .await
            }
            Routed::OpenAi(path) => {
                Box::pin(upstream::forward_openai(
                    state,
                    config,
                    candidate,
                    path,
                    &incoming,
                    headers,
                    pending,
                    has_fallback,
                ))
                .await
            }
        };
        match attempt {
            Ok(response) => {
                if tried > 1 {
                    state.emit(crate::webhooks::WebhookEvent::new(
                        "fallback",
                        format!(
                            "a request for {} fell back to {} after {} failed attempt(s)",
                            incoming.model,
                            candidate.target,
                            tried - 1
                        ),
                        json!({"model": incoming.model, "served_by": candidate.target, "failed_attempts": tried - 1}),
                    ));
                }
                return response;
            }
            Err(fall_back) => {
                let (returned, failed) = *fall_back;
                tracing::info!(
                    target = %candidate.target,
                    provider = %candidate.provider_name(),
                    account = %candidate.account.label,
                    status = failed.error.status.as_u16(),
                    reason = failed.failure.describe(),
                    "falling back to the next candidate"
                );
                pending = returned;
                pending.end_attempt(
                    failed.error.status.as_u16(),
                    Some(failed.failure.describe()),
                );
                last_error = Some(failed.error);
            }
        }
    }
    pending.fail(last_error.unwrap_or_else(|| nothing_to_try(&incoming.model, &plan)))
}

/// The error when a plan has no candidate left: 429 with `Retry-After` when
/// accounts are only cooling down, 503 when providers are failing.
fn nothing_to_try(model: &str, plan: &Plan) -> ApiError {
    let reasons: Vec<String> = plan
        .skipped()
        .map(|skipped| {
            let who = match (&skipped.provider, &skipped.account) {
                (Some(provider), Some(account)) => format!("{provider}/{account}"),
                (Some(provider), None) => provider.clone(),
                _ => skipped.target.clone(),
            };
            format!(
                "{who}: {}",
                skipped.error.as_deref().unwrap_or("unavailable")
            )
        })
        .collect();
    let detail = if reasons.is_empty() {
        "it has no enabled target or account".to_owned()
    } else {
        reasons.join("; ")
    };
    // Dead credentials first: waiting does not help, and a 429 would make
    // clients retry for minutes.
    if plan.skipped().next().is_some() && plan.skipped().all(|skipped| skipped.status == 401) {
        return ApiError::credentials_refused(format!(
            "no account can serve {model:?}: {detail}. Fix the account with `switchyard account` or the dashboard's Providers page (a new key, or `switchyard connect` for a subscription)"
        ));
    }
    if let Some(retry_at) = plan.retry_at {
        let seconds = ((retry_at - now_millis()).max(0) as u64)
            .div_ceil(1000)
            .max(1);
        return ApiError {
            retry_after_secs: Some(seconds),
            ..ApiError::all_accounts_busy(format!(
                "no account can serve {model:?} right now; retry in {seconds}s ({detail})"
            ))
        };
    }
    if plan.skipped().all(|skipped| skipped.status == 404) {
        return ApiError::model_not_found(format!("no target of {model:?} exists ({detail})"));
    }
    ApiError::providers_unavailable(format!(
        "no provider can serve {model:?} right now ({detail})"
    ))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn normalized(uri: &str) -> String {
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        normalize_path(request).uri().to_string()
    }

    #[test]
    fn doubled_v1_is_collapsed() {
        assert_eq!(normalized("/v1/v1/models"), "/v1/models");
        assert_eq!(
            normalized("/v1/v1/v1/chat/completions?x=1"),
            "/v1/chat/completions?x=1"
        );
        assert_eq!(normalized("/v1/models"), "/v1/models");
        assert_eq!(normalized("/v1/v1beta/models"), "/v1/v1beta/models");
    }
}
