//! The names of the objects the operator makes: a tracker per auto-tracked PR, a monitor per cluster.
//! Both are Kubernetes object names (DNS-1123 subdomains: at most 253 characters of `a-z`, `0-9`,
//! `-` and `.`, each dot-separated part starting and ending with a letter or digit).

use prtracker_domain::Repository;

/// The longest object name Kubernetes accepts.
pub const MAX_NAME: usize = 253;

/// `<owner>-<name>-<number>`, lowercased, in the characters a Kubernetes name allows: other
/// characters become `-`, and each dot-separated part loses the `-` it would start or end with
/// (`octo-org/.github` #1 is `octo-org.github-1`).
///
/// Distinct repositories can meet on one name (`a/b_c` and `a/b-c`); [`tracker_name_unique`] is
/// the name to use when that happens.
pub fn tracker_name(repo: &Repository, number: u64) -> String {
    let raw = format!("{}-{}", repo.owner(), repo.name()).to_ascii_lowercase();
    let mapped: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let joined = mapped
        .split('.')
        .map(|part| part.trim_matches('-'))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    let suffix = format!("-{number}");
    // A repository of dots and dashes alone leaves nothing: the number stands alone.
    if joined.is_empty() {
        return format!("pr{suffix}");
    }
    fit(&joined, &suffix)
}

/// [`tracker_name`] with a hash of the exact repository, for when the plain name is taken by a
/// tracker of another repository.
pub fn tracker_name_unique(repo: &Repository, number: u64) -> String {
    let plain = tracker_name(repo, number);
    let hash = fnv1a(repo.to_string().to_ascii_lowercase().as_bytes());
    fit(&plain, &format!("-{:08x}", hash as u32))
}

/// `<tracker>-<cluster>`, cut to Kubernetes' 253 characters with a hash suffix when too long, so
/// distinct pairs keep distinct names.
pub fn monitor_name(tracker: &str, cluster: &str) -> String {
    let name = format!("{tracker}-{cluster}");
    if name.len() <= MAX_NAME {
        return name;
    }
    fit(
        &name[..MAX_NAME],
        &format!("-{:016x}", fnv1a(name.as_bytes())),
    )
}

/// `stem` cut so that `stem + suffix` fits [`MAX_NAME`], without a cut that ends a part on `-` or
/// `.`; `suffix` starts with `-` and ends with a letter or digit.
fn fit(stem: &str, suffix: &str) -> String {
    let keep = MAX_NAME.saturating_sub(suffix.len()).min(stem.len());
    let cut = stem[..keep].trim_end_matches(['-', '.']);
    format!("{cut}{suffix}")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kubernetes' own rule (apimachinery `IsDNS1123Subdomain`), written from its definition and
    /// not from the functions above: an independent judge of their output.
    fn is_dns1123_subdomain(name: &str) -> bool {
        let label_ok = |label: &str| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-'
        };
        name.len() <= 253 && name.split('.').all(label_ok)
    }

    fn repo(text: &str) -> Repository {
        text.parse().expect("a GitHub repository name")
    }

    #[test]
    fn tracker_names_keep_what_they_can() {
        assert_eq!(
            tracker_name(&repo("Octo_Org/Hello.World"), 1347),
            "octo-org-hello.world-1347"
        );
        assert_eq!(tracker_name(&repo("octo-org/shop"), 7), "octo-org-shop-7");
    }

    #[test]
    fn names_that_were_invalid_before_are_valid() {
        // Each of these made a name Kubernetes refuses: a part ending in '-' before a dot, or
        // starting with '-' after one.
        for (text, expected) in [
            ("octo-org/.github", "octo-org.github-1"),
            ("a/-x.y", "a--x.y-1"),
            ("a/x_.y", "a-x.y-1"),
            ("a/x.-y", "a-x.y-1"),
            ("a/x..y", "a-x.y-1"),
            ("a/_", "a-1"),
            ("a/...", "a-1"),
        ] {
            let name = tracker_name(&repo(text), 1);
            assert!(is_dns1123_subdomain(&name), "{text} gave {name}");
            assert_eq!(name, expected, "{text}");
        }
    }

    #[test]
    fn the_longest_repository_still_fits() {
        let long = repo(&format!("{}/{}", "o".repeat(39), "n.".repeat(50)));
        for number in [1, u64::from(u32::MAX)] {
            let name = tracker_name(&long, number);
            assert!(is_dns1123_subdomain(&name), "{name}");
            assert!(name.ends_with(&format!("-{number}")), "{name}");
            let unique = tracker_name_unique(&long, number);
            assert!(is_dns1123_subdomain(&unique), "{unique}");
            assert_ne!(unique, name);
        }
    }

    #[test]
    fn colliding_repositories_get_distinct_unique_names() {
        let (one, two) = (repo("a/b_c"), repo("a/b-c"));
        assert_eq!(tracker_name(&one, 1), tracker_name(&two, 1));
        assert_ne!(tracker_name_unique(&one, 1), tracker_name_unique(&two, 1));
    }

    #[test]
    fn monitor_names_join_tracker_and_cluster() {
        assert_eq!(monitor_name("pr-7", "staging"), "pr-7-staging");
    }

    #[test]
    fn long_monitor_names_are_cut_and_stay_distinct() {
        let tracker = "a".repeat(240);
        let one = monitor_name(&tracker, "cluster-one-xxxxxxxxxxxx");
        let two = monitor_name(&tracker, "cluster-two-xxxxxxxxxxxx");
        assert!(is_dns1123_subdomain(&one) && is_dns1123_subdomain(&two));
        assert_ne!(one, two);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Every repository GitHub allows, and every PR number, gives a name Kubernetes takes.
            #[test]
            fn every_github_repository_gives_a_kubernetes_name(
                owner in "[A-Za-z0-9][A-Za-z0-9_-]{0,38}",
                name in "[A-Za-z0-9._-]{1,100}",
                number in 1u64..=u64::from(u32::MAX),
            ) {
                prop_assume!(name != "." && name != "..");
                let repository = Repository::new(&owner, &name).expect("GitHub's rules");
                let plain = tracker_name(&repository, number);
                prop_assert!(is_dns1123_subdomain(&plain), "{} gave {}", repository, plain);
                let unique = tracker_name_unique(&repository, number);
                prop_assert!(is_dns1123_subdomain(&unique), "{} gave {}", repository, unique);
                let monitor = monitor_name(&plain, "in-cluster");
                prop_assert!(is_dns1123_subdomain(&monitor), "{}", monitor);
            }
        }
    }
}
