//! GitHub-flavoured markdown to HTML for comment bodies and check-run summaries: tables,
//! strikethrough and task lists as on github.com. Raw HTML in the markdown is sanitized, as
//! GitHub does: comments (prtracker's hidden marker) vanish, a few harmless tags without
//! attributes (`<details>`, `<summary>`, `<br>`, …) stay, and anything else is shown as text.
//! (GitHub drops a `<script>` with its content; showing it escaped is as inert and shows what was
//! sent.) Links keep http(s) destinations only; images become links, so the page loads nothing.

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

use super::html::esc;

/// Tags GitHub lets through that carry no behaviour; kept only in their bare form.
const ALLOWED_TAGS: [&str; 16] = [
    "details", "summary", "br", "b", "i", "em", "strong", "code", "kbd", "sub", "sup", "s", "del",
    "ins", "p", "hr",
];

/// `markdown` rendered to HTML that is safe to put in the page.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_GFM;
    let mut sanitizer = Sanitizer::default();
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => {
            Event::Html(CowStr::from(sanitizer.clean(&raw)))
        }
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_dest(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            dest_url,
            title,
            id,
            ..
        }) => Event::Start(Tag::Link {
            link_type: LinkType::Inline,
            dest_url: safe_dest(dest_url),
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut out, events);
    out
}

/// Web and in-page links stay; `javascript:` and the like become `#`.
fn safe_dest(dest: CowStr<'_>) -> CowStr<'_> {
    let lower = dest.trim().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with('#') {
        dest
    } else {
        CowStr::from("#")
    }
}

/// Raw HTML of one markdown document, chunk by chunk (the parser hands an HTML block over line by
/// line, so a comment may span chunks).
#[derive(Default)]
struct Sanitizer {
    in_comment: bool,
}

impl Sanitizer {
    fn clean(&mut self, raw: &str) -> String {
        let mut out = String::new();
        let mut rest = raw;
        loop {
            if self.in_comment {
                match rest.find("-->") {
                    Some(end) => {
                        rest = &rest[end + 3..];
                        self.in_comment = false;
                    }
                    None => return out,
                }
            }
            let Some(open) = rest.find('<') else {
                out.push_str(&text(rest));
                return out;
            };
            out.push_str(&text(&rest[..open]));
            rest = &rest[open..];
            if let Some(after) = rest.strip_prefix("<!--") {
                self.in_comment = true;
                rest = after;
            } else if let Some((tag, len)) = allowed_tag(rest) {
                out.push_str(&tag);
                rest = &rest[len..];
            } else {
                out.push_str("&lt;");
                rest = &rest[1..];
            }
        }
    }
}

/// A bare allowed tag at the start of `s` (`<details>`, `</summary>`, `<br/>`): the tag as
/// written back and the length it took.
fn allowed_tag(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix('<')?;
    let (closing, body) = match body.strip_prefix('/') {
        Some(b) => ("/", b),
        None => ("", body),
    };
    let name_len = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let name = body[..name_len].to_ascii_lowercase();
    if !ALLOWED_TAGS.contains(&name.as_str()) {
        return None;
    }
    let tail = &body[name_len..];
    let trimmed = tail.trim_start();
    let trimmed = trimmed.strip_prefix('/').unwrap_or(trimmed);
    trimmed.strip_prefix('>')?;
    let consumed = s.len() - trimmed.len() + 1;
    Some((format!("<{closing}{name}>"), consumed))
}

/// Text between tags in raw HTML: escaped, but character references (`&amp;`, `&#8212;`) kept,
/// since they are already inert and a person wrote them to be shown as characters.
fn text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&esc(&rest[..amp]));
        let after = &rest[amp + 1..];
        let reference = after
            .find(';')
            .filter(|&end| {
                end > 0
                    && end <= 32
                    && after[..end]
                        .trim_start_matches('#')
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric())
            })
            .map(|end| &after[..end]);
        match reference {
            Some(r) => {
                out.push('&');
                out.push_str(r);
                out.push(';');
                rest = &after[r.len() + 1..];
            }
            None => {
                out.push_str("&amp;");
                rest = after;
            }
        }
    }
    out.push_str(&esc(rest));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_renders_and_the_marker_is_hidden() {
        let html = to_html(
            "<!-- prtracker:status a/b#1 -->\n**x**\n\n| a | b |\n| --- | --- |\n| 1 | `2` |\n",
        );
        assert!(!html.contains("prtracker:status"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<td><code>2</code></td>"), "{html}");
        assert!(html.contains("<strong>x</strong>"), "{html}");
    }

    #[test]
    fn scripts_and_attributes_are_text() {
        let html = to_html(
            "hi <script>alert(1)</script>\n\n<script>\nalert(2)\n</script>\n\n<b onclick=\"x\">b</b>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b onclick"), "{html}");
    }

    #[test]
    fn details_stay_and_links_are_checked() {
        let html = to_html(
            "<details><summary>Changed by hand in <i>c1</i></summary>\n\n- x\n\n</details>\n\n[a](javascript:alert(1)) ![img](https://e/x.png) &amp;",
        );
        assert!(
            html.contains("<details><summary>Changed by hand in <i>c1</i></summary>"),
            "{html}"
        );
        assert!(html.contains("</details>"), "{html}");
        assert!(html.contains("<a href=\"#\">a</a>"), "{html}");
        assert!(
            html.contains("<a href=\"https://e/x.png\">img</a>"),
            "{html}"
        );
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn a_comment_over_lines_is_hidden_whole() {
        let html = to_html("<!--\nsecret\n-->\nshown");
        assert!(!html.contains("secret"), "{html}");
        assert!(html.contains("shown"), "{html}");
    }
}
