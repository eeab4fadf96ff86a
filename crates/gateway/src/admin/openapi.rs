//! `GET /v1/openapi.json`: the API's description, the file kept in `docs/`.

use actix_web::HttpResponse;

/// `docs/openapi.json`, compiled in so that the served document is the file.
pub const OPENAPI_JSON: &str = include_str!("../../../../docs/openapi.json");

/// Serves [`OPENAPI_JSON`].
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI_JSON)
}
