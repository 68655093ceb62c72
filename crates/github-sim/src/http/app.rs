//! GitHub App authentication: the app's JWT (RS256, `iss` = app id, at most 10 minutes long)
//! buys installation tokens, which then act as `<slug>[bot]` for an hour.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::StatusCode;
use serde_json::{Value, json};

use crate::config::AppConfig;
use crate::error::{ApiError, DOCS};
use crate::http::middleware::Identity;
use crate::render;
use crate::shared::{Shared, TokenInfo};
use crate::time::rfc3339;

const TOKEN_TTL: i64 = 3600;

fn b64url_json(part: &str) -> Result<Value, String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// Checks a GitHub App JWT against `app` at time `now` (the simulator's clock).
pub fn verify_jwt(token: &str, app: &AppConfig, now: i64) -> Result<(), String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, _sig] = parts.as_slice() else {
        return Err("not a JWT".into());
    };
    let header = b64url_json(header)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("alg must be RS256".into());
    }
    let claims = b64url_json(claims)?;
    // GitHub accepts `iss` as a number or as a string of digits (or the client id).
    let iss_ok = match claims.get("iss") {
        Some(Value::Number(n)) => n.as_u64() == Some(app.app_id),
        Some(Value::String(s)) => s == &app.app_id.to_string(),
        _ => false,
    };
    if !iss_ok {
        return Err("iss does not name this app".into());
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or("missing iat")?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or("missing exp")?;
    if exp <= now {
        return Err("expired".into());
    }
    if iat > now + 60 {
        return Err("iat in the future".into());
    }
    if exp - iat > 600 {
        return Err("exp too far in the future".into());
    }
    if let Some(pem) = &app.public_key_pem {
        let key =
            jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        // Time was checked above against the simulator's (movable) clock.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn require_app(id: &Identity) -> Result<(), ApiError> {
    if id.app {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
            DOCS,
        ))
    }
}

const PERMISSIONS: &str =
    r#"{"contents":"read","issues":"write","metadata":"read","pull_requests":"write"}"#;

pub(crate) fn permissions() -> Value {
    serde_json::from_str(PERMISSIONS).unwrap_or(Value::Null)
}

pub async fn access_token(
    State(shared): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path(installation): Path<u64>,
) -> Result<Response, ApiError> {
    require_app(&id)?;
    let doc =
        "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app";
    let mut g = shared.lock();
    let app = g.app.clone().ok_or_else(|| ApiError::not_found(doc))?;
    if app.installation_id != installation {
        return Err(ApiError::not_found(doc));
    }
    let now = g.world.now();
    let token = format!(
        "ghs_{}",
        &crate::ids::sha256_hex(&g.rng.next_u64().to_be_bytes())[..36]
    );
    let login = format!("{}[bot]", app.slug);
    g.world
        .ensure_account(&login, crate::model::AccountKind::Bot);
    g.tokens.insert(
        token.clone(),
        TokenInfo {
            login,
            expires_at: Some(now + TOKEN_TTL),
        },
    );
    let body = json!({
        "token": token,
        "expires_at": rfc3339(now + TOKEN_TTL),
        "permissions": permissions(),
        "repository_selection": "all",
    });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

pub async fn repo_installation(
    State(shared): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
    Path((owner, repo)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    require_app(&id)?;
    let doc = "https://docs.github.com/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app";
    let g = shared.lock();
    let app = g.app.clone().ok_or_else(|| ApiError::not_found(doc))?;
    let r = g
        .world
        .repo(&owner, &repo)
        .ok_or_else(|| ApiError::not_found(doc))?;
    let base = &g.world.base;
    let account = g
        .world
        .accounts
        .get(&r.owner)
        .map(|a| render::account(base, a))
        .unwrap_or(Value::Null);
    let inst = app.installation_id;
    let body = json!({
        "id": inst,
        "account": account,
        "repository_selection": "all",
        "access_tokens_url": format!("{base}/app/installations/{inst}/access_tokens"),
        "repositories_url": format!("{base}/installation/repositories"),
        "html_url": format!("{base}/settings/installations/{inst}"),
        "app_id": app.app_id,
        "app_slug": app.slug,
        "target_id": account.get("id").cloned().unwrap_or(Value::Null),
        "target_type": account.get("type").cloned().unwrap_or(Value::Null),
        "permissions": permissions(),
        "events": ["pull_request"],
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.created_at),
        "single_file_name": Value::Null,
    });
    Ok(axum::Json(body).into_response())
}

/// `GET /app`: the authenticated App (JWT).
pub async fn get_app(
    State(shared): State<Arc<Shared>>,
    Extension(id): Extension<Identity>,
) -> Result<Response, ApiError> {
    require_app(&id)?;
    let doc = "https://docs.github.com/rest/apps/apps#get-the-authenticated-app";
    let g = shared.lock();
    let app = g.app.clone().ok_or_else(|| ApiError::not_found(doc))?;
    let body = json!({
        "id": app.app_id,
        "slug": app.slug,
        "name": app.slug,
        "permissions": permissions(),
        "events": ["pull_request"],
    });
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}
