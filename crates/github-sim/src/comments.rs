//! GitHub's issue comments on pull requests: a PR's conversation, listed oldest first; a body is
//! a string of at most 65,536 characters; each creation, edit and deletion is an `issue_comment`
//! webhook (`created`, `edited` with the former body, `deleted`). A new comment moves its PR's
//! `updated_at`, as on GitHub, so it shows in a listing of PRs by update time.

use http::StatusCode;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::model::{IssueComment, Repo, World};
use crate::render;

/// GitHub's limit on a comment's body, in characters.
pub const MAX_BODY_CHARS: usize = 65_536;

pub const DOC_LIST: &str = "https://docs.github.com/rest/issues/comments#list-issue-comments";
pub const DOC_CREATE: &str = "https://docs.github.com/rest/issues/comments#create-an-issue-comment";
pub const DOC_GET: &str = "https://docs.github.com/rest/issues/comments#get-an-issue-comment";
pub const DOC_UPDATE: &str = "https://docs.github.com/rest/issues/comments#update-an-issue-comment";
pub const DOC_DELETE: &str = "https://docs.github.com/rest/issues/comments#delete-an-issue-comment";

/// The `body` of a create or update request: 400 for JSON that does not parse, 422 for a body
/// that is absent, `null`, empty or not a string (the length is checked by [`check_body`]).
pub fn body_of_request(bytes: &[u8], doc: &str) -> Result<String, ApiError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|_| ApiError::bad_json(doc))?;
    match v.get("body") {
        None | Some(Value::Null) => Err(missing_body(doc)),
        Some(Value::String(s)) if s.is_empty() => Err(missing_body(doc)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::validation("IssueComment", "invalid", "body", doc)),
    }
}

fn missing_body(doc: &str) -> ApiError {
    ApiError::validation("IssueComment", "missing_field", "body", doc)
}

/// GitHub refuses a body over 65,536 characters (characters, not bytes) with this error, as
/// clients have logged it (e.g. easybuilders/easybuild-easyconfigs#24647, 2025).
pub fn check_body(body: &str, doc: &str) -> Result<(), ApiError> {
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::validation_message(
            "IssueComment",
            "unprocessable",
            "data",
            &format!("Body is too long (maximum is {MAX_BODY_CHARS} characters)"),
            doc,
        ));
    }
    Ok(())
}

impl World {
    /// The comments on PR `number`, oldest first, with their repository (for rendering).
    pub fn issue_comments(
        &self,
        owner: &str,
        name: &str,
        number: u64,
    ) -> Result<(&Repo, Vec<&IssueComment>), ApiError> {
        let key = self.issue_key(owner, name, number, DOC_LIST)?;
        let repo = self
            .repos
            .get(&key)
            .ok_or_else(|| ApiError::not_found(DOC_LIST))?;
        let list = repo.comments.iter().filter(|c| c.issue == number).collect();
        Ok((repo, list))
    }

    /// A comment as the REST API renders it (`Null` for an unknown repository).
    pub fn comment_json(&self, owner: &str, name: &str, c: &IssueComment) -> Value {
        self.repo(owner, name)
            .map(|r| render::issue_comment(self, r, c))
            .unwrap_or(Value::Null)
    }

    /// Comment `id` of the repository, wherever it is: 404 when it is not in this repository.
    pub fn issue_comment(
        &self,
        owner: &str,
        name: &str,
        id: u64,
        doc: &str,
    ) -> Result<IssueComment, ApiError> {
        self.repo(owner, name)
            .and_then(|r| r.comments.iter().find(|c| c.id == id))
            .cloned()
            .ok_or_else(|| ApiError::not_found(doc))
    }

    /// `POST .../issues/{n}/comments`: a new comment by `sender` (a `created` webhook).
    pub fn create_issue_comment(
        &mut self,
        owner: &str,
        name: &str,
        number: u64,
        body: &str,
        sender: &str,
    ) -> Result<IssueComment, ApiError> {
        let key = self.issue_key(owner, name, number, DOC_CREATE)?;
        check_body(body, DOC_CREATE)?;
        self.account(sender);
        let id = self.alloc_id();
        let now = self.now();
        let repo = self
            .repos
            .get_mut(&key)
            .ok_or_else(|| ApiError::not_found(DOC_CREATE))?;
        let comment = IssueComment {
            id,
            issue: number,
            user: sender.to_string(),
            body: body.to_string(),
            created_at: now,
            updated_at: now,
        };
        repo.comments.push(comment.clone());
        if let Some(pr) = repo.pulls.get_mut(&number) {
            pr.updated_at = now;
        }
        self.emit_issue_comment(&key, &comment, "created", sender, None);
        Ok(comment)
    }

    /// `PATCH .../issues/comments/{id}`: a new body. A body that changes moves `updated_at` and
    /// is an `edited` webhook with the former body; the same body again changes nothing.
    pub fn edit_issue_comment(
        &mut self,
        owner: &str,
        name: &str,
        id: u64,
        body: &str,
        sender: &str,
    ) -> Result<IssueComment, ApiError> {
        let key = World::repo_key(owner, name);
        let now = self.now();
        let repo = self
            .repos
            .get_mut(&key)
            .ok_or_else(|| ApiError::not_found(DOC_UPDATE))?;
        let comment = repo
            .comments
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| ApiError::not_found(DOC_UPDATE))?;
        check_body(body, DOC_UPDATE)?;
        if comment.body == body {
            return Ok(comment.clone());
        }
        let from = std::mem::replace(&mut comment.body, body.to_string());
        comment.updated_at = now;
        let edited = comment.clone();
        self.emit_issue_comment(
            &key,
            &edited,
            "edited",
            sender,
            Some(json!({"body": {"from": from}})),
        );
        Ok(edited)
    }

    /// `DELETE .../issues/comments/{id}`: the comment goes (a `deleted` webhook).
    pub fn delete_issue_comment(
        &mut self,
        owner: &str,
        name: &str,
        id: u64,
        sender: &str,
    ) -> Result<(), ApiError> {
        let key = World::repo_key(owner, name);
        let repo = self
            .repos
            .get_mut(&key)
            .ok_or_else(|| ApiError::not_found(DOC_DELETE))?;
        let index = repo
            .comments
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| ApiError::not_found(DOC_DELETE))?;
        let gone = repo.comments.remove(index);
        // The payload shows the comment as it was; its issue's count is already one less.
        self.emit_issue_comment(&key, &gone, "deleted", sender, None);
        Ok(())
    }
}

/// An error for a comment request by no one (GitHub: writes need authentication).
pub fn requires_authentication() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "Requires authentication",
        crate::error::DOCS,
    )
}
