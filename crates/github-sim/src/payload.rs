//! Webhook payloads (`pull_request`, `ping`), shaped like GitHub's deliveries, rendered at the
//! moment of the change and queued on the world's outbox.

use serde_json::{Map, Value, json};

use crate::ids;
use crate::model::{AccountKind, OutgoingEvent, World};
use crate::render::{self, PullShape};

impl World {
    /// Queues a `pull_request` event for PR `number` of the repository `key`. `extra` carries
    /// the action-specific members (`label`, `changes`, `before`/`after`).
    pub fn emit_pull_request(
        &mut self,
        key: &str,
        number: u64,
        action: &str,
        sender: &str,
        extra: Map<String, Value>,
    ) {
        let sender = self.account(sender);
        let Some(repo) = self.repos.get(key) else {
            return;
        };
        let Some(pr) = repo.pulls.get(&number) else {
            return;
        };
        let mut payload = Map::new();
        payload.insert("action".into(), json!(action));
        payload.insert("number".into(), json!(number));
        payload.insert(
            "pull_request".into(),
            render::pull_request(self, repo, pr, PullShape::Full),
        );
        payload.extend(extra);
        payload.insert("repository".into(), render::repository(self, repo));
        if let Some(owner) = self.accounts.get(&repo.owner)
            && owner.kind == AccountKind::Organization
        {
            payload.insert(
                "organization".into(),
                render::organization(&self.base, owner),
            );
        }
        payload.insert("sender".into(), render::account(&self.base, &sender));
        if let Some(inst) = self.installation_json() {
            payload.insert("installation".into(), inst);
        }
        self.outbox.push(OutgoingEvent {
            event: "pull_request".into(),
            action: Some(action.into()),
            payload: Value::Object(payload),
        });
    }

    /// Queues a `ping`, which GitHub sends when a webhook is created.
    pub fn emit_ping(&mut self, hook_id: u64, url: &str) {
        let payload = json!({
            "zen": "Design for failure.",
            "hook_id": hook_id,
            "hook": {
                "type": "Repository",
                "id": hook_id,
                "name": "web",
                "active": true,
                "events": ["pull_request"],
                "config": {"content_type": "json", "insecure_ssl": "0", "url": url},
                "updated_at": crate::time::rfc3339(self.now()),
                "created_at": crate::time::rfc3339(self.now()),
            },
        });
        self.outbox.push(OutgoingEvent {
            event: "ping".into(),
            action: None,
            payload,
        });
    }

    fn installation_json(&self) -> Option<Value> {
        self.installation_id
            .map(|id| json!({"id": id, "node_id": ids::node_id("IntegrationInstallation", id)}))
    }
}

/// `{"label": <label>}` for labeled/unlabeled events.
pub fn label_extra(label: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("label".into(), label);
    m
}
