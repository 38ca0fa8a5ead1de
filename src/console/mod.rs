//! The web console: a few pages and a JSON API under `/api/`, served on the HTTP listener
//! (`vltava.http.listener`) by the broker itself. The pages are plain HTML, CSS and JavaScript
//! embedded in the binary; everything they show is read from the broker's own state — the
//! topic registry and partition logs, the effective configs, the group coordinator, the ACL
//! index — never through a Kafka client. A test message goes through `Partition::append`, the
//! append path Produce uses.
//!
//! - `api`: the JSON routes (overview, topics, messages, produce, groups, ACLs);
//! - `browse`: reading a page of records out of a partition log (compressed batches too);
//! - `assets/`: the single-page console (hash routes; the lag chart is sampled in the page).
//!
//! Bounds: at most [`browse::RECORDS_MAX`] records, [`browse::READ_BYTES_MAX`] file bytes and
//! [`browse::SHOWN_BYTES_MAX`] key and value bytes per message page, each key or value cut
//! at [`browse::FIELD_BYTES_MAX`]; file reads and decompression run on blocking threads, at
//! most [`browse::READS_AT_ONCE`] at a time. The console has no authentication of its own:
//! whoever reaches the HTTP listener can read every message and produce to any topic.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, StatusCode};

use crate::broker::Broker;

pub mod api;
pub mod browse;

const INDEX_HTML: &str = include_str!("assets/index.html");
const CONSOLE_JS: &str = include_str!("assets/console.js");
const CONSOLE_CSS: &str = include_str!("assets/console.css");

/// A group's committed offset in one partition and that partition's end: `(group, topic,
/// partition, committed, end_offset)`. The HTTP layer supplies the function that computes
/// them (`http::lag::group_lag`); it blocks, so the console calls it on a blocking thread.
pub type LagRow = (String, String, i32, i64, i64);
/// Computes every group's [`LagRow`]s.
pub type LagFn = fn(&Broker) -> Vec<LagRow>;

/// What the console answers.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
}

impl Reply {
    fn asset(content_type: &'static str, text: &'static str) -> Reply {
        Reply {
            status: StatusCode::OK,
            content_type,
            body: Bytes::from_static(text.as_bytes()),
        }
    }

    /// A JSON answer.
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: Bytes::from(value.to_string()),
        }
    }

    /// A JSON error: `{"error": message}`.
    pub fn error(status: StatusCode, message: impl Into<String>) -> Reply {
        Reply::json(status, &serde_json::json!({ "error": message.into() }))
    }
}

/// Whether a path is the console's: its pages (`/`, `/console/…`) and its API (`/api/…`).
pub fn claims(path: &str) -> bool {
    path == "/" || path == "/console" || path.starts_with("/console/") || path.starts_with("/api/")
}

/// Serves one console request (its body already read, bounded by the listener). `broker` is
/// `None` until the broker has opened its logs: the pages load, the API answers 503.
pub async fn serve(broker: Option<Arc<Broker>>, request: Request<Bytes>, lag: LagFn) -> Reply {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let get = parts.method == Method::GET || parts.method == Method::HEAD;
    match path {
        "/" | "/console" | "/console/" | "/console/index.html" if get => {
            Reply::asset("text/html; charset=utf-8", INDEX_HTML)
        }
        "/console/console.js" if get => Reply::asset("text/javascript; charset=utf-8", CONSOLE_JS),
        "/console/console.css" if get => Reply::asset("text/css; charset=utf-8", CONSOLE_CSS),
        _ if path.starts_with("/api/") => match broker {
            Some(broker) => api::route(&broker, &parts, body, lag).await,
            None => Reply::error(StatusCode::SERVICE_UNAVAILABLE, "starting: recovering logs"),
        },
        _ => Reply::error(StatusCode::NOT_FOUND, format!("no console page {path}")),
    }
}
