//! Routing, authentication, body limits and the evaluate endpoint.

#![allow(unused_imports)]
use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EvaluateRequest {
    pub(super) text: String,
    pub(super) endpoint: Option<String>,
    pub(super) direction: Option<String>,
}

pub(super) type Answer = Response<Full<Bytes>>;

pub(super) fn json_response(status: StatusCode, body: serde_json::Value) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Answer {
    json_response(status, json!({ "error": message.into() }))
}

/// Every route: its path, the one method it answers, and its name in the metrics.
pub(super) const ROUTES: [(&str, Method, &str); 6] = [
    ("/health", Method::GET, "health"),
    ("/ready", Method::GET, "ready"),
    ("/version", Method::GET, "version"),
    ("/metrics", Method::GET, "metrics"),
    ("/v1/evaluate", Method::POST, "evaluate"),
    ("/v1/audit/head", Method::GET, "audit_head"),
];

pub(super) async fn handle(state: &State, request: Request<Incoming>) -> Answer {
    let route = ROUTES
        .iter()
        .find(|(path, _, _)| *path == request.uri().path());
    let response = route_request(state, request, route).await;
    let name = route.map_or("other", |(_, _, name)| name);
    state.metrics.request(name, response.status().as_u16());
    response
}

pub(super) async fn route_request(
    state: &State,
    request: Request<Incoming>,
    route: Option<&(&str, Method, &str)>,
) -> Answer {
    let limit = state.limits.max_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large(limit);
    }
    let Some((_, method, name)) = route else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    if request.method() != method {
        return error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    match *name {
        // Liveness: the process answers. Readiness: it can decide and log now.
        "health" => json_response(StatusCode::OK, json!({ "status": "ok" })),
        "ready" => match state.audit.readiness() {
            Readiness::Ready => json_response(StatusCode::OK, json!({ "status": "ready" })),
            Readiness::NoSpace(reason) | Readiness::Stopped(reason) => json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "not ready", "reason": reason }),
            ),
        },
        "version" => json_response(StatusCode::OK, json!(BUILD_INFO)),
        "metrics" => {
            let mut response = Response::new(Full::new(Bytes::from(state.metrics.encode())));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(metrics::CONTENT_TYPE),
            );
            response
        }
        "evaluate" => evaluate(state, request).await,
        "audit_head" if !authorized(state, &request) => unauthorized(),
        "audit_head" => json_response(StatusCode::OK, json!(state.audit.head())),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

pub(super) fn authorized(state: &State, request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get_all(AUTHORIZATION)
        .iter()
        .any(|value| constant_time_eq(value.as_bytes(), &state.expected_authorization))
}

pub(super) fn unauthorized() -> Answer {
    error(StatusCode::UNAUTHORIZED, "missing or wrong bearer API key")
}

/// 413, and the connection closes: the rest of the body is never read.
pub(super) fn too_large(limit: usize) -> Answer {
    let mut response = error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body is larger than {limit} bytes"),
    );
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

pub(super) async fn evaluate(state: &State, request: Request<Incoming>) -> Answer {
    if !authorized(state, &request) {
        return unauthorized();
    }
    let limit = state.limits.max_body_bytes;
    let body = Limited::new(request.into_body(), limit);
    let body = match tokio::time::timeout(state.limits.body_timeout, body.collect()).await {
        Err(_) => return error(StatusCode::REQUEST_TIMEOUT, "the body took too long"),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => return too_large(limit),
        Ok(Err(err)) => return error(StatusCode::BAD_REQUEST, format!("cannot read body: {err}")),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let parsed: EvaluateRequest = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(err) => return error(StatusCode::BAD_REQUEST, format!("malformed JSON: {err}")),
    };
    let evaluation = state.rules.evaluate(&parsed.text, state.shadow);
    let info = RequestInfo {
        time_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as u64)
            .unwrap_or(0),
        endpoint: parsed.endpoint,
        direction: parsed.direction,
    };
    let pending = Pending::new(&state.audit_key, info, &parsed.text, evaluation.clone());
    match state.audit.append(pending).await {
        Ok(record) => {
            state.metrics.decision(&evaluation);
            json_response(
                StatusCode::OK,
                json!({
                "decision": evaluation.decision,
                "rules_decision": evaluation.rules_decision,
                "shadow": evaluation.shadow,
                "matches": evaluation.matches,
                "audit_seq": record.seq,
                }),
            )
        }
        Err(AppendError::Unavailable(message)) => {
            eprintln!("jimini-server: {message}");
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log has no space: try again later",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
            response
        }
        Err(AppendError::Failed(message)) => {
            eprintln!("jimini-server: {message}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "audit log unavailable")
        }
    }
}

/// What a client is told to wait when the audit log is out of space.
const RETRY_AFTER_SECONDS: &str = "5";

/// Compares without an early exit, so the response time does not leak how much of a key matched.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
