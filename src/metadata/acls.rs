//! ACLs and the authorizer's decision, with the semantics of Kafka's `StandardAuthorizer`
//! (`StandardAuthorizerData.findAclRule`/`findResult`, and the `Authorizer` interface's default
//! `authorizeByResourceType`).
//!
//! The bindings live in the [`MetadataImage`](super::image::MetadataImage) (records
//! `Acl`/`RemoveAcl`, each binding with an id as Kafka's `AccessControlEntryRecord`); the image
//! keeps them in an [`AclIndex`] and the metadata owner publishes a snapshot of it after each
//! change, so a check never waits for the owner.
//!
//! A check looks at three places only, never at every ACL: the literal bindings of the exact
//! resource name, the literal `*` bindings, and the prefixed bindings whose name is a prefix of
//! the resource name (one hash look-up per prefix length that some prefixed binding has).
//!
//! Rules (Kafka's): a super user (`super.users`) may do anything; a matching DENY wins over any
//! ALLOW; an ALLOW for READ, WRITE, DELETE or ALTER also allows DESCRIBE, and one for
//! ALTER_CONFIGS allows DESCRIBE_CONFIGS (DENY never implies); ALL matches every operation;
//! an ACL matches the principal itself or `User:*`, and the host itself or `*`. When no ACL at
//! all names the resource (whatever their principal), `allow.everyone.if.no.acl.found` decides.

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

/// Kafka's `ResourceType` (wire codes). UNKNOWN (0) and ANY (1) are only filter values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Topic = 2,
    Group = 3,
    Cluster = 4,
    TransactionalId = 5,
    DelegationToken = 6,
    User = 7,
}

/// Kafka's `PatternType` of a stored binding: LITERAL (3) or PREFIXED (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PatternType {
    Literal = 3,
    Prefixed = 4,
}

/// Kafka's `AclOperation` (wire codes). UNKNOWN (0) and ANY (1) are only filter values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AclOperation {
    All = 2,
    Read = 3,
    Write = 4,
    Create = 5,
    Delete = 6,
    Alter = 7,
    Describe = 8,
    ClusterAction = 9,
    DescribeConfigs = 10,
    AlterConfigs = 11,
    IdempotentWrite = 12,
    CreateTokens = 13,
    DescribeTokens = 14,
    TwoPhaseCommit = 15,
}

/// Kafka's `AclPermissionType`: DENY (2) or ALLOW (3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    Deny = 2,
    Allow = 3,
}

/// The name of the one CLUSTER resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// The literal resource name and the host that match everything.
pub const WILDCARD: &str = "*";
/// The principal that matches every user.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

impl ResourceType {
    pub fn from_code(code: i8) -> Option<ResourceType> {
        Some(match code {
            2 => ResourceType::Topic,
            3 => ResourceType::Group,
            4 => ResourceType::Cluster,
            5 => ResourceType::TransactionalId,
            6 => ResourceType::DelegationToken,
            7 => ResourceType::User,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ResourceType::Topic => "TOPIC",
            ResourceType::Group => "GROUP",
            ResourceType::Cluster => "CLUSTER",
            ResourceType::TransactionalId => "TRANSACTIONAL_ID",
            ResourceType::DelegationToken => "DELEGATION_TOKEN",
            ResourceType::User => "USER",
        }
    }
}

impl PatternType {
    pub fn from_code(code: i8) -> Option<PatternType> {
        match code {
            3 => Some(PatternType::Literal),
            4 => Some(PatternType::Prefixed),
            _ => None,
        }
    }
}

impl AclOperation {
    pub const EVERY: [AclOperation; 14] = [
        AclOperation::All,
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Create,
        AclOperation::Delete,
        AclOperation::Alter,
        AclOperation::Describe,
        AclOperation::ClusterAction,
        AclOperation::DescribeConfigs,
        AclOperation::AlterConfigs,
        AclOperation::IdempotentWrite,
        AclOperation::CreateTokens,
        AclOperation::DescribeTokens,
        AclOperation::TwoPhaseCommit,
    ];

    pub fn from_code(code: i8) -> Option<AclOperation> {
        AclOperation::EVERY.into_iter().find(|o| *o as i8 == code)
    }

    /// True when an ALLOW binding for `self` allows `wanted` (Kafka's implications).
    fn allows(self, wanted: AclOperation) -> bool {
        use AclOperation::*;
        match (self, wanted) {
            (All, _) => true,
            (Read | Write | Delete | Alter | Describe, Describe) => true,
            (AlterConfigs | DescribeConfigs, DescribeConfigs) => true,
            (granted, wanted) => granted == wanted,
        }
    }

    /// True when a DENY binding for `self` denies `wanted` (no implications).
    fn denies(self, wanted: AclOperation) -> bool {
        self == AclOperation::All || self == wanted
    }
}

impl Permission {
    pub fn from_code(code: i8) -> Option<Permission> {
        match code {
            2 => Some(Permission::Deny),
            3 => Some(Permission::Allow),
            _ => None,
        }
    }
}

/// The operations each resource type has (Kafka's `AclEntry.supportedOperations`), from which
/// the `authorized_operations` bit sets of Metadata, DescribeCluster and DescribeGroups come.
pub fn supported_operations(resource_type: ResourceType) -> &'static [AclOperation] {
    use AclOperation::*;
    match resource_type {
        ResourceType::Topic => &[
            Read,
            Write,
            Create,
            Delete,
            Alter,
            Describe,
            DescribeConfigs,
            AlterConfigs,
        ],
        ResourceType::Group => &[Read, Describe, Delete],
        ResourceType::Cluster => &[
            Create,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
            Alter,
            Describe,
        ],
        ResourceType::TransactionalId => &[Describe, Write, TwoPhaseCommit],
        ResourceType::DelegationToken => &[Describe],
        ResourceType::User => &[CreateTokens, DescribeTokens],
    }
}

/// One ACL: who may (or may not) do what to which resources from where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    /// `Type:name`, e.g. `User:alice`, or `User:*`.
    pub principal: String,
    /// An IP address, or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission: Permission,
}

/// How a filter matches pattern types: ANY (1), MATCH (2) or one type exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternFilter {
    Any,
    Match,
    Exactly(PatternType),
}

impl PatternFilter {
    pub fn from_code(code: i8) -> Option<PatternFilter> {
        match code {
            1 => Some(PatternFilter::Any),
            2 => Some(PatternFilter::Match),
            c => PatternType::from_code(c).map(PatternFilter::Exactly),
        }
    }
}

/// Kafka's `AclBindingFilter` (DescribeAcls, DeleteAcls); `None` stands for ANY / null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: Option<ResourceType>,
    pub resource_name: Option<String>,
    pub pattern: PatternFilter,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<AclOperation>,
    pub permission: Option<Permission>,
}

impl AclFilter {
    /// `ResourcePatternFilter.matches` and `AccessControlEntryFilter.matches`.
    pub fn matches(&self, acl: &AclBinding) -> bool {
        self.matches_pattern(acl)
            && self.principal.as_ref().is_none_or(|p| *p == acl.principal)
            && self.host.as_ref().is_none_or(|h| *h == acl.host)
            && self.operation.is_none_or(|o| o == acl.operation)
            && self.permission.is_none_or(|p| p == acl.permission)
    }

    fn matches_pattern(&self, acl: &AclBinding) -> bool {
        if self.resource_type.is_some_and(|t| t != acl.resource_type) {
            return false;
        }
        if let PatternFilter::Exactly(p) = self.pattern
            && p != acl.pattern_type
        {
            return false;
        }
        let Some(name) = &self.resource_name else {
            return true;
        };
        match self.pattern {
            PatternFilter::Any | PatternFilter::Exactly(_) => *name == acl.resource_name,
            PatternFilter::Match => match acl.pattern_type {
                PatternType::Literal => *name == acl.resource_name || acl.resource_name == WILDCARD,
                PatternType::Prefixed => name.starts_with(&acl.resource_name),
            },
        }
    }
}

/// Why a new binding is refused (INVALID_REQUEST, with Kafka's message).
pub fn validate_new(binding: &AclBinding) -> Result<(), String> {
    if binding.resource_name.is_empty() {
        return Err("Invalid empty resource name".into());
    }
    if binding.resource_type == ResourceType::Cluster && binding.resource_name != CLUSTER_NAME {
        return Err(format!(
            "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
        ));
    }
    // `SecurityUtils.parseKafkaPrincipal`: `Type:name`, both non-empty.
    match binding.principal.split_once(':') {
        Some((ty, name)) if !ty.is_empty() && !name.is_empty() => Ok(()),
        _ => Err(format!(
            "Could not parse principal from `{}` (no colon is present separating the principal type from the principal name)",
            binding.principal
        )),
    }
}

/// The bindings of one resource name (literal) or one prefix.
type Bucket = Vec<(Uuid, AclBinding)>;

/// Every ACL, indexed for cheap checks (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct AclIndex {
    by_id: BTreeMap<Uuid, AclBinding>,
    literal: HashMap<ResourceType, HashMap<String, Bucket>>,
    prefixed: HashMap<ResourceType, HashMap<String, Bucket>>,
    /// Per resource type, how many prefixed names have each length: the lengths to look up.
    prefix_lengths: HashMap<ResourceType, BTreeMap<usize, usize>>,
}

impl AclIndex {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every binding with its id, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&Uuid, &AclBinding)> {
        self.by_id.iter()
    }

    /// The id of an identical binding, if one exists.
    pub fn find(&self, binding: &AclBinding) -> Option<Uuid> {
        self.bucket(binding)?
            .iter()
            .find(|(_, b)| b == binding)
            .map(|(id, _)| *id)
    }

    fn bucket(&self, binding: &AclBinding) -> Option<&Bucket> {
        let map = match binding.pattern_type {
            PatternType::Literal => &self.literal,
            PatternType::Prefixed => &self.prefixed,
        };
        map.get(&binding.resource_type)?
            .get(binding.resource_name.as_str())
    }

    /// Adds a binding under `id` (replacing one with the same id).
    pub fn insert(&mut self, id: Uuid, binding: AclBinding) {
        self.remove(&id);
        let ty = binding.resource_type;
        let name = binding.resource_name.clone();
        match binding.pattern_type {
            PatternType::Literal => self.literal.entry(ty).or_default(),
            PatternType::Prefixed => {
                let bucket = self.prefixed.entry(ty).or_default();
                if !bucket.contains_key(&name) {
                    *self
                        .prefix_lengths
                        .entry(ty)
                        .or_default()
                        .entry(name.len())
                        .or_default() += 1;
                }
                bucket
            }
        }
        .entry(name)
        .or_default()
        .push((id, binding.clone()));
        self.by_id.insert(id, binding);
    }

    /// Removes the binding with `id`, returning it.
    pub fn remove(&mut self, id: &Uuid) -> Option<AclBinding> {
        let binding = self.by_id.remove(id)?;
        let ty = binding.resource_type;
        let map = match binding.pattern_type {
            PatternType::Literal => &mut self.literal,
            PatternType::Prefixed => &mut self.prefixed,
        };
        if let Some(names) = map.get_mut(&ty)
            && let Some(bucket) = names.get_mut(binding.resource_name.as_str())
        {
            bucket.retain(|(i, _)| i != id);
            if bucket.is_empty() {
                names.remove(binding.resource_name.as_str());
                if binding.pattern_type == PatternType::Prefixed
                    && let Some(lengths) = self.prefix_lengths.get_mut(&ty)
                    && let Some(n) = lengths.get_mut(&binding.resource_name.len())
                {
                    *n -= 1;
                    if *n == 0 {
                        lengths.remove(&binding.resource_name.len());
                    }
                }
            }
        }
        Some(binding)
    }

    /// The bindings whose pattern covers the resource `name` of type `ty`: literal `name`, the
    /// literal wildcard, and every prefix of `name` that has prefixed bindings.
    fn covering<'a>(
        &'a self,
        ty: ResourceType,
        name: &'a str,
    ) -> impl Iterator<Item = &'a AclBinding> + 'a {
        let literal = self.literal.get(&ty);
        let exact = literal.and_then(|m| m.get(name));
        let wildcard = literal
            .filter(|_| name != WILDCARD)
            .and_then(|m| m.get(WILDCARD));
        let prefixed = self.prefixed.get(&ty);
        let prefixes = self
            .prefix_lengths
            .get(&ty)
            .into_iter()
            .flat_map(|lengths| lengths.keys())
            .take_while(move |len| **len <= name.len())
            .filter_map(move |len| {
                let prefix = name.get(..*len)?;
                prefixed?.get(prefix)
            });
        exact
            .into_iter()
            .chain(wildcard)
            .chain(prefixes)
            .flatten()
            .map(|(_, b)| b)
    }
}

/// The authorizer's settings: `super.users` and `allow.everyone.if.no.acl.found`.
pub use crate::config::AuthorizerConfig as AuthorizerSettings;

/// Who is asking, from where.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub principal: &'a str,
    pub host: &'a str,
}

impl Requester<'_> {
    fn matches(&self, acl: &AclBinding) -> bool {
        (acl.principal == self.principal || acl.principal == WILDCARD_PRINCIPAL)
            && (acl.host == WILDCARD || acl.host == self.host)
    }
}

/// Kafka's `StandardAuthorizer.authorize` for one action on a literal resource.
pub fn authorize(
    acls: &AclIndex,
    settings: &AuthorizerSettings,
    who: Requester<'_>,
    operation: AclOperation,
    resource_type: ResourceType,
    resource_name: &str,
) -> bool {
    if settings.super_users.contains(who.principal) {
        return true;
    }
    let mut has_resource_acls = false;
    let mut allowed = false;
    for acl in acls.covering(resource_type, resource_name) {
        has_resource_acls = true;
        if !who.matches(acl) {
            continue;
        }
        match acl.permission {
            Permission::Deny if acl.operation.denies(operation) => return false,
            Permission::Allow if acl.operation.allows(operation) => allowed = true,
            _ => {}
        }
    }
    allowed || (!has_resource_acls && settings.allow_everyone_if_no_acl_found)
}

/// Kafka's `Authorizer.authorizeByResourceType`: may the requester do `operation` on at least
/// one resource of this type (used for idempotent InitProducerId: WRITE on any topic)?
pub fn authorize_any(
    acls: &AclIndex,
    settings: &AuthorizerSettings,
    who: Requester<'_>,
    operation: AclOperation,
    resource_type: ResourceType,
) -> bool {
    // Kafka first asks about a resource named "hardcode": super users, and
    // allow.everyone.if.no.acl.found when nothing covers that name.
    if authorize(acls, settings, who, operation, resource_type, "hardcode") {
        return true;
    }
    let mut deny_literal = HashSet::new();
    let mut deny_prefixed = HashSet::new();
    let mut allow = Vec::new();
    let relevant = acls.iter().map(|(_, b)| b).filter(|b| {
        b.resource_type == resource_type && who.matches(b) && b.operation.denies(operation)
    });
    for acl in relevant {
        match (acl.permission, acl.pattern_type) {
            (Permission::Deny, PatternType::Literal) if acl.resource_name == WILDCARD => {
                return false;
            }
            (Permission::Deny, PatternType::Literal) => {
                deny_literal.insert(acl.resource_name.as_str());
            }
            (Permission::Deny, PatternType::Prefixed) => {
                deny_prefixed.insert(acl.resource_name.as_str());
            }
            (Permission::Allow, PatternType::Literal) if acl.resource_name == WILDCARD => {
                return true;
            }
            (Permission::Allow, pattern) => allow.push((pattern, acl.resource_name.as_str())),
        }
    }
    allow.into_iter().any(|(pattern, name)| {
        let denied_literally = pattern == PatternType::Literal && deny_literal.contains(name);
        let denied_by_prefix = name
            .char_indices()
            .map(|(i, c)| &name[..i + c.len_utf8()])
            .any(|p| deny_prefixed.contains(p));
        !denied_literally && !denied_by_prefix
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use AclOperation::*;
    use ResourceType::*;

    fn acl(
        ty: ResourceType,
        name: &str,
        pattern: PatternType,
        principal: &str,
        op: AclOperation,
        permission: Permission,
    ) -> AclBinding {
        AclBinding {
            resource_type: ty,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: principal.into(),
            host: "*".into(),
            operation: op,
            permission,
        }
    }

    fn allow(ty: ResourceType, name: &str, principal: &str, op: AclOperation) -> AclBinding {
        acl(
            ty,
            name,
            PatternType::Literal,
            principal,
            op,
            Permission::Allow,
        )
    }

    fn index(bindings: &[AclBinding]) -> AclIndex {
        let mut index = AclIndex::default();
        for (i, b) in bindings.iter().enumerate() {
            index.insert(Uuid::from_u128(i as u128 + 1), b.clone());
        }
        index
    }

    const ALICE: Requester<'static> = Requester {
        principal: "User:alice",
        host: "10.0.0.1",
    };
    const BOB: Requester<'static> = Requester {
        principal: "User:bob",
        host: "10.0.0.2",
    };

    fn can(
        acls: &AclIndex,
        who: Requester<'_>,
        op: AclOperation,
        ty: ResourceType,
        name: &str,
    ) -> bool {
        authorize(acls, &AuthorizerSettings::default(), who, op, ty, name)
    }

    #[test]
    fn allow_implies_describe_but_deny_does_not() {
        let acls = index(&[
            allow(Topic, "t", "User:alice", Read),
            allow(Topic, "c", "User:alice", AlterConfigs),
        ]);
        assert!(can(&acls, ALICE, Read, Topic, "t"));
        assert!(can(&acls, ALICE, Describe, Topic, "t"));
        assert!(!can(&acls, ALICE, Write, Topic, "t"));
        assert!(!can(&acls, ALICE, DescribeConfigs, Topic, "t"));
        assert!(can(&acls, ALICE, DescribeConfigs, Topic, "c"));
        assert!(!can(&acls, ALICE, Describe, Topic, "c"));
        assert!(!can(&acls, BOB, Read, Topic, "t"));
        for op in [Write, Delete, Alter] {
            assert!(can(
                &index(&[allow(Topic, "t", "User:alice", op)]),
                ALICE,
                Describe,
                Topic,
                "t"
            ));
        }
        assert!(!can(
            &index(&[allow(Topic, "t", "User:alice", Create)]),
            ALICE,
            Describe,
            Topic,
            "t"
        ));
        // A DENY for READ does not deny DESCRIBE.
        let acls = index(&[
            allow(Topic, "t", "User:alice", All),
            acl(
                Topic,
                "t",
                PatternType::Literal,
                "User:alice",
                Read,
                Permission::Deny,
            ),
        ]);
        assert!(!can(&acls, ALICE, Read, Topic, "t"));
        assert!(can(&acls, ALICE, Describe, Topic, "t"));
        assert!(can(&acls, ALICE, Write, Topic, "t"));
    }

    #[test]
    fn deny_beats_allow_wherever_it_comes_from() {
        let acls = index(&[
            allow(Topic, "orders", "User:alice", Write),
            acl(
                Topic,
                "ord",
                PatternType::Prefixed,
                "User:*",
                All,
                Permission::Deny,
            ),
        ]);
        assert!(!can(&acls, ALICE, Write, Topic, "orders"));
        let acls = index(&[
            acl(
                Topic,
                "orders",
                PatternType::Prefixed,
                "User:alice",
                Write,
                Permission::Allow,
            ),
            allow(Topic, "*", "User:alice", Write),
            acl(
                Topic,
                "orders-eu",
                PatternType::Literal,
                "User:alice",
                Write,
                Permission::Deny,
            ),
        ]);
        assert!(can(&acls, ALICE, Write, Topic, "orders-us"));
        assert!(!can(&acls, ALICE, Write, Topic, "orders-eu"));
    }

    #[test]
    fn prefixed_wildcard_and_literal_patterns() {
        let acls = index(&[
            acl(
                Topic,
                "app-",
                PatternType::Prefixed,
                "User:alice",
                Read,
                Permission::Allow,
            ),
            allow(Group, "*", "User:alice", Read),
            allow(Topic, "app", "User:bob", Read),
        ]);
        assert!(can(&acls, ALICE, Read, Topic, "app-1"));
        assert!(can(&acls, ALICE, Read, Topic, "app-"));
        assert!(!can(&acls, ALICE, Read, Topic, "app"));
        assert!(!can(&acls, ALICE, Read, Topic, "ap"));
        assert!(can(&acls, ALICE, Read, Group, "anything"));
        assert!(!can(&acls, ALICE, Read, TransactionalId, "anything"));
        // A literal name is not a prefix.
        assert!(!can(&acls, BOB, Read, Topic, "app-1"));
        assert!(can(&acls, BOB, Read, Topic, "app"));
        // A prefixed "*" is a prefix like any other, not a wildcard.
        let acls = index(&[acl(
            Topic,
            "*",
            PatternType::Prefixed,
            "User:alice",
            Read,
            Permission::Allow,
        )]);
        assert!(!can(&acls, ALICE, Read, Topic, "x"));
        assert!(can(&acls, ALICE, Read, Topic, "*x"));
    }

    #[test]
    fn principal_and_host_matching() {
        let mut only_host = allow(Topic, "t", "User:*", Read);
        only_host.host = "10.0.0.1".into();
        let acls = index(&[only_host]);
        assert!(can(&acls, ALICE, Read, Topic, "t"));
        assert!(!can(&acls, BOB, Read, Topic, "t"));
        let acls = index(&[allow(Topic, "t", "User:*", Read)]);
        assert!(can(&acls, BOB, Read, Topic, "t"));
        let acls = index(&[allow(Topic, "t", "Group:alice", Read)]);
        assert!(!can(&acls, ALICE, Read, Topic, "t"));
    }

    #[test]
    fn super_users_and_allow_everyone_if_no_acl_found() {
        let acls = index(&[allow(Topic, "guarded", "User:bob", Read)]);
        let settings = AuthorizerSettings {
            super_users: HashSet::from(["User:alice".to_string()]),
            allow_everyone_if_no_acl_found: false,
        };
        assert!(authorize(
            &acls,
            &settings,
            ALICE,
            Alter,
            Cluster,
            CLUSTER_NAME
        ));
        assert!(!authorize(&acls, &settings, BOB, Read, Topic, "open"));
        let open = AuthorizerSettings {
            super_users: HashSet::new(),
            allow_everyone_if_no_acl_found: true,
        };
        // Nobody has ACLs on "open": everyone may. "guarded" has one (for bob): others may not.
        assert!(authorize(&acls, &open, ALICE, Write, Topic, "open"));
        assert!(!authorize(&acls, &open, ALICE, Read, Topic, "guarded"));
        assert!(authorize(&acls, &open, BOB, Read, Topic, "guarded"));
    }

    #[test]
    fn removal_keeps_the_index_consistent() {
        let mut acls = index(&[
            acl(
                Topic,
                "a",
                PatternType::Prefixed,
                "User:alice",
                Read,
                Permission::Allow,
            ),
            acl(
                Topic,
                "a",
                PatternType::Prefixed,
                "User:bob",
                Read,
                Permission::Allow,
            ),
        ]);
        assert!(acls.remove(&Uuid::from_u128(1)).is_some());
        assert!(!can(&acls, ALICE, Read, Topic, "ab"));
        assert!(can(&acls, BOB, Read, Topic, "ab"));
        assert!(acls.remove(&Uuid::from_u128(2)).is_some());
        assert!(acls.is_empty() && acls.prefix_lengths.values().all(|l| l.is_empty()));
        assert!(acls.remove(&Uuid::from_u128(2)).is_none());
    }

    #[test]
    fn by_resource_type() {
        let settings = AuthorizerSettings::default();
        let any = |acls: &AclIndex, who| authorize_any(acls, &settings, who, Write, Topic);
        assert!(!any(&index(&[]), ALICE));
        assert!(any(
            &index(&[allow(Topic, "t", "User:alice", Write)]),
            ALICE
        ));
        assert!(!any(
            &index(&[allow(Topic, "t", "User:alice", Read)]),
            ALICE
        ));
        let denied = index(&[
            allow(Topic, "t1", "User:alice", Write),
            acl(
                Topic,
                "t",
                PatternType::Prefixed,
                "User:alice",
                Write,
                Permission::Deny,
            ),
        ]);
        assert!(!any(&denied, ALICE));
        let literal_deny = index(&[
            allow(Topic, "t1", "User:alice", Write),
            acl(
                Topic,
                "t1",
                PatternType::Literal,
                "User:alice",
                Write,
                Permission::Deny,
            ),
            acl(
                Topic,
                "u",
                PatternType::Prefixed,
                "User:alice",
                Write,
                Permission::Allow,
            ),
        ]);
        assert!(any(&literal_deny, ALICE));
    }

    #[test]
    fn filters_as_kafka_interprets_them() {
        let prefixed = acl(
            Topic,
            "app-",
            PatternType::Prefixed,
            "User:alice",
            Read,
            Permission::Allow,
        );
        let wildcard = allow(Topic, "*", "User:bob", Write);
        let literal = allow(Topic, "app-1", "User:bob", Write);
        let filter = |name: Option<&str>, pattern| AclFilter {
            resource_type: Some(Topic),
            resource_name: name.map(str::to_string),
            pattern,
            principal: None,
            host: None,
            operation: None,
            permission: None,
        };
        let matched = |f: &AclFilter| {
            [&prefixed, &wildcard, &literal]
                .iter()
                .filter(|b| f.matches(b))
                .count()
        };
        assert_eq!(matched(&filter(Some("app-1"), PatternFilter::Match)), 3);
        assert_eq!(matched(&filter(Some("app-1"), PatternFilter::Any)), 1);
        assert_eq!(
            matched(&filter(
                Some("app-"),
                PatternFilter::Exactly(PatternType::Prefixed)
            )),
            1
        );
        assert_eq!(
            matched(&filter(None, PatternFilter::Exactly(PatternType::Literal))),
            2
        );
        assert_eq!(matched(&filter(None, PatternFilter::Any)), 3);
        let mut by_principal = filter(None, PatternFilter::Any);
        by_principal.principal = Some("User:bob".into());
        by_principal.operation = Some(Write);
        assert_eq!(matched(&by_principal), 2);
        let mut groups = filter(None, PatternFilter::Any);
        groups.resource_type = Some(Group);
        assert_eq!(matched(&groups), 0);
    }

    #[test]
    fn validation_of_new_bindings() {
        assert!(validate_new(&allow(Cluster, "kafka-cluster", "User:a", Alter)).is_ok());
        assert!(validate_new(&allow(Cluster, "other", "User:a", Alter)).is_err());
        assert!(validate_new(&allow(Topic, "", "User:a", Read)).is_err());
        assert!(validate_new(&allow(Topic, "t", "alice", Read)).is_err());
    }
}
