//! Sensitive files by name: `.env`, private keys, keystores, credential files. A rule matches by
//! glob and, where a name alone says too little (`*.pem`, `.npmrc`), by a regex on the content.

use std::sync::OnceLock;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use regex::bytes::Regex;

use crate::rules::{FileRule, RuleError};

/// The compiled sensitive-file rules.
pub struct FileMatcher {
    rules: Vec<CompiledFileRule>,
    /// Globs without `/`, matched against the file name; `name_owner[i]` is glob i's rule.
    names: GlobSet,
    name_owner: Vec<usize>,
    /// Globs with `/`, matched against the whole relative path.
    paths: GlobSet,
    path_owner: Vec<usize>,
}

struct CompiledFileRule {
    rule: FileRule,
    exclude: GlobSet,
    exclude_has_path: bool,
    content: OnceLock<Option<Regex>>,
}

impl FileMatcher {
    pub fn new(rules: &[FileRule]) -> Result<FileMatcher, RuleError> {
        let (mut names, mut paths) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        let (mut name_owner, mut path_owner) = (Vec::new(), Vec::new());
        let mut compiled = Vec::with_capacity(rules.len());
        for (index, rule) in rules.iter().enumerate() {
            for pattern in &rule.paths {
                let glob = glob(pattern, &rule.id)?;
                if pattern.contains('/') {
                    paths.add(glob);
                    path_owner.push(index);
                } else {
                    names.add(glob);
                    name_owner.push(index);
                }
            }
            let mut exclude = GlobSetBuilder::new();
            for pattern in &rule.exclude {
                exclude.add(glob(pattern, &rule.id)?);
            }
            compiled.push(CompiledFileRule {
                rule: rule.clone(),
                exclude: build(exclude, &rule.id)?,
                exclude_has_path: rule.exclude.iter().any(|p| p.contains('/')),
                content: OnceLock::new(),
            });
        }
        Ok(FileMatcher {
            rules: compiled,
            names: build(names, "file rules")?,
            name_owner,
            paths: build(paths, "file rules")?,
            path_owner,
        })
    }

    pub fn rule(&self, index: usize) -> &FileRule {
        &self.rules[index].rule
    }

    /// The rules whose globs match `path` (`/`-separated, relative to the scan root), before any
    /// content check.
    pub fn candidates(&self, path: &str) -> Vec<usize> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let mut hits: Vec<usize> = self
            .names
            .matches(name)
            .into_iter()
            .map(|i| self.name_owner[i])
            .chain(
                self.paths
                    .matches(path)
                    .into_iter()
                    .map(|i| self.path_owner[i]),
            )
            .collect();
        hits.sort_unstable();
        hits.dedup();
        hits.retain(|&i| {
            let rule = &self.rules[i];
            !(rule.exclude.is_match(name) || rule.exclude_has_path && rule.exclude.is_match(path))
        });
        hits
    }

    /// Whether rule `index` needs the file's content to decide.
    pub fn needs_content(&self, index: usize) -> bool {
        self.rules[index].rule.content.is_some()
    }

    /// Whether `content` confirms rule `index` (always true for a rule without a content regex).
    pub fn confirm(&self, index: usize, content: &[u8]) -> bool {
        let rule = &self.rules[index];
        let Some(pattern) = &rule.rule.content else {
            return true;
        };
        rule.content
            .get_or_init(|| crate::rules::compile(pattern).ok())
            .as_ref()
            .is_some_and(|re| re.is_match(content))
    }
}

fn glob(pattern: &str, id: &str) -> Result<Glob, RuleError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| RuleError::Config {
            origin: id.to_string(),
            problem: crate::rules::one_line(&e),
        })
}

fn build(builder: GlobSetBuilder, id: &str) -> Result<GlobSet, RuleError> {
    builder.build().map_err(|e| RuleError::Config {
        origin: id.to_string(),
        problem: crate::rules::one_line(&e),
    })
}
