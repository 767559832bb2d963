//! The internet-reachability probe for intranet machines (DEV-4): a TCP connect to each configured target with a
//! short timeout; the machine reaches the internet if any target accepts. A TCP connect needs no privileges and
//! sends no payload, and the agent runs it at most once a minute.

use std::time::Duration;

use tokio::net::TcpStream;

/// Whether any of `targets` (`host:port`) accepts a TCP connection within `timeout`. Names are resolved first; a
/// name that does not resolve counts as unreachable (an intranet without public DNS is the expected case).
pub async fn internet_reachable(targets: &[String], timeout: Duration) -> bool {
    let attempts = targets.iter().cloned().map(|target| {
        tokio::spawn(async move {
            let connect = async {
                for addr in tokio::net::lookup_host(target.as_str()).await? {
                    if TcpStream::connect(addr).await.is_ok() {
                        return Ok::<bool, std::io::Error>(true);
                    }
                }
                Ok(false)
            };
            let reached = matches!(tokio::time::timeout(timeout, connect).await, Ok(Ok(true)));
            tracing::debug!(%target, reached, "internet probe");
            reached
        })
    });
    let attempts: Vec<_> = attempts.collect();
    let mut any = false;
    for attempt in attempts {
        any |= attempt.await.unwrap_or(false);
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reachable_if_any_target_accepts() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap().to_string();
        // A port that was free a moment ago: refused at once.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let t = Duration::from_millis(500);
        assert!(internet_reachable(&[closed.clone(), open], t).await);
        assert!(!internet_reachable(&[closed], t).await);
        assert!(!internet_reachable(&["no-such-host.invalid:443".into()], t).await);
    }
}
