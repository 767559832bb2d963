//! The live WebSocket `/api/v1/live`: a snapshot, then deltas with increasing `seq`.
//!
//! The client's deltas come from a bounded broadcast channel. When a client falls so far behind that the channel
//! overwrote deltas it had not read, it gets a fresh snapshot and carries on: never silence, never a gap.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use hall_protocol::api::LiveMessage;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;

pub async fn upgrade(State(s): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(s, socket))
}

async fn serve(s: AppState, mut socket: WebSocket) {
    s.telemetry.live_clients.fetch_add(1, Ordering::Relaxed);
    let _ = stream(&s, &mut socket).await;
    s.telemetry.live_clients.fetch_sub(1, Ordering::Relaxed);
}

/// Sends a snapshot, then deltas, until the client goes away or the gateway stops.
async fn stream(s: &AppState, socket: &mut WebSocket) -> Result<(), axum::Error> {
    'resync: loop {
        // Subscribe first, so no delta published after the snapshot is missed.
        let mut rx = s.hub.subscribe();
        let Ok(snapshot) = s.hub.snapshot().await else {
            return Ok(());
        };
        let mut seq = snapshot.seq;
        let json = serde_json::to_string(&LiveMessage::Snapshot(snapshot)).unwrap_or_default();
        socket.send(Message::Text(json.into())).await?;
        loop {
            tokio::select! {
                frame = rx.recv() => match frame {
                    Ok(frame) if frame.seq <= seq => {}
                    Ok(frame) => {
                        seq = frame.seq;
                        socket.send(Message::Text(frame.json.as_ref().into())).await?;
                    }
                    Err(RecvError::Lagged(_)) => {
                        s.telemetry.live_resyncs.fetch_add(1, Ordering::Relaxed);
                        continue 'resync;
                    }
                    Err(RecvError::Closed) => return Ok(()),
                },
                incoming = socket.recv() => match incoming {
                    // The stream is one-way; pings are answered by axum, anything else is ignored.
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ok(()),
                    Some(Ok(_)) => {}
                },
            }
        }
    }
}
