//! GitHub's label rules: repository labels are unique by case-insensitive name and keep the case
//! they were first written with; adding an unknown label to an issue creates it (`ededed`, no
//! description); every change to an issue's labels is a `labeled`/`unlabeled` webhook.

use http::StatusCode;
use serde_json::Value;

use crate::error::ApiError;
use crate::model::{Label, Repo, World};
use crate::payload::label_extra;
use crate::render;

const DOC_ADD: &str = "https://docs.github.com/rest/issues/labels#add-labels-to-an-issue";
const DOC_SET: &str = "https://docs.github.com/rest/issues/labels#set-labels-for-an-issue";
const DOC_REMOVE: &str = "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue";
const DOC_CREATE: &str = "https://docs.github.com/rest/issues/labels#create-a-label";
const DOC_UPDATE: &str = "https://docs.github.com/rest/issues/labels#update-a-label";
const DOC_DELETE: &str = "https://docs.github.com/rest/issues/labels#delete-a-label";
const DOC_ISSUE_LABELS: &str =
    "https://docs.github.com/rest/issues/labels#list-labels-for-an-issue";

/// GitHub compares label names case-insensitively.
pub fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

pub fn find_label<'a>(repo: &'a Repo, name: &str) -> Option<&'a Label> {
    repo.labels.iter().find(|l| same_name(&l.name, name))
}

/// `rrggbb` (a leading `#` is tolerated, as GitHub does).
pub fn normalize_color(color: &str) -> Option<String> {
    let c = color.strip_prefix('#').unwrap_or(color);
    (c.len() == 6 && c.chars().all(|ch| ch.is_ascii_hexdigit())).then(|| c.to_lowercase())
}

fn not_found_issue(doc: &str) -> ApiError {
    ApiError::not_found(doc)
}

impl World {
    fn ensure_label(&mut self, key: &str, name: &str) -> Option<u64> {
        let id = self.alloc_id();
        let repo = self.repos.get_mut(key)?;
        if let Some(l) = find_label(repo, name) {
            return Some(l.id);
        }
        repo.labels.push(Label {
            id,
            name: name.to_string(),
            color: "ededed".into(),
            description: None,
            default: false,
        });
        Some(id)
    }

    /// Checks the repository and issue exist and returns the repository key.
    pub(crate) fn issue_key(
        &self,
        owner: &str,
        name: &str,
        number: u64,
        doc: &str,
    ) -> Result<String, ApiError> {
        let key = World::repo_key(owner, name);
        let repo = self.repos.get(&key).ok_or_else(|| not_found_issue(doc))?;
        repo.pulls
            .get(&number)
            .ok_or_else(|| not_found_issue(doc))?;
        Ok(key)
    }

    fn label_json(&self, key: &str, id: u64) -> Value {
        self.repos
            .get(key)
            .and_then(|r| r.label(id).map(|l| render::label(&self.base, r, l)))
            .unwrap_or(Value::Null)
    }

    fn issue_label_ids(&self, key: &str, number: u64) -> Vec<u64> {
        self.repos
            .get(key)
            .and_then(|r| r.pulls.get(&number))
            .map(|p| p.labels.clone())
            .unwrap_or_default()
    }

    fn write_issue_labels(&mut self, key: &str, number: u64, ids: Vec<u64>) {
        let now = self.now();
        if let Some(pr) = self
            .repos
            .get_mut(key)
            .and_then(|r| r.pulls.get_mut(&number))
        {
            pr.labels = ids;
            pr.updated_at = now;
        }
    }

    /// The labels on an issue, as `GET /repos/{o}/{r}/issues/{n}/labels` returns them.
    pub fn list_issue_labels(
        &self,
        owner: &str,
        name: &str,
        number: u64,
    ) -> Result<Value, ApiError> {
        let key = self.issue_key(owner, name, number, DOC_ISSUE_LABELS)?;
        Ok(self.render_issue_labels(&key, number))
    }

    fn render_issue_labels(&self, key: &str, number: u64) -> Value {
        self.repos
            .get(key)
            .and_then(|r| {
                r.pulls
                    .get(&number)
                    .map(|p| render::issue_labels(&self.base, r, p))
            })
            .unwrap_or(Value::Array(vec![]))
    }

    /// `POST .../issues/{n}/labels`: adds, creating unknown labels; returns the full list.
    pub fn add_issue_labels(
        &mut self,
        owner: &str,
        name: &str,
        number: u64,
        names: &[String],
        sender: &str,
    ) -> Result<Value, ApiError> {
        let key = self.issue_key(owner, name, number, DOC_ADD)?;
        validate_names(names, DOC_ADD)?;
        for n in names {
            let id = self
                .ensure_label(&key, n)
                .ok_or_else(|| not_found_issue(DOC_ADD))?;
            let mut ids = self.issue_label_ids(&key, number);
            if !ids.contains(&id) {
                ids.push(id);
                self.write_issue_labels(&key, number, ids);
                let label = self.label_json(&key, id);
                self.emit_pull_request(&key, number, "labeled", sender, label_extra(label));
            }
        }
        Ok(self.render_issue_labels(&key, number))
    }

    /// `PUT .../issues/{n}/labels`: replaces the whole set.
    pub fn set_issue_labels(
        &mut self,
        owner: &str,
        name: &str,
        number: u64,
        names: &[String],
        sender: &str,
    ) -> Result<Value, ApiError> {
        let key = self.issue_key(owner, name, number, DOC_SET)?;
        validate_names(names, DOC_SET)?;
        let mut wanted = Vec::new();
        for n in names {
            let id = self
                .ensure_label(&key, n)
                .ok_or_else(|| not_found_issue(DOC_SET))?;
            if !wanted.contains(&id) {
                wanted.push(id);
            }
        }
        let before = self.issue_label_ids(&key, number);
        // Removals first, then additions, each as its own event (as GitHub delivers them).
        let mut current = before.clone();
        for id in before.iter().filter(|id| !wanted.contains(id)) {
            current.retain(|x| x != id);
            self.write_issue_labels(&key, number, current.clone());
            let label = self.label_json(&key, *id);
            self.emit_pull_request(&key, number, "unlabeled", sender, label_extra(label));
        }
        for id in wanted.iter().filter(|id| !before.contains(id)) {
            current.push(*id);
            self.write_issue_labels(&key, number, current.clone());
            let label = self.label_json(&key, *id);
            self.emit_pull_request(&key, number, "labeled", sender, label_extra(label));
        }
        Ok(self.render_issue_labels(&key, number))
    }

    /// `DELETE .../issues/{n}/labels/{name}`: 404 "Label does not exist" when the issue lacks it.
    pub fn remove_issue_label(
        &mut self,
        owner: &str,
        name: &str,
        number: u64,
        label: &str,
        sender: &str,
    ) -> Result<Value, ApiError> {
        let key = self.issue_key(owner, name, number, DOC_REMOVE)?;
        let ids = self.issue_label_ids(&key, number);
        let found = self.repos.get(&key).and_then(|r| {
            ids.iter()
                .copied()
                .find(|id| r.label(*id).is_some_and(|l| same_name(&l.name, label)))
        });
        let Some(id) = found else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "Label does not exist",
                DOC_REMOVE,
            ));
        };
        let remaining: Vec<u64> = ids.into_iter().filter(|x| *x != id).collect();
        self.write_issue_labels(&key, number, remaining);
        let label = self.label_json(&key, id);
        self.emit_pull_request(&key, number, "unlabeled", sender, label_extra(label));
        Ok(self.render_issue_labels(&key, number))
    }

    /// `POST /repos/{o}/{r}/labels`.
    pub fn create_label(
        &mut self,
        owner: &str,
        name: &str,
        label: &str,
        color: Option<&str>,
        description: Option<&str>,
    ) -> Result<Value, ApiError> {
        let key = World::repo_key(owner, name);
        if !self.repos.contains_key(&key) {
            return Err(ApiError::not_found(DOC_CREATE));
        }
        if label.trim().is_empty() {
            return Err(ApiError::validation(
                "Label",
                "missing_field",
                "name",
                DOC_CREATE,
            ));
        }
        let color = match color {
            None => "ededed".to_string(),
            Some(c) => normalize_color(c)
                .ok_or_else(|| ApiError::validation("Label", "invalid", "color", DOC_CREATE))?,
        };
        let id = self.alloc_id();
        let repo = self
            .repos
            .get_mut(&key)
            .ok_or_else(|| ApiError::not_found(DOC_CREATE))?;
        if find_label(repo, label).is_some() {
            return Err(ApiError::validation(
                "Label",
                "already_exists",
                "name",
                DOC_CREATE,
            ));
        }
        let l = Label {
            id,
            name: label.to_string(),
            color,
            description: description.map(str::to_string),
            default: false,
        };
        repo.labels.push(l.clone());
        Ok(render::label(&self.base, repo, &l))
    }

    /// `PATCH /repos/{o}/{r}/labels/{name}`: a new colour and description (a name is kept).
    pub fn update_label(
        &mut self,
        owner: &str,
        name: &str,
        label: &str,
        color: Option<&str>,
        description: Option<Option<&str>>,
    ) -> Result<Value, ApiError> {
        let color = match color {
            None => None,
            Some(c) => Some(
                normalize_color(c)
                    .ok_or_else(|| ApiError::validation("Label", "invalid", "color", DOC_UPDATE))?,
            ),
        };
        let base = self.base.clone();
        let repo = self
            .repo_mut(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC_UPDATE))?;
        let index = repo
            .labels
            .iter()
            .position(|l| same_name(&l.name, label))
            .ok_or_else(|| ApiError::not_found(DOC_UPDATE))?;
        let existing = &mut repo.labels[index];
        if let Some(color) = color {
            existing.color = color;
        }
        if let Some(description) = description {
            existing.description = description.map(str::to_string);
        }
        let updated = existing.clone();
        Ok(render::label(&base, repo, &updated))
    }

    /// `DELETE /repos/{o}/{r}/labels/{name}`: the definition goes, and the label with it from
    /// every issue (GitHub sends no `unlabeled` event for that).
    pub fn delete_label(&mut self, owner: &str, name: &str, label: &str) -> Result<(), ApiError> {
        let now = self.now();
        let repo = self
            .repo_mut(owner, name)
            .ok_or_else(|| ApiError::not_found(DOC_DELETE))?;
        let id = repo
            .labels
            .iter()
            .find(|l| same_name(&l.name, label))
            .map(|l| l.id)
            .ok_or_else(|| ApiError::not_found(DOC_DELETE))?;
        repo.labels.retain(|l| l.id != id);
        for pr in repo.pulls.values_mut() {
            if pr.labels.contains(&id) {
                pr.labels.retain(|l| *l != id);
                pr.updated_at = now;
            }
        }
        Ok(())
    }

    /// `GET /repos/{o}/{r}/labels` items, in creation order (defaults first).
    pub fn repo_labels(&self, owner: &str, name: &str) -> Option<Vec<Value>> {
        let repo = self.repo(owner, name)?;
        Some(
            repo.labels
                .iter()
                .map(|l| render::label(&self.base, repo, l))
                .collect(),
        )
    }
}

fn validate_names(names: &[String], doc: &str) -> Result<(), ApiError> {
    if names.iter().any(|n| n.trim().is_empty()) {
        return Err(ApiError::validation("Label", "invalid", "name", doc));
    }
    Ok(())
}
