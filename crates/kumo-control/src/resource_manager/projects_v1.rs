//! Resource Manager v1 `projects.get` and `projects.list`: the v3 projects seen through the v1
//! `Project` shape, and v1's list filter language.
//!
//! The filter (discovery document `cloudresourcemanager.v1`, `projects.list.filter`): terms
//! `KEY:VALUE` (or `KEY=VALUE`) over `name`, `id`, `labels.KEY`, `parent.type`, `parent.id` and
//! `lifecycleState`, keys and values case-insensitive, a trailing `*` a prefix match and a bare `*`
//! "has the field"; gcloud sends `lifecycleState:ACTIVE AND (FILTER)`, so `AND`, `OR`, `NOT` and
//! parentheses are understood too.

use kumo_store::{Deleted, ListQuery};
use kumo_wire::resource_manager::Project as ProjectV3;
use kumo_wire::resource_manager_v1::{ListProjectsResponse, Project, project_from_v3};

use super::common::PageRequest;
use super::render;
use crate::records::Collection;
use crate::{Call, Control, Error};

/// A parsed v1 filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `KEY:VALUE`; the key lowercased, the value as written (matching ignores case).
    Term {
        key: String,
        value: String,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Term(String, String),
}

fn invalid(filter: &str) -> Error {
    Error::invalid_field("filter", format!("Invalid filter: {filter}"))
}

/// The keys v1 documents, lowercased (filter keys are case-insensitive: `NAME:howl`).
fn known_key(key: &str) -> bool {
    matches!(
        key,
        "name" | "id" | "parent.type" | "parent.id" | "lifecyclestate"
    ) || key
        .strip_prefix("labels.")
        .is_some_and(|label| !label.is_empty())
}

fn tokenize(filter: &str) -> Result<Vec<Token>, Error> {
    let mut tokens = Vec::new();
    let mut rest = filter.trim_start();
    while let Some(first) = rest.chars().next() {
        if first == '(' || first == ')' {
            tokens.push(if first == '(' {
                Token::Open
            } else {
                Token::Close
            });
            rest = rest[1..].trim_start();
            continue;
        }
        let word_end = rest
            .find(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .unwrap_or(rest.len());
        let word = &rest[..word_end];
        match word {
            "AND" => tokens.push(Token::And),
            "OR" => tokens.push(Token::Or),
            "NOT" => tokens.push(Token::Not),
            _ => {
                let negated = word.starts_with('-');
                let body = if negated { &rest[1..] } else { rest };
                let split = body
                    .find([':', '='])
                    .filter(|at| !body[..*at].contains(char::is_whitespace))
                    .ok_or_else(|| invalid(filter))?;
                let key = body[..split].trim().to_lowercase();
                if !known_key(&key) {
                    return Err(invalid(filter));
                }
                let after = &body[split + 1..];
                let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
                    let end = quoted.find('"').ok_or_else(|| invalid(filter))?;
                    (quoted[..end].to_owned(), &quoted[end + 1..])
                } else {
                    let end = after
                        .find(|c: char| c.is_whitespace() || c == ')')
                        .unwrap_or(after.len());
                    (after[..end].to_owned(), &after[end..])
                };
                if negated {
                    tokens.push(Token::Not);
                }
                tokens.push(Token::Term(key, value));
                rest = remaining.trim_start();
                continue;
            }
        }
        rest = rest[word_end..].trim_start();
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn or(&mut self) -> Result<Filter, Error> {
        let mut alternatives = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            alternatives.push(self.and()?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            Filter::Or(alternatives)
        })
    }

    /// Adjacent terms are ANDed. UNCONFIRMED: the v1 reference says several fields match "any
    /// of the fields", yet its own by-parent example `parent.type:folder parent.id:123` only
    /// makes sense as a conjunction, which is also how v3 search treats adjacency.
    fn and(&mut self) -> Result<Filter, Error> {
        let mut all = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Token::And) => {
                    self.at += 1;
                    all.push(self.unary()?);
                }
                Some(Token::Open | Token::Not | Token::Term(..)) => all.push(self.unary()?),
                _ => break,
            }
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Filter::And(all)
        })
    }

    fn unary(&mut self) -> Result<Filter, Error> {
        let token = self.peek().cloned().ok_or_else(|| invalid(self.text))?;
        self.at += 1;
        match token {
            Token::Not => Ok(Filter::Not(Box::new(self.unary()?))),
            Token::Open => {
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(invalid(self.text));
                }
                self.at += 1;
                Ok(inner)
            }
            Token::Term(key, value) => Ok(Filter::Term { key, value }),
            Token::Close | Token::And | Token::Or => Err(invalid(self.text)),
        }
    }
}

/// Parses a v1 `projects.list` filter; empty means "everything".
pub fn parse_filter(filter: &str) -> Result<Option<Filter>, Error> {
    let tokens = tokenize(filter)?;
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        text: filter,
    };
    let parsed = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(invalid(filter));
    }
    Ok(Some(parsed))
}

fn value_matches(actual: Option<&str>, wanted: &str) -> bool {
    let Some(actual) = actual else {
        return false;
    };
    match wanted.strip_suffix('*') {
        Some(prefix) => actual.to_lowercase().starts_with(&prefix.to_lowercase()),
        None => actual.eq_ignore_ascii_case(wanted),
    }
}

/// Whether a v1 project satisfies `filter`.
pub fn matches(filter: &Filter, project: &Project) -> bool {
    match filter {
        Filter::And(all) => all.iter().all(|f| matches(f, project)),
        Filter::Or(any) => any.iter().any(|f| matches(f, project)),
        Filter::Not(inner) => !matches(inner, project),
        Filter::Term { key, value } => {
            let parent = project.parent.as_ref();
            let actual = match key.as_str() {
                "name" => Some(project.name.as_str()),
                "id" => Some(project.project_id.as_str()),
                "parent.type" => parent.map(|p| p.kind.as_str()),
                "parent.id" => parent.map(|p| p.id.as_str()),
                "lifecyclestate" => project.lifecycle_state.map(|state| state.as_str()),
                label => label
                    .strip_prefix("labels.")
                    .and_then(|label| project.labels.get(label))
                    .map(String::as_str),
            };
            value_matches(actual, value)
        }
    }
}

fn v1_view(record: &kumo_store::Record) -> Result<Project, Error> {
    let v3: ProjectV3 = serde_json::from_value(render(record)).map_err(Error::internal)?;
    Ok(project_from_v3(&v3))
}

impl Control {
    /// `GET /v1/projects/{projectId}`: `resourcemanager.projects.get`; projects pending deletion
    /// are readable with `lifecycleState: DELETE_REQUESTED`. UNCONFIRMED: v1's refusal text
    /// (Kumo answers v3's "Permission … denied on resource … (or it may not exist).").
    pub fn get_project_v1(&self, call: &Call, project: &str) -> Result<Project, Error> {
        let resource = self.container_ref(&format!("projects/{project}"))?;
        let permission = "resourcemanager.projects.get";
        self.authorize(call, permission, &resource)?;
        let record = self
            .store()
            .get_including_deleted(Collection::Projects.as_str(), &resource.relative_name())
            .map_err(crate::records::store_error)?
            .ok_or_else(|| Error::permission_denied(permission, &format!("projects/{project}")))?;
        v1_view(&record)
    }

    /// `GET /v1/projects?filter=…`: the projects the caller may get
    /// (`resourcemanager.projects.get` on each), in every state unless the filter says which
    /// (gcloud adds `lifecycleState:ACTIVE` itself), ordered by project id.
    pub fn list_projects_v1(
        &self,
        call: &Call,
        filter: &str,
        page: &PageRequest,
    ) -> Result<ListProjectsResponse, Error> {
        let filter = parse_filter(filter)?;
        let records = self
            .store()
            .list(
                Collection::Projects.as_str(),
                &ListQuery {
                    deleted: Deleted::Include,
                    ..ListQuery::default()
                },
            )
            .map_err(crate::records::store_error)?
            .records;
        let mut found = Vec::new();
        let mut parents = super::projects::ParentAncestries::default();
        for record in &records {
            let project = v1_view(record)?;
            if filter.as_ref().is_some_and(|f| !matches(f, &project)) {
                continue;
            }
            if self.may_get_listed_project(call, record, &mut parents)? {
                found.push(project);
            }
        }
        found.sort_by(|a, b| a.project_id.cmp(&b.project_id));
        let (projects, next_page_token) = page.apply(found, 500, 500)?;
        Ok(ListProjectsResponse {
            projects,
            next_page_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kumo_wire::resource_manager_v1::{LifecycleState, ResourceId};

    fn project(id: &str, name: &str, parent: (&str, &str), labels: &[(&str, &str)]) -> Project {
        Project {
            project_number: Some(1),
            project_id: id.to_owned(),
            lifecycle_state: Some(LifecycleState::Active),
            name: name.to_owned(),
            parent: Some(ResourceId {
                kind: parent.0.to_owned(),
                id: parent.1.to_owned(),
            }),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Project::default()
        }
    }

    #[test]
    fn filters_match_like_the_v1_reference_table() {
        let howl = project("howl-1", "Howl", ("folder", "123"), &[("color", "red")]);
        let other = project(
            "other-2",
            "Other",
            ("organization", "9"),
            &[("size", "big")],
        );
        let cases: &[(&str, bool, bool)] = &[
            ("", true, true),
            ("name:how*", true, false),
            ("name:Howl", true, false),
            ("name:HOWL", true, false),
            ("NAME:howl", true, false),
            ("labels.color:*", true, false),
            ("labels.color:red", true, false),
            ("labels.color:blue", false, false),
            ("id:howl-1", true, false),
            ("id=other-2", false, true),
            ("lifecycleState:ACTIVE", true, true),
            ("lifecycleState:DELETE_REQUESTED", false, false),
            ("parent.type:folder parent.id:123", true, false),
            ("parent.type:organization parent.id:123", false, false),
            ("labels.color:red OR labels.size:big", true, true),
            ("lifecycleState:ACTIVE AND (name:other)", false, true),
            ("NOT name:howl", false, true),
            ("-name:howl", false, true),
            ("name:\"Howl\"", true, false),
        ];
        for (text, want_howl, want_other) in cases {
            let filter = parse_filter(text).unwrap();
            let got = |p: &Project| filter.as_ref().is_none_or(|f| matches(f, p));
            assert_eq!(got(&howl), *want_howl, "{text} on howl");
            assert_eq!(got(&other), *want_other, "{text} on other");
        }
    }

    #[test]
    fn bad_filters_are_invalid_argument() {
        for text in [
            "nonsense",
            "color:red",
            "name:a AND",
            "(name:a",
            "name:a)",
            "OR name:a",
            "name:\"open",
        ] {
            assert!(
                matches!(parse_filter(text), Err(Error::InvalidArgument { .. })),
                "{text}"
            );
        }
    }

    /// Every string of up to four symbols from the filter's alphabet parses or is refused,
    /// never panics; single terms parse to themselves.
    #[test]
    fn parser_is_total_over_small_inputs() {
        let alphabet = [
            "name", ":", "=", "\"", "(", ")", " ", "AND", "OR", "-", "*", "x",
        ];
        let mut inputs = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for prefix in &inputs {
                for symbol in alphabet {
                    next.push(format!("{prefix}{symbol}"));
                }
            }
            for text in &next {
                let _ = parse_filter(text);
            }
            inputs = next;
        }
        for (key, value) in [("name", "a-b"), ("id", "p1*"), ("labels.env", "prod")] {
            assert_eq!(
                parse_filter(&format!("{key}:{value}")).unwrap(),
                Some(Filter::Term {
                    key: key.to_owned(),
                    value: value.to_owned()
                })
            );
        }
    }
}
