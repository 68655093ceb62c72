//! The pages that lead to PR pages: every repository's PRs at `/`, one repository's at
//! `/{owner}/{repo}/pulls`, and the page for something that is not there.

use std::fmt::Write as _;

use crate::model::{Repo, World};

use super::html::{document, esc, label_colours};
use super::sections::state;
use super::{REFRESH_SECS, topbar};

/// Every repository with its PRs, newest first.
pub fn index_page(world: &World) -> String {
    let mut body = topbar("GitHub simulator");
    body.push_str("<main>\n<h1>Pull requests</h1>\n");
    if world.repos.is_empty() {
        body.push_str("<p class=\"muted\">No repositories yet.</p>\n");
    }
    for repo in world.repos.values() {
        body.push_str(&pulls(repo));
    }
    body.push_str("</main>\n");
    document("Pull requests · GitHub simulator", REFRESH_SECS, &body)
}

/// One repository's PRs; `None` for an unknown repository.
pub fn pulls_page(world: &World, owner: &str, name: &str) -> Option<String> {
    let repo = world.repo(owner, name)?;
    let mut body = topbar(&repo.full_name());
    body.push_str("<main>\n");
    body.push_str(&pulls(repo));
    body.push_str("</main>\n");
    let title = format!("Pull requests · {}", repo.full_name());
    Some(document(&title, REFRESH_SECS, &body))
}

fn pulls(repo: &Repo) -> String {
    let full = repo.full_name();
    let mut out = format!(
        "<section class=\"box pulls\" data-repo=\"{0}\">\n<h2><a href=\"/{0}/pulls\">{0}</a></h2>\n",
        esc(&full)
    );
    if repo.pulls.is_empty() {
        out.push_str("<div class=\"empty\">No pull requests</div>\n");
    }
    out.push_str("<ul>\n");
    for pr in repo.pulls.values().rev() {
        let (word, class) = state(pr);
        let labels: String = pr
            .labels
            .iter()
            .filter_map(|id| repo.label(*id))
            .map(|l| {
                let (bg, fg) = label_colours(&l.color);
                format!(
                    " <span class=\"label\" style=\"background-color:{bg};color:{fg}\">{}</span>",
                    esc(&l.name)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<li><span class=\"state {class}\">{word}</span> <a href=\"/{}/pull/{n}\">{}</a> \
             <span class=\"muted\">#{n}</span>{labels}</li>",
            esc(&full),
            esc(&pr.title),
            n = pr.number,
        );
    }
    out.push_str("</ul>\n</section>\n");
    out
}

/// GitHub's answer for a page that is not there, as a page.
pub fn not_found_page(what: &str) -> String {
    let mut body = topbar("GitHub simulator");
    let _ = write!(
        body,
        "<main>\n<h1>404</h1>\n<p id=\"not-found\">This is not the web page you are looking for: \
         {} is not here.</p>\n<p><a href=\"/\">All pull requests</a></p>\n</main>\n",
        esc(what)
    );
    document("Page not found · GitHub simulator", 0, &body)
}
