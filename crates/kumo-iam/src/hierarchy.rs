//! The data the engine decides on: the resource's ancestry (resource first, then project,
//! folders, organization) with each node's compiled policy, and the caller's facts. The
//! engine never fetches; callers resolve both beforehand.

use kumo_names::ResourceName;

use crate::check::CompiledPolicy;

/// One node of the ancestry; `policy` is `None` when the node has no policy.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub resource: &'a ResourceName,
    pub policy: Option<&'a CompiledPolicy>,
}

/// The resource node first, then its parents up to the organization.
#[derive(Debug, Clone, Default)]
pub struct Ancestry<'a> {
    pub nodes: Vec<Node<'a>>,
}

impl<'a> Ancestry<'a> {
    pub fn new(nodes: Vec<Node<'a>>) -> Ancestry<'a> {
        Ancestry { nodes }
    }
    /// The node the request is about (`resource.name` in conditions is its relative name).
    pub fn resource(&self) -> Option<&'a ResourceName> {
        self.nodes.first().map(|n| n.resource)
    }
}

/// Who the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    User { email: String },
    ServiceAccount { email: String },
}

/// The caller with its transitively resolved group emails and its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub identity: Identity,
    pub groups: Vec<String>,
    pub domain: Option<String>,
}

impl Subject {
    pub fn anonymous() -> Subject {
        Subject {
            identity: Identity::Anonymous,
            groups: Vec::new(),
            domain: None,
        }
    }
    /// A user whose domain is the part of `email` after `@`.
    pub fn user(email: &str) -> Subject {
        Subject {
            identity: Identity::User {
                email: email.to_owned(),
            },
            groups: Vec::new(),
            domain: domain_of(email),
        }
    }
    pub fn service_account(email: &str) -> Subject {
        Subject {
            identity: Identity::ServiceAccount {
                email: email.to_owned(),
            },
            groups: Vec::new(),
            domain: domain_of(email),
        }
    }
    pub fn with_groups(mut self, groups: impl IntoIterator<Item = String>) -> Subject {
        self.groups = groups.into_iter().collect();
        self
    }
    pub fn with_domain(mut self, domain: Option<String>) -> Subject {
        self.domain = domain;
        self
    }
    pub fn is_authenticated(&self) -> bool {
        self.identity != Identity::Anonymous
    }
}

fn domain_of(email: &str) -> Option<String> {
    email.rsplit_once('@').map(|(_, d)| d.to_owned())
}
