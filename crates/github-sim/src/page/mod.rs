//! The web pages a person looks at on github.com, for the simulated world: one page per PR at
//! its `html_url` (title, state, labels, conversation, deployments, checks), and lists of PRs
//! leading to them. Read-only, self-contained HTML (inline style, no script, nothing fetched),
//! refreshed every two seconds so a page left open in a demo follows along. Served outside the
//! API's middleware (`http/pages.rs`): looking at a page is not an API request.
//!
//! [`chromium`] renders such a page in headless Chromium, for tests that check what a person
//! would see.

pub mod chromium;
mod html;
mod index;
mod markdown;
mod sections;
mod style;
mod surfaces;

pub(crate) use index::{index_page, not_found_page, pulls_page};

use crate::model::World;

/// Seconds between reloads of an open page.
pub(crate) const REFRESH_SECS: u32 = 2;

/// The page of PR `number` of `owner/name`; `None` when there is no such PR.
pub(crate) fn pull_page(world: &World, owner: &str, name: &str, number: u64) -> Option<String> {
    let repo = world.repo(owner, name)?;
    let pr = repo.pulls.get(&number)?;
    let body = format!(
        "{}<main>\n{}<div class=\"layout\">\n<div class=\"main-column\">\n{}{}{}</div>\n\
         <aside class=\"sidebar\">\n{}{}</aside>\n</div>\n</main>\n",
        topbar(&repo.full_name()),
        sections::header(pr),
        sections::timeline(repo, pr),
        surfaces::deployments(repo, pr),
        surfaces::checks(world, repo, pr),
        sections::labels(repo, pr),
        sections::commits(pr),
    );
    let title = format!("#{} {} · {}", pr.number, pr.title, repo.full_name());
    Some(html::document(&title, REFRESH_SECS, &body))
}

/// The bar at the top: where the page is, and that it is the simulator's.
fn topbar(place: &str) -> String {
    format!(
        "<div class=\"topbar\"><a href=\"/\">pull requests</a> / <b>{}</b>\
         <span class=\"sim\">GitHub simulator</span></div>\n",
        html::esc(place)
    )
}
