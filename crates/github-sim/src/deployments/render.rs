//! Deployments and their statuses as the REST API and the webhooks render them.

use serde_json::{Value, json};

use super::{Deployment, DeploymentStatus};
use crate::ids;
use crate::model::{Repo, World};
use crate::render::user_value;
use crate::time::rfc3339;

/// A deployment (deployment-create.json).
pub fn deployment(world: &World, repo: &Repo, d: &Deployment) -> Value {
    let api = format!("{}/repos/{}", world.base, repo.full_name());
    let url = format!("{api}/deployments/{}", d.id);
    json!({
        "url": url,
        "id": d.id,
        "node_id": ids::node_id("Deployment", d.id),
        "task": d.task,
        "original_environment": d.original_environment,
        "environment": d.environment,
        "description": d.description,
        "created_at": rfc3339(d.created_at),
        "updated_at": rfc3339(d.updated_at),
        "statuses_url": format!("{url}/statuses"),
        "repository_url": api,
        "creator": user_value(world, &d.creator),
        "sha": d.sha,
        "ref": d.reference,
        "payload": d.payload,
        "transient_environment": d.transient_environment,
        "production_environment": d.production_environment,
        "performed_via_github_app": Value::Null,
    })
}

/// A deployment status (deployment-status-create.json).
pub fn deployment_status(
    world: &World,
    repo: &Repo,
    d: &Deployment,
    s: &DeploymentStatus,
) -> Value {
    let api = format!("{}/repos/{}", world.base, repo.full_name());
    let durl = format!("{api}/deployments/{}", d.id);
    json!({
        "url": format!("{durl}/statuses/{}", s.id),
        "id": s.id,
        "node_id": ids::node_id("DeploymentStatus", s.id),
        "state": s.state,
        "creator": user_value(world, &s.creator),
        "description": s.description,
        "environment": s.environment,
        "target_url": s.target_url,
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.created_at),
        "deployment_url": durl,
        "repository_url": api,
        "environment_url": s.environment_url,
        "log_url": s.log_url,
        "performed_via_github_app": Value::Null,
    })
}
