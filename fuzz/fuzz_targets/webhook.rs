//! A webhook body, as GitHub's two content types carry it, read into an event: never a panic, a
//! valid repository, a merge commit only when merged, and what is read does not depend on the
//! content type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prtracker_domain::Repository;
use prtracker_fuzz::payload::{json_payload, parse_pull_request};

const FORM: &str = "application/x-www-form-urlencoded";

fuzz_target!(|body: &[u8]| {
    // application/json: the body is the document, as it is.
    let json = json_payload(Some("application/json"), body).expect("a JSON body is taken whole");
    assert_eq!(json, body);
    assert_eq!(json_payload(None, body).as_deref(), Ok(body));
    check(body);
    // application/x-www-form-urlencoded: the `payload` field, if there is one.
    if let Ok(json) = json_payload(Some(FORM), body) {
        check(&json);
    }
});

fn check(json: &[u8]) {
    let Ok(event) = parse_pull_request("delivery-1", json) else {
        return;
    };
    assert_eq!(event.delivery, "delivery-1");
    // The repository is a valid owner/name and reads back as itself.
    let full_name = event.repository.to_string();
    assert_eq!(
        full_name.parse::<Repository>().as_ref(),
        Ok(&event.repository)
    );
    // A merge commit is reported only for a merged PR.
    assert!(event.merged || event.merge_commit_sha.is_none());
    assert_eq!(event.facts().is_merged(), event.merged);
    // The same document sent form-encoded reads the same. (Only UTF-8: a form field is decoded as
    // UTF-8, other bytes replaced, where a JSON body's ignored members are not checked; GitHub
    // sends UTF-8.)
    if std::str::from_utf8(json).is_ok() {
        let form = format!(
            "payload={}",
            form_urlencoded::byte_serialize(json).collect::<String>()
        );
        let unwrapped =
            json_payload(Some(FORM), form.as_bytes()).expect("the payload field is there");
        assert_eq!(unwrapped, json);
        assert_eq!(parse_pull_request("delivery-1", &unwrapped), Ok(event));
    }
}
