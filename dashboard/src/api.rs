//! Calls to the gateway's REST API (`/api/v1`) with the browser's `fetch`. Errors carry the HTTP status and the
//! gateway's `{"error": "..."}` text, so a view can say what went wrong, and can tell "this gateway does not offer
//! that yet" (404 / 405) from a refusal.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

/// A failed API call.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status; 0 when the request did not reach the gateway.
    pub status: u16,
    pub message: String,
}

impl ApiError {
    /// The endpoint does not exist on this gateway.
    pub fn is_missing(&self) -> bool {
        matches!(self.status, 404 | 405 | 501)
    }

    fn network(what: &str) -> ApiError {
        ApiError {
            status: 0,
            message: what.to_string(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.status == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "HTTP {}: {}", self.status, self.message)
        }
    }
}

/// `/api/v1{path}`, passing on the page's `token` query parameter.
pub fn url(path: &str) -> String {
    let token = leptos::prelude::window()
        .location()
        .search()
        .ok()
        .and_then(|s| web_sys::UrlSearchParams::new_with_str(&s).ok())
        .and_then(|p| p.get("token"))
        .filter(|t| !t.is_empty());
    match token {
        Some(t) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!(
                "/api/v1{path}{sep}token={}",
                String::from(js_sys::encode_uri_component(&t))
            )
        }
        None => format!("/api/v1{path}"),
    }
}

/// Percent-encodes one path segment (ids are arbitrary Unicode).
pub fn seg(id: &str) -> String {
    String::from(js_sys::encode_uri_component(id))
}

async fn call(method: &str, path: &str, body: Option<String>) -> Result<String, ApiError> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = &body {
        init.set_body(&wasm_bindgen::JsValue::from_str(body));
    }
    let request = Request::new_with_str_and_init(&url(path), &init)
        .map_err(|_| ApiError::network("bad request"))?;
    let headers = request.headers();
    let _ = headers.set("Accept", "application/json");
    if body.is_some() {
        let _ = headers.set("Content-Type", "application/json");
    }
    let response = JsFuture::from(leptos::prelude::window().fetch_with_request(&request))
        .await
        .map_err(|_| ApiError::network("gateway unreachable"))?;
    let response: Response = response
        .dyn_into()
        .map_err(|_| ApiError::network("no response"))?;
    let text = match response.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    if response.ok() {
        Ok(text)
    } else {
        let message = serde_json::from_str::<hall_protocol::api::ApiError>(&text)
            .map(|e| e.error)
            .unwrap_or_else(|_| {
                if text.trim().is_empty() {
                    response.status_text()
                } else {
                    text.chars().take(200).collect()
                }
            });
        Err(ApiError {
            status: response.status(),
            message,
        })
    }
}

fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError {
        status: 0,
        message: format!("unreadable answer: {e}"),
    })
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    parse(&call("GET", path, None).await?)
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let body = serde_json::to_string(body).map_err(|e| ApiError::network(&e.to_string()))?;
    parse(&call("POST", path, Some(body)).await?)
}

/// A POST or DELETE whose answer is not needed.
pub async fn send<B: Serialize>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<(), ApiError> {
    let body = match body {
        Some(b) => Some(serde_json::to_string(b).map_err(|e| ApiError::network(&e.to_string()))?),
        None => None,
    };
    call(method, path, body).await.map(|_| ())
}
