//! The `Link` header of paginated responses (RFC 8288), as GitHub writes it:
//! `<https://api.github.com/…?page=2>; rel="next", <https://api.github.com/…?page=5>; rel="last"`.

/// The URL of the link whose `rel` includes `rel`, if any.
pub fn find_link(header: &str, rel: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let url = &rest[start + 1..end];
        let after = &rest[end + 1..];
        // Parameters run up to the next `<` (URLs cannot contain a raw `<`).
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        if params.split(';').any(|param| rel_matches(param, rel)) {
            return Some(url.to_owned());
        }
        rest = &after[params_end..];
    }
}

/// The `rel="next"` URL: where the next page is.
pub fn next_link(header: &str) -> Option<String> {
    find_link(header, "next")
}

/// The number of the last page (`rel="last"`, its `page` parameter), if the header says.
pub fn last_page(header: &str) -> Option<u32> {
    let url = find_link(header, "last")?;
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))
        .and_then(|n| n.parse().ok())
}

fn rel_matches(param: &str, rel: &str) -> bool {
    let Some((key, value)) = param.split_once('=') else {
        return false;
    };
    if !key.trim().eq_ignore_ascii_case("rel") {
        return false;
    }
    let value = value.trim().trim_end_matches(',').trim().trim_matches('"');
    // `rel` may hold several space-separated relation types.
    value
        .split_ascii_whitespace()
        .any(|v| v.eq_ignore_ascii_case(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_page_number() {
        let header = r#"<https://api.github.com/repositories/3544490/issues?page=2>; rel="next", <https://api.github.com/repositories/3544490/issues?per_page=100&page=34>; rel="last""#;
        assert_eq!(last_page(header), Some(34));
        assert_eq!(last_page(r#"<https://x/?page=2>; rel="next""#), None);
        assert_eq!(last_page(r#"<https://x/?page=z>; rel="last""#), None);
    }

    const GITHUB: &str = r#"<https://api.github.com/repositories/1300192/issues?page=2>; rel="prev", <https://api.github.com/repositories/1300192/issues?page=4>; rel="next", <https://api.github.com/repositories/1300192/issues?page=515>; rel="last", <https://api.github.com/repositories/1300192/issues?page=1>; rel="first""#;

    #[test]
    fn finds_next_among_several() {
        assert_eq!(
            next_link(GITHUB).as_deref(),
            Some("https://api.github.com/repositories/1300192/issues?page=4")
        );
        assert_eq!(
            find_link(GITHUB, "last").as_deref(),
            Some("https://api.github.com/repositories/1300192/issues?page=515")
        );
    }

    #[test]
    fn no_next_on_the_last_page() {
        let last = r#"<https://api.github.com/x?page=1>; rel="first", <https://api.github.com/x?page=4>; rel="prev""#;
        assert_eq!(next_link(last), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link("<unterminated; rel=\"next\""), None);
    }

    #[test]
    fn tolerates_unquoted_and_multi_valued_rel_and_spacing() {
        assert_eq!(
            next_link("<http://127.0.0.1:8080/a?page=2>;rel=next").as_deref(),
            Some("http://127.0.0.1:8080/a?page=2")
        );
        assert_eq!(
            next_link(r#"<http://h/a?page=2> ; REL="last next""#).as_deref(),
            Some("http://h/a?page=2")
        );
        assert_eq!(next_link(r#"<http://h/a?page=2>; rel="nextish""#), None);
    }
}
