//! `/v2/lbaas/providers`: the enabled provider drivers, as `[api_settings]
//! enabled_provider_drivers` names them. Octavia lists them without pagination; only
//! `fields` applies.

use super::*;
use axum::extract::State;
use axum::http::Uri;

/// What each provider krater knows is, in one line.
fn description(provider: &str) -> &'static str {
    match provider {
        "amphora" => "The krater amphora driver: HAProxy and keepalived in amphorae.",
        "octavia" | "amphorav2" => "Alias of the amphora driver.",
        "noop_driver" => "The no-op driver: accepts every change, builds nothing.",
        _ => "",
    }
}

pub async fn list(state: State<AppState>, uri: Uri) -> ApiResult<Response> {
    let query = Query::parse(uri.query());
    let providers: Vec<Value> = state
        .config
        .api_settings
        .enabled_provider_drivers
        .iter()
        .map(|name| {
            select_fields(
                json!({ "name": name, "description": description(name) }),
                &query.fields(),
            )
        })
        .collect();
    Ok(Json(json!({ "providers": providers })).into_response())
}
