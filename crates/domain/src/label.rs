//! State label names: the configurable prefix, and telling state labels from other labels.
//!
//! GitHub label names are case-insensitive (`State/MERGED` and `state/merged` are one
//! label), so every comparison here goes through [`label_key`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::state::PrState;

/// The longest label name GitHub accepts, in characters.
pub const MAX_LABEL_CHARS: usize = 50;

/// The prefix of state labels when none is configured.
pub const DEFAULT_PREFIX: &str = "state/";

/// The key under which GitHub compares label names: two names with the same key are the
/// same label.
///
/// Lowercases character by character and writes the Greek final sigma `ς` as `σ`: a simple
/// case folding, exact for ASCII, and the same for a whole label as for its parts. (GitHub's
/// own collation may equate a few more non-ASCII names; prtracker's own labels are ASCII
/// apart from the prefix.)
pub fn label_key(name: &str) -> String {
    name.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .collect()
}

/// Whether two label names denote the same GitHub label (case-insensitive).
pub fn same_label(a: &str, b: &str) -> bool {
    a == b || label_key(a) == label_key(b)
}

/// Why a string cannot be a label prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPrefix {
    /// The prefix is empty: every label would need to be a bare state name.
    #[error("the state label prefix must not be empty")]
    Empty,
    /// Leading whitespace would start every label name; trailing whitespace is almost
    /// always a configuration slip.
    #[error("the state label prefix {0:?} must not start or end with whitespace")]
    SurroundingWhitespace(String),
    /// Commas separate label names in GitHub's APIs and UI.
    #[error("the state label prefix {0:?} must not contain a comma")]
    Comma(String),
    /// Control characters are invisible in label names and cannot be typed to filter by them.
    #[error("the state label prefix {0:?} must not contain control characters")]
    ControlCharacter(String),
    /// The labels would be longer than GitHub's limit.
    #[error(
        "the state label prefix {prefix:?} is {chars} characters long; at most {max} fit \
         GitHub's {MAX_LABEL_CHARS}-character label names"
    )]
    TooLong {
        /// The rejected prefix.
        prefix: String,
        /// Its length in characters.
        chars: usize,
        /// The longest prefix allowed, in characters.
        max: usize,
    },
}

/// A validated prefix of state labels (`state/` by default): the label of a state is the
/// prefix followed by the state's name.
///
/// Equality compares the prefix as written; `State/` and `state/` are different prefixes
/// that name the same labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LabelPrefix {
    prefix: String,
    /// `label_key(prefix)`, the start of the key of every state label.
    key: String,
}

impl LabelPrefix {
    /// The longest prefix allowed, in characters: a state label must fit GitHub's limit.
    pub const MAX_CHARS: usize = MAX_LABEL_CHARS - longest_state_name();

    /// Validates a prefix: not empty, no leading or trailing whitespace, no comma, no
    /// control character, and at most [`LabelPrefix::MAX_CHARS`] characters.
    pub fn new(prefix: impl Into<String>) -> Result<Self, InvalidPrefix> {
        let prefix = prefix.into();
        if prefix.is_empty() {
            return Err(InvalidPrefix::Empty);
        }
        if prefix.starts_with(char::is_whitespace) || prefix.ends_with(char::is_whitespace) {
            return Err(InvalidPrefix::SurroundingWhitespace(prefix));
        }
        if prefix.contains(',') {
            return Err(InvalidPrefix::Comma(prefix));
        }
        if prefix.contains(char::is_control) {
            return Err(InvalidPrefix::ControlCharacter(prefix));
        }
        let chars = prefix.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(InvalidPrefix::TooLong {
                prefix,
                chars,
                max: Self::MAX_CHARS,
            });
        }
        let key = label_key(&prefix);
        Ok(LabelPrefix { prefix, key })
    }

    /// The prefix as configured.
    pub fn as_str(&self) -> &str {
        &self.prefix
    }

    /// The label of a state, as prtracker writes it: `state/merged`.
    pub fn label_for(&self, state: PrState) -> String {
        format!("{}{}", self.prefix, state.name())
    }

    /// The state a label stands for, if it is a state label: the prefix followed by a known
    /// state name, in any case (`State/MERGED` is the merged label). `state/unknown`,
    /// `statex/merged` and `bug` are not state labels.
    pub fn parse(&self, label: &str) -> Option<PrState> {
        let key = label_key(label);
        let name = key.strip_prefix(self.key.as_str())?;
        PrState::ALL.into_iter().find(|state| state.name() == name)
    }

    /// Whether a label is a state label under this prefix (see [`LabelPrefix::parse`]).
    pub fn is_state_label(&self, label: &str) -> bool {
        self.parse(label).is_some()
    }

    /// The state labels among `labels`, one per state, in advancement order, each as
    /// written on the PR.
    ///
    /// Labels differing only by case are one GitHub label; should a list hold several
    /// spellings of one (GitHub never returns that), the smallest in byte order stands for
    /// it, so the result does not depend on the order of `labels`.
    pub fn state_labels<'a, S: AsRef<str>>(&self, labels: &'a [S]) -> Vec<(PrState, &'a str)> {
        let mut found: [Option<&'a str>; 7] = [None; 7];
        for label in labels {
            let label = label.as_ref();
            if let Some(state) = self.parse(label) {
                let slot = &mut found[usize::from(state.advancement_rank())];
                if slot.is_none_or(|written| label < written) {
                    *slot = Some(label);
                }
            }
        }
        PrState::ALL
            .into_iter()
            .zip(found)
            .filter_map(|(state, written)| written.map(|written| (state, written)))
            .collect()
    }
}

const fn longest_state_name() -> usize {
    let mut longest = 0;
    let mut i = 0;
    while i < PrState::ALL.len() {
        let len = PrState::ALL[i].name().len();
        if len > longest {
            longest = len;
        }
        i += 1;
    }
    longest
}

impl Default for LabelPrefix {
    fn default() -> Self {
        LabelPrefix {
            prefix: DEFAULT_PREFIX.to_owned(),
            key: label_key(DEFAULT_PREFIX),
        }
    }
}

impl fmt::Display for LabelPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prefix)
    }
}

impl AsRef<str> for LabelPrefix {
    fn as_ref(&self) -> &str {
        &self.prefix
    }
}

impl FromStr for LabelPrefix {
    type Err = InvalidPrefix;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LabelPrefix::new(s)
    }
}

impl TryFrom<String> for LabelPrefix {
    type Error = InvalidPrefix;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        LabelPrefix::new(value)
    }
}

impl From<LabelPrefix> for String {
    fn from(prefix: LabelPrefix) -> Self {
        prefix.prefix
    }
}

#[cfg(test)]
mod tests;
