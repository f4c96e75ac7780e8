//! `POST /interaction/{dataset_group}`: the seed Lambda's endpoint, for Snowbridge's HTTP target.

use delivery::{EventsApi, Metrics};
use http::{Method, Request, Response, StatusCode, header};
use interactions::Interaction;
use serde::Serialize;

use crate::App;
use crate::gather::{Gathered, Undelivered};

/// What happened to a body's interactions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Interactions whose events were all delivered.
    pub accepted: usize,
    /// Personalize events delivered.
    pub events: usize,
    /// Interactions that were not, and never will be: resending them cannot help.
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// Position in the body (0 for a single object).
    pub index: usize,
    pub error: String,
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<String> {
    let mut response = Response::new(serde_json::to_string(body).unwrap_or_default());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, message: &str) -> Response<String> {
    json_response(status, &serde_json::json!({ "error": message }))
}

/// A dataset group name as Personalize allows them; anything else (dots, encoded slashes, …) is not a
/// group and cannot reach a lookup.
fn valid_group(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.len() <= 63
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A body declared as JSON (`application/json`, any `+json` type, any parameters), or not declared at
/// all (some clients send none); a form, XML or text is refused rather than misread.
fn json_or_unstated(content_type: Option<&http::HeaderValue>) -> bool {
    let Some(value) = content_type else { return true };
    let Ok(value) = value.to_str() else { return false };
    let media_type = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media_type == "application/json" || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

#[derive(Debug, PartialEq, Eq)]
enum Route<'p> {
    Interactions(&'p str),
    Recommendations,
}

/// `/interaction/{group}` and `/`, also under one leading stage segment (`/Prod/interaction/{group}`),
/// as REST APIs deliver paths.
fn route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["interaction", group] | [_, "interaction", group] => Some(Route::Interactions(group)),
        [] => Some(Route::Recommendations),
        [stage] if *stage != "interaction" => Some(Route::Recommendations),
        _ => None,
    }
}

/// The accelerator's request body for recommendations.
#[derive(Debug, serde::Deserialize)]
struct RecommendationRequest {
    method: String,
    user_id: String,
    recommender: String,
    #[serde(default)]
    num_results: Option<i32>,
}

impl<A: EventsApi> App<A> {
    /// Answers one HTTP request (see the crate documentation).
    pub async fn handle_http(&self, request: Request<Vec<u8>>) -> Response<String> {
        let Some(route) = route(request.uri().path()) else {
            return error(StatusCode::NOT_FOUND, "no such endpoint: POST /interaction/{dataset_group} or POST /");
        };
        if let Some(auth) = &self.auth
            && !auth.allows(request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes()))
        {
            let mut response = error(StatusCode::UNAUTHORIZED, "missing or wrong credentials");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Basic realm=\"snowplow-personalize\""),
            );
            return response;
        }
        if request.method() != Method::POST {
            return error(StatusCode::METHOD_NOT_ALLOWED, "use POST");
        }
        if !json_or_unstated(request.headers().get(header::CONTENT_TYPE)) {
            return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send application/json");
        }
        if request.body().len() > self.max_body_bytes {
            return error(StatusCode::PAYLOAD_TOO_LARGE, &format!("body over {} bytes", self.max_body_bytes));
        }
        let group = match route {
            Route::Interactions(group) => group,
            Route::Recommendations => return self.recommend(request.body()).await,
        };
        let tracking_id = match Some(group).filter(|g| valid_group(g)).map(|g| self.delivery.tracking_id(g)) {
            Some(Ok(id)) => id.to_owned(),
            _ => return error(StatusCode::NOT_FOUND, "unknown dataset group"),
        };
        match Interaction::parse_body(request.body()) {
            Ok(items) => self.deliver_items(&tracking_id, items).await,
            Err(message) => error(StatusCode::BAD_REQUEST, &message),
        }
    }

    async fn recommend(&self, body: &[u8]) -> Response<String> {
        let asked: RecommendationRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                return error(StatusCode::BAD_REQUEST, &format!("expected {{method, user_id, recommender}}: {e}"));
            }
        };
        if asked.method != "get_recommendations" {
            return error(StatusCode::BAD_REQUEST, "unknown method (expected get_recommendations)");
        }
        let (Some(arn), Some(recommender)) = (self.delivery.recommenders.get(&asked.recommender), &self.recommender)
        else {
            return error(StatusCode::NOT_FOUND, "unknown recommender");
        };
        let wanted = asked.num_results.unwrap_or(25).clamp(1, 500);
        match recommender.recommend(arn, &asked.user_id, wanted).await {
            Ok(recommendation) => json_response(StatusCode::OK, &recommendation),
            Err(e) => {
                tracing::warn!(error = %e, "GetRecommendations failed");
                error(StatusCode::BAD_GATEWAY, "Personalize could not recommend")
            }
        }
    }

    async fn deliver_items(
        &self,
        tracking_id: &str,
        items: Vec<Result<Interaction<'static>, String>>,
    ) -> Response<String> {
        let mut report = Report::default();
        let mut gathered = Gathered::new(tracking_id);
        let mut sent = vec![false; items.len()];
        Metrics::add(&self.metrics.interactions_in, items.len() as u64);
        for (index, item) in items.into_iter().enumerate() {
            let result = item
                .and_then(|interaction| gathered.add(index, &interaction, &self.metrics).map_err(|e| e.to_string()));
            match result {
                Ok(()) => sent[index] = true,
                Err(error) => report.rejected.push(Rejected { index, error }),
            }
        }
        if gathered.is_empty() {
            return json_response(StatusCode::BAD_REQUEST, &report);
        }
        let (events, undelivered) = gathered.deliver(&self.sender).await;
        if undelivered.iter().any(|u| u.letter.retryable) {
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Personalize is throttling or unavailable; resend the batch (events are recognised, not counted twice)",
            );
            response.headers_mut().insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
            return response;
        }
        report.events = events;
        for Undelivered { letter, items } in &undelivered {
            for &index in items {
                if std::mem::replace(&mut sent[index], false) {
                    report.rejected.push(Rejected { index, error: letter.error.clone() });
                }
            }
        }
        report.rejected.sort_by_key(|r| r.index);
        report.accepted = sent.iter().filter(|s| **s).count();
        json_response(StatusCode::OK, &report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_group_names() {
        assert_eq!(route("/interaction/shop"), Some(Route::Interactions("shop")));
        assert_eq!(route("/Prod/interaction/shop"), Some(Route::Interactions("shop")));
        assert_eq!(route("/interaction/shop/"), Some(Route::Interactions("shop")));
        assert_eq!(route("/a/b/interaction/shop"), None);
        assert_eq!(route("/interaction"), None);
        assert_eq!(route("/"), Some(Route::Recommendations));
        assert_eq!(route("/Prod"), Some(Route::Recommendations));
        for ok in ["shop", "recommendations_demo_dsg_ecommerce", "a-1"] {
            assert!(valid_group(ok), "{ok}");
        }
        for bad in ["", "..", "%2e%2e", "a/b", "-x", "a.b", &"x".repeat(64), "é"] {
            assert!(!valid_group(bad), "{bad}");
        }
    }

    #[test]
    fn content_types() {
        let header = |v: &'static str| Some(http::HeaderValue::from_static(v));
        assert!(json_or_unstated(None));
        for ok in ["application/json", "Application/JSON; charset=utf-8", "application/vnd.api+json"] {
            assert!(json_or_unstated(header(ok).as_ref()), "{ok}");
        }
        for bad in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "json"] {
            assert!(!json_or_unstated(header(bad).as_ref()), "{bad}");
        }
        let latin1 = http::HeaderValue::from_bytes(b"application/json\xff").unwrap();
        assert!(!json_or_unstated(Some(&latin1)));
    }
}
