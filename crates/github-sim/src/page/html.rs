//! Small HTML helpers: escaping (every string from the world passes through [`esc`]), label
//! colours, times and links. Nothing here trusts its input.

use crate::time::rfc3339;

/// Text or attribute value made inert: `&`, `<`, `>`, `"` and `'` become entities.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A label's pill colours: its own as the background (GitHub keeps six hex digits, but the
/// value is checked again here because it lands in a `style` attribute), and black or white text,
/// whichever reads better on it.
pub fn label_colours(color: &str) -> (String, &'static str) {
    let hex = color.trim_start_matches('#');
    let channel = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
    };
    match (hex.len(), channel(0), channel(2), channel(4)) {
        (6, Some(r), Some(g), Some(b)) => {
            let luma = 299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b);
            let fg = if luma > 150_000 { "#1f2328" } else { "#ffffff" };
            (format!("#{}", hex.to_ascii_lowercase()), fg)
        }
        _ => ("#ededed".to_string(), "#1f2328"),
    }
}

/// A time as a person reads it, with the exact instant in `datetime`.
pub fn time(epoch: i64) -> String {
    let exact = rfc3339(epoch);
    let shown = exact.get(..16).unwrap_or(&exact).replace('T', " ");
    format!("<time datetime=\"{exact}\">{shown} UTC</time>")
}

/// A commit's short form, as GitHub shows it.
pub fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// An `href` for a URL from the world: http(s) only (no `javascript:`), escaped.
pub fn safe_href(url: &str) -> Option<String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://")).then(|| esc(url))
}

/// `<a href>` to `url` when it is safe, else nothing.
pub fn link(url: Option<&str>, text: &str) -> String {
    match url.filter(|u| !u.is_empty()).and_then(safe_href) {
        Some(href) => format!(
            "<a class=\"details\" href=\"{href}\" rel=\"nofollow noopener\">{}</a>",
            esc(text)
        ),
        None => String::new(),
    }
}

/// An HTML document: the given title and body, the page's style, and a refresh so a page left
/// open follows the simulated world (`refresh` seconds; none when 0).
pub fn document(title: &str, refresh: u32, body: &str) -> String {
    let meta = if refresh > 0 {
        format!("<meta http-equiv=\"refresh\" content=\"{refresh}\">\n")
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{meta}\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
        esc(title),
        super::style::CSS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn label_text_reads_on_its_colour() {
        assert_eq!(label_colours("d73a4a"), ("#d73a4a".into(), "#ffffff"));
        assert_eq!(label_colours("FFFFFF"), ("#ffffff".into(), "#1f2328"));
        assert_eq!(label_colours("red;x:y"), ("#ededed".into(), "#1f2328"));
    }

    #[test]
    fn only_web_links_are_links() {
        assert!(safe_href("javascript:alert(1)").is_none());
        assert_eq!(
            safe_href("https://x/?a=1&b").as_deref(),
            Some("https://x/?a=1&amp;b")
        );
    }
}
