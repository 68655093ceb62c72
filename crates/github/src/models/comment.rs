//! A comment in a PR's conversation (an issue comment: GitHub's PRs are issues too).

use serde::{Deserialize, Serialize};

use super::{User, Weigh};

/// One comment, as GitHub returns it (the 2012 schema lacks `html_url`: it defaults to empty).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IssueComment {
    pub id: u64,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl IssueComment {
    /// Who wrote it, empty when GitHub did not say.
    pub fn author(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.login.as_str())
    }
}

impl Weigh for IssueComment {
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.body.len()
            + self.html_url.len()
            + self.author().len()
            + self.updated_at.as_ref().map_or(0, String::len)
    }
}

/// The body of a comment's creation or edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentBody<'a> {
    pub body: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_schemas_read() {
        let now: IssueComment = serde_json::from_str(
            r#"{"id":1806603013,"body":"@kgromov approved","user":{"login":"kgromov"},
                "html_url":"https://github.com/o/r/pull/2#issuecomment-1806603013",
                "updated_at":"2023-11-11T00:45:24Z","reactions":{"total_count":0}}"#,
        )
        .expect("the current schema");
        assert_eq!((now.id, now.author()), (1806603013, "kgromov"));
        let old: IssueComment =
            serde_json::from_str(r#"{"id":20227753,"body":"Comment edited by PyGithub"}"#)
                .expect("the 2012 schema");
        assert_eq!((old.author(), old.html_url.as_str()), ("", ""));
    }
}
