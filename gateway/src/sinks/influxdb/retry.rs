//! What to do after a write attempt: the retry rules of the sink, as pure functions.
//!
//! | answer | what happens |
//! |---|---|
//! | 204 (any 2xx) | done |
//! | 429, 503 | wait for `Retry-After` (seconds or an HTTP date) when given, else back off; then retry |
//! | other 5xx, timeouts, connection errors | exponential backoff with jitter, capped at `max_retry_secs`; retry |
//! | 400, 413, 422 | the batch holds lines the server will never take: isolate them (line numbers from the body when the server gives them, else bisection) and quarantine them with the server's reason |
//! | 401, 403, 404 and other 4xx | permanent: a wrong token, database or bucket. The batch is quarantined with the reason, never retried |

use std::time::{Duration, SystemTime};

/// The longest `Retry-After` honoured; a server asking for more is asked again after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// The server's answer to one write request, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteResponse {
    /// 2xx: every line was written.
    Written,
    /// Any other status, with the `Retry-After` header (when the client can see it) and the body.
    Status {
        status: u16,
        retry_after: Option<Duration>,
        body: String,
    },
    /// No answer: connection refused or reset, timeout, DNS.
    Transport(String),
}

/// The sink's decision for a [`WriteResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Try the same batch again after the given wait (`None`: the backoff decides).
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Some lines are bad; isolate them.
    Isolate {
        reason: String,
    },
    /// The whole batch can never be written as configured.
    Permanent {
        reason: String,
    },
}

/// Applies the table in the module docs.
pub fn classify(response: &WriteResponse) -> Verdict {
    match response {
        WriteResponse::Written => Verdict::Done,
        WriteResponse::Transport(error) => Verdict::Retry {
            after: None,
            reason: error.clone(),
        },
        WriteResponse::Status {
            status,
            retry_after,
            body,
        } => {
            let reason = format!("HTTP {status}: {}", body.trim());
            match status {
                429 | 503 => Verdict::Retry {
                    after: retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
                    reason,
                },
                500..=599 | 408 => Verdict::Retry {
                    after: None,
                    reason,
                },
                400 | 413 | 422 => Verdict::Isolate { reason },
                _ => Verdict::Permanent { reason },
            }
        }
    }
}

/// Parses a `Retry-After` header value: delay seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff with jitter, from 100 ms up to a cap.
#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
    cap: Duration,
}

impl Backoff {
    const BASE: Duration = Duration::from_millis(100);

    pub fn new(cap: Duration) -> Self {
        Backoff {
            failures: 0,
            cap: cap.max(Self::BASE),
        }
    }

    /// The wait before the next attempt after one more failure. `jitter` in `[0, 1)` picks a point in the upper
    /// half of the window, so waits grow steadily but clients that failed together do not retry together.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let exp = Self::BASE.saturating_mul(1u32 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        let window = exp.min(self.cap);
        window.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Line numbers (1-based) of rejected lines in an error body, when the server lists them (InfluxDB 3 answers
/// a partial write with a JSON body whose `data` items carry `line_number`). `None` when the body lists none.
pub fn rejected_line_numbers(body: &str) -> Option<Vec<usize>> {
    let json: serde_json::Value = serde_json::from_str(body).ok()?;
    let items = json.get("data")?.as_array()?;
    let numbers: Vec<usize> = items
        .iter()
        .filter_map(|item| item.get("line_number")?.as_u64())
        .map(|n| n as usize)
        .collect();
    (!numbers.is_empty() && numbers.len() == items.len()).then_some(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, retry_after: Option<u64>) -> WriteResponse {
        WriteResponse::Status {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: "why".into(),
        }
    }

    #[test]
    fn verdicts_follow_the_table() {
        assert_eq!(classify(&WriteResponse::Written), Verdict::Done);
        assert!(
            matches!(classify(&status(429, Some(7))), Verdict::Retry { after: Some(d), .. } if d.as_secs() == 7)
        );
        assert!(matches!(
            classify(&status(503, None)),
            Verdict::Retry { after: None, .. }
        ));
        assert!(matches!(
            classify(&status(503, Some(86_400))),
            Verdict::Retry {
                after: Some(MAX_RETRY_AFTER),
                ..
            }
        ));
        assert!(matches!(
            classify(&status(500, Some(3))),
            Verdict::Retry { after: None, .. }
        ));
        assert!(matches!(
            classify(&WriteResponse::Transport("refused".into())),
            Verdict::Retry { .. }
        ));
        for s in [400, 413, 422] {
            assert!(
                matches!(classify(&status(s, None)), Verdict::Isolate { .. }),
                "{s}"
            );
        }
        for s in [401, 403, 404, 405] {
            assert!(
                matches!(classify(&status(s, None)), Verdict::Permanent { reason } if reason == format!("HTTP {s}: why"))
            );
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let mut backoff = Backoff::new(Duration::from_secs(2));
        let delays: Vec<_> = (0..8)
            .map(|_| backoff.next_delay(1.0).as_millis())
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(0.0).as_millis(), 50);
    }

    #[test]
    fn line_numbers_are_read_from_partial_write_bodies() {
        let body = r#"{"error":"partial write of line protocol occurred","data":[
            {"original_line":"x","line_number":2,"error_message":"bad"},{"line_number":5,"error_message":"bad"}]}"#;
        assert_eq!(rejected_line_numbers(body), Some(vec![2, 5]));
        assert_eq!(
            rejected_line_numbers("partial write: field type conflict"),
            None
        );
    }
}
