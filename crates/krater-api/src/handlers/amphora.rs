//! `/v2/octavia/amphorae` (admin): list, show, stats, failover.

use super::*;
use crate::views;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};

async fn find(tx: &mut Tx, id: &str) -> ApiResult<krater_domain::Amphora> {
    tx.amphora(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Amphora {id} not found.")))
}

pub async fn list(
    state: State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let caller = crate::Caller::from_headers(&headers, &state);
    require_admin(&caller)?;
    let asked = list_query(&state, &uri, &query::AMPHORAE)?;
    let mut tx = state.db.begin().await?;
    let amphorae = tx.list_amphorae(&caller.scope(), &asked.1).await?;
    let page = amphorae
        .iter()
        .map(|a| views::to_value(views::amphora(a)))
        .collect();
    Ok(list_of(
        &state,
        &headers,
        &uri,
        &query::AMPHORAE,
        page,
        &asked,
    ))
}

pub async fn show(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    require_admin(&caller)?;
    let mut tx = state.db.begin().await?;
    let amphora = find(&mut tx, &id).await?;
    Ok(one(
        StatusCode::OK,
        "amphora",
        views::to_value(views::amphora(&amphora)),
        &Query::parse(uri.query()),
    ))
}

/// The counters the amphora reported in its heartbeats, one entry per listener; 404
/// (as Octavia) while it has reported none.
pub async fn stats(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    require_admin(&caller)?;
    let mut tx = state.db.begin().await?;
    let not_found = || ApiError::not_found(format!("Amphora stats for {id} not found."));
    let amphora = tx.amphora(&id).await?.ok_or_else(not_found)?;
    let per_listener = tx.amphora_listener_stats(&id).await?;
    if per_listener.is_empty() {
        return Err(not_found());
    }
    let entries: Vec<Value> = per_listener
        .into_iter()
        .map(|(listener_id, stats)| {
            let mut entry = views::to_value(views::stats(stats));
            if let Value::Object(map) = &mut entry {
                map.insert("id".into(), json!(id));
                map.insert("listener_id".into(), json!(listener_id));
                map.insert("loadbalancer_id".into(), json!(amphora.load_balancer_id));
            }
            entry
        })
        .collect();
    Ok(Json(json!({ "amphora_stats": entries })).into_response())
}

/// `PUT /amphorae/{id}/failover` (admin): the amphora is replaced by a new one with
/// its role; its load balancer must be ACTIVE (409 else).
pub async fn failover(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    require_admin(&caller)?;
    let mut tx = state.db.begin().await?;
    let amphora = find(&mut tx, &id).await?;
    if amphora.status == krater_domain::AmphoraStatus::Deleted {
        return Err(ApiError::not_found(format!("Amphora {id} not found.")));
    }
    let Some(lb_id) = amphora.load_balancer_id else {
        return Err(ApiError::unsupported_action(
            "amphora",
            "failover of an amphora that serves no load balancer is not available yet.",
        ));
    };
    tx.lock(Lock::Update(Table::LoadBalancer, &lb_id)).await?;
    tx.enqueue(&krater_domain::flow::Flow::FailoverAmphora {
        lb_id,
        amphora_id: id,
    })
    .await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
