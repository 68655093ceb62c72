//! GitHub's `Link` header (pagination): never a panic, a link found is one the header holds, in
//! any case of its relation type, and a link written among others is found whatever its URL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prtracker_fuzz::link::{find_link, last_page, next_link};

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    for rel in ["next", "last", "prev", "first"] {
        let found = find_link(header, rel);
        if let Some(url) = &found {
            assert!(header.contains(&format!("<{url}>")), "{url:?}");
            assert!(!url.contains('>'));
        }
        // Relation types are case-insensitive.
        assert_eq!(find_link(header, &rel.to_ascii_uppercase()), found);
    }
    assert_eq!(next_link(header), find_link(header, "next"));
    if let Some(page) = last_page(header) {
        let url = find_link(header, "last").expect("a last page comes from a last link");
        assert!(url.contains("page="), "{url:?} gave {page}");
    }

    // The header's text as a URL (without what delimits one), written as a link among others.
    let url: String = header.chars().filter(|c| !matches!(c, '<' | '>')).collect();
    if header.starts_with('<') {
        let written = format!("<{url}>; rel=\"next\", {header}");
        assert_eq!(next_link(&written).as_deref(), Some(url.as_str()));
    }
    let written = format!("<https://api.github.com/x?page=1>; rel=\"prev\", <{url}>; rel=\"next\"");
    assert_eq!(next_link(&written).as_deref(), Some(url.as_str()));
    // A last page written by GitHub reads back, whatever the number.
    let mut bytes = [0; 4];
    bytes
        .iter_mut()
        .zip(data)
        .for_each(|(byte, datum)| *byte = *datum);
    let page = u32::from_le_bytes(bytes);
    let written = format!("<https://api.github.com/x?per_page=100&page={page}>; rel=\"last\"");
    assert_eq!(last_page(&written), Some(page));
});
