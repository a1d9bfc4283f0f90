//! Rule packs and their evaluation.
//!
//! **Architecture Invariant:** evaluation is a pure function of the pack and the text; the
//! decision is the maximum of the matching rules' actions (block > flag > allow), and shadow mode
//! changes only the enforced decision, never the reported matches.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// The rule pack shipped in every archive and compiled into the binaries.
pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Flag,
    Block,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Flag => "flag",
            Decision::Block => "block",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule does when it matches; a rule can never "allow".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Block,
    Flag,
}

impl From<Action> for Decision {
    fn from(action: Action) -> Decision {
        match action {
            Action::Block => Decision::Block,
            Action::Flag => Decision::Flag,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub pattern: String,
    pub action: Action,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(default, rename = "rule")]
    rules: Vec<RuleSpec>,
}

#[derive(Debug)]
pub enum RuleError {
    Io {
        path: String,
        source: std::io::Error,
    },
    Toml {
        origin: String,
        message: String,
    },
    InvalidRegex {
        id: String,
        message: String,
    },
    DuplicateId {
        id: String,
    },
    EmptyId {
        index: usize,
    },
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::Io { path, source } => write!(f, "cannot read rule pack {path}: {source}"),
            RuleError::Toml { origin, message } => {
                write!(f, "{origin} is not a valid rule pack: {message}")
            }
            RuleError::InvalidRegex { id, message } => {
                write!(f, "rule `{id}` has an invalid pattern: {message}")
            }
            RuleError::DuplicateId { id } => {
                write!(
                    f,
                    "rule id `{id}` is used more than once; give each rule a unique id"
                )
            }
            RuleError::EmptyId { index } => write!(f, "rule #{index} has an empty id"),
        }
    }
}

impl std::error::Error for RuleError {}

#[derive(Debug)]
struct CompiledRule {
    spec: RuleSpec,
    regex: Regex,
}

/// A validated, compiled rule pack.
#[derive(Debug)]
pub struct RulePack {
    rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMatch {
    pub rule_id: String,
    pub action: Action,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// The decision that is enforced: always `allow` in shadow mode.
    pub decision: Decision,
    /// The decision the rules reached, enforced or not.
    pub rules_decision: Decision,
    pub shadow: bool,
    pub matches: Vec<RuleMatch>,
}

impl RulePack {
    pub fn default_pack() -> RulePack {
        RulePack::parse(DEFAULT_RULES, "the built-in rule pack")
            .expect("the built-in rule pack is linted by the test suite")
    }

    pub fn load(path: &Path) -> Result<RulePack, RuleError> {
        let text = std::fs::read_to_string(path).map_err(|source| RuleError::Io {
            path: path.display().to_string(),
            source,
        })?;
        RulePack::parse(&text, &path.display().to_string())
    }

    /// Parses and validates a pack; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<RulePack, RuleError> {
        let file: PackFile = toml::from_str(text).map_err(|err| RuleError::Toml {
            origin: origin.to_owned(),
            message: err.message().to_owned(),
        })?;
        let mut seen = HashSet::new();
        let mut rules = Vec::with_capacity(file.rules.len());
        for (index, spec) in file.rules.into_iter().enumerate() {
            if spec.id.trim().is_empty() {
                return Err(RuleError::EmptyId { index: index + 1 });
            }
            if !seen.insert(spec.id.clone()) {
                return Err(RuleError::DuplicateId { id: spec.id });
            }
            let regex = Regex::new(&spec.pattern).map_err(|err| RuleError::InvalidRegex {
                id: spec.id.clone(),
                message: err.to_string(),
            })?;
            rules.push(CompiledRule { spec, regex });
        }
        Ok(RulePack { rules })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|rule| rule.spec.id.as_str())
    }

    pub fn evaluate(&self, text: &str, shadow: bool) -> Evaluation {
        let matches: Vec<RuleMatch> = self
            .rules
            .iter()
            .filter(|rule| rule.regex.is_match(text))
            .map(|rule| RuleMatch {
                rule_id: rule.spec.id.clone(),
                action: rule.spec.action,
                description: rule.spec.description.clone(),
            })
            .collect();
        let rules_decision = matches
            .iter()
            .map(|m| Decision::from(m.action))
            .max()
            .unwrap_or(Decision::Allow);
        Evaluation {
            decision: if shadow {
                Decision::Allow
            } else {
                rules_decision
            },
            rules_decision,
            shadow,
            matches,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(evaluation: &Evaluation) -> Vec<&str> {
        evaluation
            .matches
            .iter()
            .map(|m| m.rule_id.as_str())
            .collect()
    }

    #[test]
    fn default_pack_is_valid_and_covers_the_documented_rules() {
        let pack = RulePack::default_pack();
        let ids: Vec<&str> = pack.ids().collect();
        for id in [
            "us-ssn",
            "payment-card",
            "aws-access-key",
            "private-key",
            "email-address",
        ] {
            assert!(ids.contains(&id), "missing rule {id} in {ids:?}");
        }
    }

    #[test]
    fn each_default_rule_matches_its_sample() {
        let pack = RulePack::default_pack();
        let samples = [
            ("my ssn is 123-45-6789", "us-ssn", Decision::Block),
            (
                "card 4111 1111 1111 1111 exp 12/29",
                "payment-card",
                Decision::Block,
            ),
            (
                "key AKIAIOSFODNN7EXAMPLE here",
                "aws-access-key",
                Decision::Block,
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE",
                "private-key",
                Decision::Block,
            ),
            (
                "write to alice@example.com",
                "email-address",
                Decision::Flag,
            ),
        ];
        for (text, id, decision) in samples {
            let evaluation = pack.evaluate(text, false);
            assert_eq!(ids(&evaluation), vec![id], "{text}");
            assert_eq!(evaluation.decision, decision, "{text}");
        }
    }

    #[test]
    fn clean_text_is_allowed() {
        let evaluation = RulePack::default_pack().evaluate("What is the capital of France?", false);
        assert_eq!(evaluation.decision, Decision::Allow);
        assert!(evaluation.matches.is_empty());
    }

    #[test]
    fn block_wins_over_flag_and_every_match_is_reported() {
        let evaluation =
            RulePack::default_pack().evaluate("mail bob@example.org the ssn 123-45-6789", false);
        assert_eq!(evaluation.decision, Decision::Block);
        assert_eq!(ids(&evaluation), vec!["us-ssn", "email-address"]);
    }

    #[test]
    fn shadow_mode_reports_but_allows() {
        let evaluation = RulePack::default_pack().evaluate("ssn 123-45-6789", true);
        assert_eq!(evaluation.decision, Decision::Allow);
        assert_eq!(evaluation.rules_decision, Decision::Block);
        assert!(evaluation.shadow);
        assert_eq!(ids(&evaluation), vec!["us-ssn"]);
    }

    #[test]
    fn invalid_regex_names_the_rule() {
        let err = RulePack::parse(
            "[[rule]]\nid = \"broken\"\npattern = \"(unclosed\"\naction = \"block\"\n",
            "test",
        )
        .unwrap_err();
        assert!(
            matches!(&err, RuleError::InvalidRegex { id, .. } if id == "broken"),
            "{err}"
        );
        assert!(err.to_string().contains("rule `broken`"));
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let rule = "[[rule]]\nid = \"twice\"\npattern = \"x\"\naction = \"flag\"\n";
        let err = RulePack::parse(&format!("{rule}{rule}"), "test").unwrap_err();
        assert!(
            matches!(&err, RuleError::DuplicateId { id } if id == "twice"),
            "{err}"
        );
    }

    #[test]
    fn unknown_action_and_fields_are_rejected() {
        let err = RulePack::parse(
            "[[rule]]\nid = \"a\"\npattern = \"x\"\naction = \"allow\"\n",
            "test",
        )
        .unwrap_err();
        assert!(matches!(err, RuleError::Toml { .. }), "{err}");
        let err = RulePack::parse(
            "[[rule]]\nid = \"a\"\npattern = \"x\"\naction = \"flag\"\nseverity = 3\n",
            "test",
        )
        .unwrap_err();
        assert!(err.to_string().contains("severity"), "{err}");
    }
}
