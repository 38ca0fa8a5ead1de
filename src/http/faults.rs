//! The fault-injection API (`crate::fault`), JSON over the HTTP listener:
//!
//! | request | does |
//! |---|---|
//! | `POST /v1/faults` with a rule object | adds the rule: 201 and the rule with its `id` |
//! | `GET /v1/faults` | every rule, with how often it `fired` and whether it is `live` |
//! | `GET /v1/faults/{id}` | one rule |
//! | `DELETE /v1/faults/{id}` | deletes one rule |
//! | `DELETE /v1/faults` | deletes every rule |
//!
//! 404 unless `vltava.fault.injection.enable=true`; 403 for a peer that is not on the loopback
//! interface unless `vltava.fault.injection.allow.remote=true` (the API can break every
//! client of the broker).

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, StatusCode};

use super::{HttpRequest, HttpResponse, HttpState, respond};
use crate::fault::{AddError, Rule};
use crate::log::now_ms;

/// The peer of an HTTP request, put in its extensions by the listener.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// True for the paths this module serves.
pub fn owns(path: &str) -> bool {
    path == "/v1/faults" || path.starts_with("/v1/faults/")
}

/// Serves `/v1/faults` and `/v1/faults/{id}`.
pub fn serve(state: &HttpState, req: &HttpRequest) -> HttpResponse {
    let Some(broker) = state.broker() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "starting: recovering logs");
    };
    let faults = &broker.faults;
    if !faults.enabled() {
        return error(
            StatusCode::NOT_FOUND,
            "fault injection is off: start the broker with vltava.fault.injection.enable=true",
        );
    }
    let peer = req.extensions().get::<Peer>().map(|p| p.0);
    let local = peer.is_some_and(|p| p.ip().is_loopback());
    if !local && !broker.config.fault_injection_allow_remote {
        return error(
            StatusCode::FORBIDDEN,
            "the fault API answers loopback peers only (vltava.fault.injection.allow.remote=false)",
        );
    }
    let now = now_ms();
    let id = match req.uri().path().strip_prefix("/v1/faults/") {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(id) => Some(id),
            Err(_) => return error(StatusCode::NOT_FOUND, "no such rule"),
        },
    };
    match (req.method(), id) {
        (&Method::GET, None) => json(
            StatusCode::OK,
            serde_json::json!({ "rules": faults.list(now) }),
        ),
        (&Method::POST, None) => match Rule::parse_json(req.body()) {
            Err(why) => error(StatusCode::BAD_REQUEST, &why),
            Ok(rule) => {
                tracing::info!("fault rule added over HTTP from {peer:?}: {rule:?}");
                match faults.add(rule, now) {
                    Ok(id) => match faults.get(id, now) {
                        Some(rule) => json(StatusCode::CREATED, rule),
                        None => error(StatusCode::NOT_FOUND, "no such rule"),
                    },
                    Err(e @ AddError::TooMany) => error(StatusCode::CONFLICT, &e.to_string()),
                    Err(e @ AddError::Disabled) => error(StatusCode::NOT_FOUND, &e.to_string()),
                }
            }
        },
        (&Method::DELETE, None) => json(
            StatusCode::OK,
            serde_json::json!({ "deleted": faults.clear(now) }),
        ),
        (&Method::GET, Some(id)) => match faults.get(id, now) {
            Some(rule) => json(StatusCode::OK, rule),
            None => error(StatusCode::NOT_FOUND, "no such rule"),
        },
        (&Method::DELETE, Some(id)) => match faults.get(id, now) {
            Some(rule) if faults.remove(id, now) => json(StatusCode::OK, rule),
            _ => error(StatusCode::NOT_FOUND, "no such rule"),
        },
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "GET, POST or DELETE"),
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> HttpResponse {
    let mut body = value.to_string();
    body.push('\n');
    respond(status, "application/json", Bytes::from(body))
}

fn error(status: StatusCode, message: &str) -> HttpResponse {
    json(status, serde_json::json!({ "error": message }))
}
