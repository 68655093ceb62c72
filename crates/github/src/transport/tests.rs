use super::*;

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status: StatusCode::from_u16(status).unwrap(),
        headers: HeaderMap::new(),
        body: Bytes::from(body.to_owned()),
    }
}

#[test]
fn a_write_follows_a_redirect_on_the_same_api_only() {
    let config = GitHubConfig::for_local_tests("https://ghe.example.com/api/v3");
    let transport = Transport::new(config, Arc::new(GitHubMetrics::new()));
    let call = Call {
        endpoint: Endpoint::AddIssueLabels,
        path: "/repos/acme/app/issues/1/labels".to_owned(),
        body: Some(serde_json::json!({"labels": ["state/open"]})),
        accept: JSON,
    };
    let moved = |status: u16, location: &str| {
        let mut reply = reply(status, "");
        reply
            .headers
            .insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
        reply
    };
    let to = transport
        .redirected(
            &call,
            &moved(
                307,
                "https://ghe.example.com/api/v3/repositories/42/issues/1/labels",
            ),
        )
        .unwrap()
        .expect("followed");
    assert_eq!(to.path, "/repositories/42/issues/1/labels");
    assert_eq!(to.body, call.body, "the body goes along");
    assert!(
        transport
            .redirected(&call, &moved(308, "https://elsewhere.example.com/steal"))
            .is_err(),
        "credentials never go to another host"
    );
    assert!(
        transport
            .redirected(&call, &moved(307, "https://ghe.example.com/api/v3evil/x"))
            .is_err()
    );
    assert!(
        transport
            .redirected(&call, &reply(200, "[]"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn final_client_errors_carry_githubs_message() {
    let e = status_error(
        Endpoint::GetPull,
        &reply(401, r#"{"message":"Bad credentials"}"#),
        "x",
    );
    assert!(
        matches!(e, GitHubError::BadCredentials { ref message } if message == "Bad credentials")
    );
    let e = status_error(
        Endpoint::GetPull,
        &reply(404, r#"{"message":"Not Found","status":"404"}"#),
        "pull request o/r#1",
    );
    assert_eq!(
        e.to_string(),
        "pull request o/r#1 not found on GitHub (404): Not Found"
    );
    let e = status_error(Endpoint::GetPull, &reply(410, "gone"), "x");
    assert_eq!(e.status(), Some(410));
    assert!(!e.is_transient());
    let e = status_error(
        Endpoint::CreateRepoLabel,
        &reply(
            422,
            r#"{"message":"Validation Failed","errors":[{"code":"invalid","field":"color"}]}"#,
        ),
        "x",
    );
    assert!(
        matches!(e, GitHubError::Validation { ref errors, .. } if errors[0].field.as_deref() == Some("color"))
    );
}

#[test]
fn etags_are_kept_verbatim() {
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_static("W/\"abc\""));
    assert_eq!(etag_of(&headers).as_deref(), Some("W/\"abc\""));
}
