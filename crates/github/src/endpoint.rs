//! The endpoints the client calls: their templates (metric labels with bounded cardinality) and
//! their paths, with every variable part percent-encoded.

use http::Method;

mod paths;
pub use paths::*;

/// One endpoint of GitHub's REST API that the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    GetPull,
    ListPulls,
    AddIssueLabels,
    RemoveIssueLabel,
    ListRepoLabels,
    CreateRepoLabel,
    UpdateRepoLabel,
    GetContents,
    GetTree,
    GetBlob,
    GetCommit,
    GetBranch,
    GetRepoInstallation,
    RateLimit,
    GetApp,
    ListIssueComments,
    CreateIssueComment,
    UpdateIssueComment,
    ListDeployments,
    CreateDeployment,
    CreateDeploymentStatus,
    ListDeploymentStatuses,
    GetCombinedStatus,
    CreateCommitStatus,
    ListCheckRunsForRef,
    CreateCheckRun,
    UpdateCheckRun,
}

impl Endpoint {
    pub const ALL: [Endpoint; 27] = [
        Endpoint::GetPull,
        Endpoint::ListPulls,
        Endpoint::AddIssueLabels,
        Endpoint::RemoveIssueLabel,
        Endpoint::ListRepoLabels,
        Endpoint::CreateRepoLabel,
        Endpoint::UpdateRepoLabel,
        Endpoint::GetContents,
        Endpoint::GetTree,
        Endpoint::GetBlob,
        Endpoint::GetCommit,
        Endpoint::GetBranch,
        Endpoint::GetRepoInstallation,
        Endpoint::RateLimit,
        Endpoint::GetApp,
        Endpoint::ListIssueComments,
        Endpoint::CreateIssueComment,
        Endpoint::UpdateIssueComment,
        Endpoint::ListDeployments,
        Endpoint::CreateDeployment,
        Endpoint::CreateDeploymentStatus,
        Endpoint::ListDeploymentStatuses,
        Endpoint::GetCombinedStatus,
        Endpoint::CreateCommitStatus,
        Endpoint::ListCheckRunsForRef,
        Endpoint::CreateCheckRun,
        Endpoint::UpdateCheckRun,
    ];

    /// Method and path template, as GitHub's docs write them: the label of the request metrics.
    pub const fn template(self) -> &'static str {
        match self {
            Endpoint::GetPull => "GET /repos/{owner}/{repo}/pulls/{number}",
            Endpoint::ListPulls => "GET /repos/{owner}/{repo}/pulls",
            Endpoint::AddIssueLabels => "POST /repos/{owner}/{repo}/issues/{number}/labels",
            Endpoint::RemoveIssueLabel => {
                "DELETE /repos/{owner}/{repo}/issues/{number}/labels/{name}"
            }
            Endpoint::ListRepoLabels => "GET /repos/{owner}/{repo}/labels",
            Endpoint::CreateRepoLabel => "POST /repos/{owner}/{repo}/labels",
            Endpoint::UpdateRepoLabel => "PATCH /repos/{owner}/{repo}/labels/{name}",
            Endpoint::GetContents => "GET /repos/{owner}/{repo}/contents/{path}",
            Endpoint::GetTree => "GET /repos/{owner}/{repo}/git/trees/{tree_sha}",
            Endpoint::GetBlob => "GET /repos/{owner}/{repo}/git/blobs/{file_sha}",
            Endpoint::GetCommit => "GET /repos/{owner}/{repo}/commits/{ref}",
            Endpoint::GetBranch => "GET /repos/{owner}/{repo}/branches/{branch}",
            Endpoint::GetRepoInstallation => "GET /repos/{owner}/{repo}/installation",
            Endpoint::RateLimit => "GET /rate_limit",
            Endpoint::GetApp => "GET /app",
            Endpoint::ListIssueComments => "GET /repos/{owner}/{repo}/issues/{number}/comments",
            Endpoint::CreateIssueComment => "POST /repos/{owner}/{repo}/issues/{number}/comments",
            Endpoint::UpdateIssueComment => {
                "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"
            }
            Endpoint::ListDeployments => "GET /repos/{owner}/{repo}/deployments",
            Endpoint::CreateDeployment => "POST /repos/{owner}/{repo}/deployments",
            Endpoint::CreateDeploymentStatus => {
                "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
            }
            Endpoint::ListDeploymentStatuses => {
                "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses"
            }
            Endpoint::GetCombinedStatus => "GET /repos/{owner}/{repo}/commits/{ref}/status",
            Endpoint::CreateCommitStatus => "POST /repos/{owner}/{repo}/statuses/{sha}",
            Endpoint::ListCheckRunsForRef => "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
            Endpoint::CreateCheckRun => "POST /repos/{owner}/{repo}/check-runs",
            Endpoint::UpdateCheckRun => "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
        }
    }

    pub fn method(self) -> Method {
        match self {
            Endpoint::AddIssueLabels
            | Endpoint::CreateRepoLabel
            | Endpoint::CreateIssueComment
            | Endpoint::CreateDeployment
            | Endpoint::CreateDeploymentStatus
            | Endpoint::CreateCommitStatus
            | Endpoint::CreateCheckRun => Method::POST,
            Endpoint::RemoveIssueLabel => Method::DELETE,
            Endpoint::UpdateRepoLabel | Endpoint::UpdateIssueComment | Endpoint::UpdateCheckRun => {
                Method::PATCH
            }
            _ => Method::GET,
        }
    }

    /// Writes are spaced apart, as GitHub asks of integrations.
    pub fn is_write(self) -> bool {
        self.method() != Method::GET
    }

    /// Points this request costs against GitHub's secondary limit of 900 a minute: 1 for a read,
    /// 5 for a write.
    pub fn points(self) -> u32 {
        if self.is_write() { 5 } else { 1 }
    }

    /// Whether the request makes content others are notified of, which GitHub limits to 80 a
    /// minute: adding labels and creating label definitions (removals and edits are not).
    pub fn creates_content(self) -> bool {
        self.method() == Method::POST
    }

    /// Whether a write waits its turn behind the previous one. Removing a state label completes
    /// the change its addition began: spacing it would leave two state labels on the PR for the
    /// whole interval, where the operator promises one round trip. Removals never outnumber the
    /// additions that start them, so the write rate stays within GitHub's ask.
    pub fn is_spaced(self) -> bool {
        self.is_write() && self != Endpoint::RemoveIssueLabel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_name_method_and_path() {
        for endpoint in Endpoint::ALL {
            let template = endpoint.template();
            assert!(
                template.starts_with(endpoint.method().as_str()),
                "{template}"
            );
            // Every endpoint is repository-scoped but the two of the credential check.
            let global = matches!(endpoint, Endpoint::RateLimit | Endpoint::GetApp);
            assert_eq!(
                template.contains(" /repos/{owner}/{repo}"),
                !global,
                "{template}"
            );
        }
        assert!(Endpoint::RemoveIssueLabel.is_write());
        assert!(!Endpoint::RemoveIssueLabel.is_spaced());
        assert!(Endpoint::AddIssueLabels.is_spaced());
        assert!(Endpoint::CreateRepoLabel.is_spaced());
        assert!(!Endpoint::GetPull.is_write());
        assert_eq!(
            (
                Endpoint::GetPull.points(),
                Endpoint::AddIssueLabels.points()
            ),
            (1, 5)
        );
        assert!(Endpoint::AddIssueLabels.creates_content());
        assert!(
            !Endpoint::RemoveIssueLabel.creates_content() && !Endpoint::GetPull.creates_content()
        );
        assert!(!Endpoint::GetCommit.is_write() && !Endpoint::GetBranch.is_write());
        // Every endpoint is listed once in ALL.
        let distinct: std::collections::BTreeSet<Endpoint> = Endpoint::ALL.into_iter().collect();
        assert_eq!(distinct.len(), Endpoint::ALL.len());
    }
}
