//! Webhook payloads (`pull_request`, `issue_comment`, `ping`), shaped like GitHub's deliveries,
//! rendered at the moment of the change and queued on the world's outbox.

use serde_json::{Map, Value, json};

use crate::ids;
use crate::model::{Account, AccountKind, IssueComment, OutgoingEvent, Repo, World};
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
        self.finish_payload(&mut payload, repo, &sender);
        self.outbox.push(OutgoingEvent {
            event: "pull_request".into(),
            action: Some(action.into()),
            payload: Value::Object(payload),
        });
    }

    /// Queues an `issue_comment` event for comment `id` of the repository `key` (`created`,
    /// `edited` with `changes.body.from`, `deleted`). `comment` is the comment as it is after the
    /// action (before it, for `deleted`).
    pub fn emit_issue_comment(
        &mut self,
        key: &str,
        comment: &IssueComment,
        action: &str,
        sender: &str,
        changes: Option<Value>,
    ) {
        let sender = self.account(sender);
        let Some(repo) = self.repos.get(key) else {
            return;
        };
        let Some(pr) = repo.pulls.get(&comment.issue) else {
            return;
        };
        let mut payload = Map::new();
        payload.insert("action".into(), json!(action));
        if let Some(changes) = changes {
            payload.insert("changes".into(), changes);
        }
        payload.insert("issue".into(), render::issue(self, repo, pr));
        payload.insert("comment".into(), render::issue_comment(self, repo, comment));
        self.finish_payload(&mut payload, repo, &sender);
        self.outbox.push(OutgoingEvent {
            event: "issue_comment".into(),
            action: Some(action.into()),
            payload: Value::Object(payload),
        });
    }

    /// The members every repository event ends with: `repository`, `organization` (when an
    /// organization owns it), `sender`, and `installation` (when the simulator is an App's).
    pub(crate) fn finish_payload(
        &self,
        payload: &mut Map<String, Value>,
        repo: &Repo,
        sender: &Account,
    ) {
        payload.insert("repository".into(), render::repository(self, repo));
        if let Some(owner) = self.accounts.get(&repo.owner)
            && owner.kind == AccountKind::Organization
        {
            payload.insert(
                "organization".into(),
                render::organization(&self.base, owner),
            );
        }
        payload.insert("sender".into(), render::account(&self.base, sender));
        if let Some(inst) = self.installation_json() {
            payload.insert("installation".into(), inst);
        }
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
