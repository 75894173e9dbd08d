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

/// Nodes kept inline: a resource, its project, four folders and the organization.
const INLINE_NODES: usize = 7;

/// The resource node first, then its parents up to the organization. Up to `INLINE_NODES`
/// nodes are held inline, so a check reaches the first policy without following a pointer to
/// a node array; deeper ancestries keep theirs on the heap.
#[derive(Debug, Clone)]
#[repr(align(64))]
pub struct Ancestry<'a> {
    nodes: Nodes<'a>,
}

#[derive(Debug, Clone)]
enum Nodes<'a> {
    /// The first `len` nodes; the rest repeat the first (there is no empty node to pad with).
    Inline {
        len: usize,
        nodes: [Node<'a>; INLINE_NODES],
    },
    Heap(Vec<Node<'a>>),
}

impl Default for Ancestry<'_> {
    fn default() -> Self {
        Ancestry {
            nodes: Nodes::Heap(Vec::new()),
        }
    }
}

impl<'a> Ancestry<'a> {
    pub fn new(nodes: Vec<Node<'a>>) -> Ancestry<'a> {
        match nodes.first() {
            Some(&first) if nodes.len() <= INLINE_NODES => {
                let mut inline = [first; INLINE_NODES];
                inline[..nodes.len()].copy_from_slice(&nodes);
                Ancestry {
                    nodes: Nodes::Inline {
                        len: nodes.len(),
                        nodes: inline,
                    },
                }
            }
            _ => Ancestry {
                nodes: Nodes::Heap(nodes),
            },
        }
    }

    /// The nodes, resource first.
    pub fn nodes(&self) -> &[Node<'a>] {
        match &self.nodes {
            Nodes::Inline { len, nodes } => nodes.get(..*len).unwrap_or_default(),
            Nodes::Heap(nodes) => nodes,
        }
    }

    /// The node the request is about (`resource.name` in conditions is its relative name).
    pub fn resource(&self) -> Option<&'a ResourceName> {
        self.nodes().first().map(|n| n.resource)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_deep_ancestries_keep_every_node_in_order() {
        let names: Vec<ResourceName> = (0..10)
            .map(|i| ResourceName::new("x.googleapis.com", &format!("folders/{i}")).unwrap())
            .collect();
        for len in [0, 1, 3, INLINE_NODES, INLINE_NODES + 1, 10] {
            let nodes: Vec<Node<'_>> = names[..len]
                .iter()
                .map(|resource| Node {
                    resource,
                    policy: None,
                })
                .collect();
            let a = Ancestry::new(nodes);
            let got: Vec<&ResourceName> = a.nodes().iter().map(|n| n.resource).collect();
            assert_eq!(got, names[..len].iter().collect::<Vec<_>>(), "{len}");
            assert_eq!(a.resource(), names[..len].first());
        }
        assert!(Ancestry::default().nodes().is_empty());
    }
}
