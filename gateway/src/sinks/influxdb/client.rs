//! The HTTP clients of the sink, behind one small trait so the sink does not care which API or library writes.
//!
//! - [`V2Client`]: `/api/v2/write` through the `influxdb2` crate (InfluxDB 2 and 3, VictoriaMetrics, ...).
//!   That crate hides response headers, so `Retry-After` is not seen on this API and 429/503 fall back to the
//!   backoff.
//! - [`V1Client`]: `/write` through `reqwest` (InfluxDB 1.x), with `Retry-After` honoured.
//!
//! Both send bodies gzip-compressed when configured, and neither ever logs a token or password.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use flate2::Compression;
use flate2::write::GzEncoder;
use hall_protocol::config::{InfluxApi, InfluxConfig};

use super::retry::{WriteResponse, parse_retry_after};

/// Environment variable holding the v2 API token; it wins over the config file.
pub const TOKEN_ENV: &str = "HALLWATCH_INFLUX_TOKEN";
/// Environment variable holding the v1 API password; it wins over the config file.
pub const PASSWORD_ENV: &str = "HALLWATCH_INFLUX_PASSWORD";

/// Most characters of a server's error body kept in a reason.
const MAX_REASON_CHARS: usize = 2000;

/// A boxed future, so the trait stays object safe without extra dependencies.
pub type WriteFuture<'a> = Pin<Box<dyn Future<Output = WriteResponse> + Send + 'a>>;

/// Writes one batch of line protocol (lines joined by `\n`) and reports the server's answer.
pub trait WriteClient: Send + Sync + 'static {
    fn write(&self, lines: Vec<u8>) -> WriteFuture<'_>;
    /// Whether the server knows unsigned integer fields (`u` suffix).
    fn supports_unsigned(&self) -> bool;
}

/// Why a client could not be built from the config.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    #[error("influxdb.{field} is required with api = \"{api}\"")]
    Missing {
        field: &'static str,
        api: &'static str,
    },
    #[error("influxdb.url {url:?} is not a valid URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("building the HTTP client: {0}")]
    Http(String),
}

/// Builds the client the config asks for.
pub fn from_config(config: &InfluxConfig) -> Result<Box<dyn WriteClient>, ClientConfigError> {
    match config.api {
        InfluxApi::V1 => Ok(Box::new(V1Client::new(config)?)),
        InfluxApi::V2 => Ok(Box::new(V2Client::new(config)?)),
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    encoder
        .write_all(body)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

fn truncate(mut text: String) -> String {
    if let Some((idx, _)) = text.char_indices().nth(MAX_REASON_CHARS) {
        text.truncate(idx);
        text.push('…');
    }
    text
}

fn check_url(url: &str) -> Result<(), ClientConfigError> {
    reqwest::Url::parse(url)
        .map(|_| ())
        .map_err(|e| ClientConfigError::BadUrl {
            url: url.into(),
            reason: e.to_string(),
        })
}

/// `/write` of InfluxDB 1.x.
pub struct V1Client {
    http: reqwest::Client,
    url: String,
    query: Vec<(&'static str, String)>,
    username: Option<String>,
    password: Option<String>,
    gzip: bool,
}

impl V1Client {
    pub fn new(config: &InfluxConfig) -> Result<Self, ClientConfigError> {
        check_url(&config.url)?;
        let database = config.database.clone().ok_or(ClientConfigError::Missing {
            field: "database",
            api: "v1",
        })?;
        let mut query = vec![("db", database), ("precision", "ns".to_owned())];
        if let Some(rp) = &config.retention_policy {
            query.push(("rp", rp.clone()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.request_timeout_secs.max(1)))
            .build()
            .map_err(|e| ClientConfigError::Http(e.to_string()))?;
        let password = std::env::var(PASSWORD_ENV)
            .ok()
            .or_else(|| config.password.clone());
        Ok(V1Client {
            http,
            url: format!("{}/write", config.url.trim_end_matches('/')),
            query,
            username: config.username.clone(),
            password,
            gzip: config.gzip,
        })
    }

    async fn write_inner(&self, lines: Vec<u8>) -> WriteResponse {
        let mut request = self.http.post(&self.url).query(&self.query);
        if let Some(user) = &self.username {
            request = request.basic_auth(user, self.password.as_ref());
        }
        let body = if self.gzip {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
            gzip(&lines)
        } else {
            lines
        };
        let response = match request.body(body).send().await {
            Ok(response) => response,
            Err(error) => return WriteResponse::Transport(transport_reason(&error)),
        };
        let status = response.status();
        if status.is_success() {
            return WriteResponse::Written;
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        match response.text().await {
            Ok(body) => WriteResponse::Status {
                status: status.as_u16(),
                retry_after,
                body: truncate(body),
            },
            Err(error) => WriteResponse::Transport(transport_reason(&error)),
        }
    }
}

fn transport_reason(error: &reqwest::Error) -> String {
    // reqwest's Display omits the cause ("error sending request"); the chain says "connection refused".
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

impl WriteClient for V1Client {
    fn write(&self, lines: Vec<u8>) -> WriteFuture<'_> {
        Box::pin(self.write_inner(lines))
    }

    fn supports_unsigned(&self) -> bool {
        false
    }
}

/// `/api/v2/write` through the `influxdb2` crate.
pub struct V2Client {
    client: influxdb2::Client,
    org: String,
    bucket: String,
    gzip: bool,
}

impl V2Client {
    pub fn new(config: &InfluxConfig) -> Result<Self, ClientConfigError> {
        check_url(&config.url)?;
        let org = config.org.clone().ok_or(ClientConfigError::Missing {
            field: "org",
            api: "v2",
        })?;
        let bucket = config.bucket.clone().ok_or(ClientConfigError::Missing {
            field: "bucket",
            api: "v2",
        })?;
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .or_else(|| config.token.clone())
            .unwrap_or_default();
        // influxdb2 writes line protocol bodies as given; the gzip header is set on its HTTP client so that the
        // body compressed here is declared as such.
        let mut headers = reqwest011::header::HeaderMap::new();
        if config.gzip {
            headers.insert(
                reqwest011::header::CONTENT_ENCODING,
                reqwest011::header::HeaderValue::from_static("gzip"),
            );
        }
        let http = reqwest011::Client::builder()
            .timeout(Duration::from_secs(config.request_timeout_secs.max(1)))
            .default_headers(headers);
        let client =
            influxdb2::ClientBuilder::with_builder(http, config.url.clone(), org.clone(), token)
                .build()
                .map_err(|e| ClientConfigError::Http(e.to_string()))?;
        Ok(V2Client {
            client,
            org,
            bucket,
            gzip: config.gzip,
        })
    }

    async fn write_inner(&self, lines: Vec<u8>) -> WriteResponse {
        let body = if self.gzip { gzip(&lines) } else { lines };
        match self
            .client
            .write_line_protocol(&self.org, &self.bucket, body)
            .await
        {
            Ok(()) => WriteResponse::Written,
            Err(influxdb2::RequestError::Http { status, text }) => WriteResponse::Status {
                status: status.as_u16(),
                retry_after: None,
                body: truncate(text),
            },
            Err(influxdb2::RequestError::ReqwestProcessing { source }) => {
                let mut reason = source.to_string();
                let mut cause = std::error::Error::source(&source);
                while let Some(c) = cause {
                    reason.push_str(": ");
                    reason.push_str(&c.to_string());
                    cause = c.source();
                }
                WriteResponse::Transport(reason)
            }
            Err(other) => WriteResponse::Transport(other.to_string()),
        }
    }
}

impl WriteClient for V2Client {
    fn write(&self, lines: Vec<u8>) -> WriteFuture<'_> {
        Box::pin(self.write_inner(lines))
    }

    fn supports_unsigned(&self) -> bool {
        true
    }
}
