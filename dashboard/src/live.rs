//! The WebSocket client for `/api/v1/live`.
//!
//! The gateway sends a `snapshot`, then `delta`s numbered one after another. This module applies them to the
//! [`Store`] and keeps the link up by itself: a gap in the numbering, a frame that does not parse, a closed socket
//! or a silent one all lead to a new connection (and so a fresh snapshot), retried with a backoff from 0.5 s up to
//! 5 s. A wall display has no keyboard, so nothing here ever waits for a person.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use hall_protocol::api::LiveMessage;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

use crate::store::{LinkState, Store};

const BACKOFF_MIN_MS: u32 = 500;
const BACKOFF_MAX_MS: u32 = 5_000;
/// How long a connection may take to deliver its snapshot.
const SNAPSHOT_TIMEOUT_MS: f64 = 15_000.0;
/// How long a live connection may stay silent before it is presumed dead. The gateway sends the hall clock at
/// least once a minute, so a healthy link is never this quiet.
const SILENCE_TIMEOUT_MS: f64 = 150_000.0;

/// What to do with an incoming message, given the sequence numbers seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it.
    Apply,
    /// An old or repeated delta: drop it.
    Ignore,
    /// Something was missed: reconnect for a fresh snapshot.
    Resync,
}

/// Checks the sequence numbers of the live stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqTracker {
    /// Sequence number of the last applied snapshot or delta; `None` until a snapshot arrives.
    last: Option<u64>,
}

impl SeqTracker {
    pub fn on_snapshot(&mut self, seq: u64) -> Verdict {
        self.last = Some(seq);
        Verdict::Apply
    }

    pub fn on_delta(&mut self, seq: u64) -> Verdict {
        match self.last {
            None => Verdict::Resync,
            Some(last) if seq <= last => Verdict::Ignore,
            Some(last) if seq == last + 1 => {
                self.last = Some(seq);
                Verdict::Apply
            }
            Some(_) => Verdict::Resync,
        }
    }

    pub fn has_snapshot(&self) -> bool {
        self.last.is_some()
    }
}

/// Milliseconds on the page's monotonic clock. Used only to measure intervals, never as the hall's time.
pub fn now_ms() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}

/// Starts the client and the one-second tick that moves timers along. Call once per page.
pub fn start(store: Store) {
    let client = Rc::new(RefCell::new(Client {
        store,
        conn: None,
        generation: 0,
        backoff_ms: BACKOFF_MIN_MS,
        tracker: SeqTracker::default(),
        reconnect_pending: false,
        last_activity_ms: now_ms(),
    }));
    connect(&client);

    store.tick_ms.set(now_ms());
    let watchdog = client.clone();
    set_interval(
        move || {
            let now = now_ms();
            store.tick_ms.set(now);
            check_silence(&watchdog, now);
        },
        Duration::from_secs(1),
    );
}

/// The live link's state. Lives for the page's lifetime (the tick and the socket handlers hold it).
struct Client {
    store: Store,
    conn: Option<Conn>,
    /// Incremented per connection, so events of a replaced socket are recognised and ignored.
    generation: u64,
    backoff_ms: u32,
    tracker: SeqTracker,
    reconnect_pending: bool,
    last_activity_ms: f64,
}

type Shared = Rc<RefCell<Client>>;

/// One socket with its handlers; dropping it detaches the handlers and closes the socket.
struct Conn {
    ws: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

/// `ws(s)://{host}/api/v1/live`, passing on a `token` from the page's own query string (browsers cannot set an
/// Authorization header on a WebSocket).
fn live_url() -> String {
    let location = window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_default();
    let token = location
        .search()
        .ok()
        .and_then(|s| web_sys::UrlSearchParams::new_with_str(&s).ok())
        .and_then(|p| p.get("token"))
        .filter(|t| !t.is_empty());
    let query = token.and_then(|token| {
        let params = web_sys::UrlSearchParams::new().ok()?;
        params.set("token", &token);
        Some(format!("?{}", String::from(params.to_string())))
    });
    format!("{scheme}://{host}/api/v1/live{}", query.unwrap_or_default())
}

fn connect(shared: &Shared) {
    let generation = {
        let mut c = shared.borrow_mut();
        c.generation += 1;
        c.tracker = SeqTracker::default();
        c.last_activity_ms = now_ms();
        c.generation
    };
    let ws = match WebSocket::new(&live_url()) {
        Ok(ws) => ws,
        Err(error) => {
            leptos::logging::warn!("live: cannot open websocket: {error:?}");
            link_lost(shared, generation);
            return;
        }
    };

    let on_message = {
        let shared = shared.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            on_message(&shared, generation, event)
        })
    };
    let on_close = {
        let shared = shared.clone();
        Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| {
            link_lost(&shared, generation)
        })
    };
    let on_error = {
        let shared = shared.clone();
        Closure::<dyn FnMut(Event)>::new(move |_event: Event| link_lost(&shared, generation))
    };
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    let old = shared.borrow_mut().conn.replace(Conn {
        ws,
        _on_message: on_message,
        _on_close: on_close,
        _on_error: on_error,
    });
    drop_later(old);
}

/// Drops a connection outside of its own event handler, which may be the one running now.
fn drop_later(conn: Option<Conn>) {
    if conn.is_some() {
        set_timeout(move || drop(conn), Duration::ZERO);
    }
}

fn on_message(shared: &Shared, generation: u64, event: MessageEvent) {
    let Some(text) = event.data().as_string() else {
        leptos::logging::warn!("live: ignoring a non-text frame");
        return;
    };
    let now = now_ms();
    let mut c = shared.borrow_mut();
    if c.generation != generation {
        return;
    }
    c.last_activity_ms = now;
    let message = match serde_json::from_str::<LiveMessage>(&text) {
        Ok(message) => message,
        Err(error) => {
            // A frame we cannot read may have carried changes: only a fresh snapshot makes the state whole again.
            leptos::logging::warn!("live: unreadable message ({error}), resyncing");
            drop(c);
            resync(shared, generation);
            return;
        }
    };
    match message {
        LiveMessage::Snapshot(snapshot) => {
            c.tracker.on_snapshot(snapshot.seq);
            c.backoff_ms = BACKOFF_MIN_MS;
            let store = c.store;
            drop(c);
            store.apply_snapshot(snapshot, now);
            store.link.set(LinkState::Live);
        }
        LiveMessage::Delta { seq, changes } => match c.tracker.on_delta(seq) {
            Verdict::Apply => {
                let store = c.store;
                drop(c);
                for change in changes {
                    store.apply_change(change, now);
                }
            }
            Verdict::Ignore => {}
            Verdict::Resync => {
                leptos::logging::warn!("live: delta {seq} does not follow on, resyncing");
                drop(c);
                resync(shared, generation);
            }
        },
    }
}

/// Drops the current connection and opens a new one at once (it starts with a fresh snapshot).
fn resync(shared: &Shared, generation: u64) {
    let old = {
        let mut c = shared.borrow_mut();
        if c.generation != generation {
            return;
        }
        c.conn.take()
    };
    drop_later(old);
    shared.borrow().store.link.set(LinkState::Reconnecting);
    connect(shared);
}

/// The socket closed or failed: show it, and try again after the backoff.
fn link_lost(shared: &Shared, generation: u64) {
    let (old, delay_ms, store) = {
        let mut c = shared.borrow_mut();
        if c.generation != generation || c.reconnect_pending {
            return;
        }
        c.reconnect_pending = true;
        // Invalidate the socket's remaining events (an error is usually followed by a close).
        c.generation += 1;
        let delay_ms = c.backoff_ms;
        c.backoff_ms = (c.backoff_ms * 2).min(BACKOFF_MAX_MS);
        (c.conn.take(), delay_ms, c.store)
    };
    drop_later(old);
    store.link.set(LinkState::Reconnecting);
    let shared = shared.clone();
    set_timeout(
        move || {
            shared.borrow_mut().reconnect_pending = false;
            connect(&shared);
        },
        Duration::from_millis(u64::from(delay_ms)),
    );
}

/// Catches links that died without a close event (a pulled cable, a sleeping proxy).
fn check_silence(shared: &Shared, now: f64) {
    let (generation, stuck) = {
        let c = shared.borrow();
        let quiet_ms = now - c.last_activity_ms;
        let limit = if c.tracker.has_snapshot() {
            SILENCE_TIMEOUT_MS
        } else {
            SNAPSHOT_TIMEOUT_MS
        };
        (
            c.generation,
            c.conn.is_some() && !c.reconnect_pending && quiet_ms > limit,
        )
    };
    if stuck {
        leptos::logging::warn!("live: no message for too long, reconnecting");
        link_lost(shared, generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_before_a_snapshot_resync() {
        let mut t = SeqTracker::default();
        assert_eq!(t.on_delta(1), Verdict::Resync);
    }

    #[test]
    fn consecutive_deltas_apply_old_ones_are_ignored_gaps_resync() {
        let mut t = SeqTracker::default();
        assert_eq!(t.on_snapshot(10), Verdict::Apply);
        assert_eq!(t.on_delta(10), Verdict::Ignore);
        assert_eq!(t.on_delta(11), Verdict::Apply);
        assert_eq!(t.on_delta(12), Verdict::Apply);
        assert_eq!(t.on_delta(12), Verdict::Ignore);
        assert_eq!(t.on_delta(14), Verdict::Resync);
    }

    #[test]
    fn a_new_snapshot_restarts_the_numbering() {
        let mut t = SeqTracker::default();
        t.on_snapshot(100);
        assert_eq!(t.on_snapshot(5), Verdict::Apply);
        assert_eq!(t.on_delta(6), Verdict::Apply);
    }
}
