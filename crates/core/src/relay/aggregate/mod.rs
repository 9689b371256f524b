//! The aggregate: one MCP endpoint (`/mcp`) that carries every enabled server, and one per
//! profile (`/profiles/<name>/mcp`) that carries the profile's servers.
//!
//! Each endpoint is a [`Scope`] (the relay's entry for it, where a server would be): which
//! servers it carries, with which prefixes and filters, and its merged lists. What is
//! costly is shared by every scope: one catalogue session per server.
//!
//! A client session on the aggregate is an ordinary relay [`Session`] whose backend is a
//! [`Link`]: the front door, streams, resumption and routing back to the client are the
//! same as for any server. The link speaks to the servers as their client, through inner
//! relay sessions of their own:
//!
//! - Lists (`tools/list`, `prompts/list`, `resources/list`, `resources/templates/list`) come
//!   from one **catalogue** session per server, shared by every aggregate session and kept
//!   until a `list_changed` says otherwise. Tools and prompts get their exposed names there
//!   ([`names`]); resources keep their URIs.
//! - A call (`tools/call`, `prompts/get`, `resources/read`, `completion/complete`, …) goes
//!   to the link's own inner session on the server that owns the name or URI, opened at the
//!   first call: opening an aggregate session starts no child.
//! - What an inner session says comes back to the client: answers and progress on the
//!   request's stream (ids and tokens are the client's own), server→client requests with
//!   ids made unique across servers (and mapped back when the client answers), the rest on
//!   the client's GET stream.
//! - A server that is down or slow (its lists take longer than [`LIST_TIMEOUT`]) is left out
//!   of the lists, with a log line; the others are not held up. It is retried in the
//!   background with a growing wait, and when it answers again every client gets a
//!   `list_changed`.

pub mod names;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use super::{Relay, ServerRelay, Session, StreamRx, Transport};
use crate::config::{NameFilter, Profile, ProfileServer};
use crate::mcp::jsonrpc::{self, Envelope, Kind};
use crate::mcp::protocol::code;
use crate::mcp::protocol::{LATEST_SESSION_VERSION, SESSION_PROTOCOL_VERSIONS};

/// The aggregate's name where a server name is expected (never a valid server name).
pub const NAME: &str = "*";

/// A profile's entry name where a server name is expected: `*<profile>` (never a server's).
pub fn profile_entry(profile: &str) -> String {
    format!("{NAME}{profile}")
}

/// The profile an entry name stands for; `None` for the full aggregate and for servers.
pub fn profile_of(entry: &str) -> Option<&str> {
    entry.strip_prefix(NAME).filter(|p| !p.is_empty())
}

/// How a server shows on the aggregate endpoints: its prefix and filters. Kept apart from
/// the rest of its definition so a change here (a tool switched off) applies to running
/// sessions at once, with a `list_changed`, instead of ending them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposure {
    pub prefix: Option<String>,
    pub tools: NameFilter,
    pub prompts: NameFilter,
}

impl Exposure {
    pub fn of(config: &crate::config::ServerConfig) -> Exposure {
        Exposure {
            prefix: config.prefix.clone(),
            tools: config.tools.clone(),
            prompts: config.prompts.clone(),
        }
    }

    /// Whether `a` and `b` differ in their exposure at most.
    pub fn only_difference(
        a: &crate::config::ServerConfig,
        b: &crate::config::ServerConfig,
    ) -> bool {
        let strip = |c: &crate::config::ServerConfig| {
            let mut c = c.clone();
            c.prefix = None;
            c.tools = NameFilter::default();
            c.prompts = NameFilter::default();
            c
        };
        strip(a) == strip(b)
    }
}

/// What one aggregate endpoint carries: every enabled server, or a profile's servers.
pub struct Scope {
    aggregate: Weak<Aggregate>,
    /// The profile's name; `None` for `/mcp`.
    profile: Option<Arc<str>>,
    /// The profile's servers and filters (changed in place: sessions stay open).
    definition: std::sync::RwLock<Profile>,
    /// The last complete merge of each list, with the servers it was made from.
    merged: Mutex<HashMap<ListKind, CachedMerge>>,
}

impl Scope {
    pub(in crate::relay) fn new(
        aggregate: &Arc<Aggregate>,
        profile: Option<(&str, &Profile)>,
    ) -> Scope {
        Scope {
            aggregate: Arc::downgrade(aggregate),
            profile: profile.map(|(name, _)| Arc::from(name)),
            definition: std::sync::RwLock::new(profile.map(|(_, p)| p.clone()).unwrap_or_default()),
            merged: Mutex::new(HashMap::new()),
        }
    }

    pub(in crate::relay) fn aggregate(&self) -> Option<Arc<Aggregate>> {
        self.aggregate.upgrade()
    }

    fn definition(&self) -> std::sync::RwLockReadGuard<'_, Profile> {
        self.definition.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A profile's new definition, for its open sessions too; they are told their lists
    /// changed.
    pub(in crate::relay) async fn redefine(&self, profile: &Profile) {
        *self.definition.write().unwrap_or_else(|p| p.into_inner()) = profile.clone();
        lock(&self.merged).clear();
        if let Some(aggregate) = self.aggregate() {
            aggregate.announce(|link| {
                link.entry
                    .aggregate
                    .as_ref()
                    .is_some_and(|scope| std::ptr::eq(scope, self))
            });
        }
    }

    /// Whether this scope carries `server` (when it is enabled).
    fn carries(&self, server: &str) -> bool {
        self.profile.is_none() || self.definition().servers.contains_key(server)
    }
}

/// One server as a scope carries it: its prefix there, its filters, and the profile's
/// filters on top.
struct Member {
    server: Arc<ServerRelay>,
    prefix: String,
    exposure: Exposure,
    profile: Option<ProfileServer>,
}

impl Member {
    fn allows(&self, kind: ListKind, name: &str) -> bool {
        filter_of(&self.exposure.tools, &self.exposure.prompts, kind).allows(name)
            && self
                .profile
                .as_ref()
                .is_none_or(|p| filter_of(&p.tools, &p.prompts, kind).allows(name))
    }
}

/// How long one server's lists may take before the aggregate answers without them.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// Pages followed per server and list, at most (a server that pages forever stops here).
const MAX_PAGES: usize = 100;

/// Entries per page of the aggregate's own lists. Every server's pages are merged first;
/// the aggregate then pages the merged list behind its own cursor.
pub const PAGE_SIZE: usize = 100;

/// The aggregate's cursor for the page that starts at `start` (opaque to clients).
fn page_cursor(start: usize) -> String {
    format!("sb1.{start}")
}

fn page_start(cursor: &str) -> Option<usize> {
    cursor.strip_prefix("sb1.")?.parse().ok()
}

/// What the aggregate lists: the method, the result field, and whether entries get
/// exposed names (tools, prompts) or keep their URIs (resources, templates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    Tools,
    Prompts,
    Resources,
    Templates,
}

impl ListKind {
    #[cfg(test)]
    const ALL: [ListKind; 4] = [
        ListKind::Tools,
        ListKind::Prompts,
        ListKind::Resources,
        ListKind::Templates,
    ];

    fn from_method(method: &str) -> Option<ListKind> {
        Some(match method {
            "tools/list" => ListKind::Tools,
            "prompts/list" => ListKind::Prompts,
            "resources/list" => ListKind::Resources,
            "resources/templates/list" => ListKind::Templates,
            _ => return None,
        })
    }

    fn method(self) -> &'static str {
        match self {
            ListKind::Tools => "tools/list",
            ListKind::Prompts => "prompts/list",
            ListKind::Resources => "resources/list",
            ListKind::Templates => "resources/templates/list",
        }
    }

    fn field(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Prompts => "prompts",
            ListKind::Resources => "resources",
            ListKind::Templates => "resourceTemplates",
        }
    }

    /// The server capability that says it has this list.
    fn capability(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Prompts => "prompts",
            ListKind::Resources | ListKind::Templates => "resources",
        }
    }

    fn from_list_changed(method: &str) -> Option<&'static [ListKind]> {
        Some(match method {
            "notifications/tools/list_changed" => &[ListKind::Tools],
            "notifications/prompts/list_changed" => &[ListKind::Prompts],
            "notifications/resources/list_changed" => &[ListKind::Resources, ListKind::Templates],
            _ => return None,
        })
    }

    fn list_changed(self) -> &'static str {
        match self {
            ListKind::Tools => "notifications/tools/list_changed",
            ListKind::Prompts => "notifications/prompts/list_changed",
            ListKind::Resources | ListKind::Templates => "notifications/resources/list_changed",
        }
    }
}

/// What every aggregate scope of one relay shares: the catalogue, the servers that are
/// down, and the client sessions to tell about changes.
pub struct Aggregate {
    relay: Weak<Relay>,
    catalogue: tokio::sync::Mutex<HashMap<Arc<str>, Catalogue>>,
    /// Servers left out of the lists until a retry finds them back (by the address of the
    /// `ServerRelay` that failed: a changed server is tried afresh).
    down: Mutex<HashMap<Arc<str>, usize>>,
    links: Mutex<Vec<Weak<Link>>>,
}

/// A merge and the servers it was made from (their addresses: a changed server is a new
/// `ServerRelay`).
type CachedMerge = (Vec<usize>, Arc<Merged>);

/// A merged list, and its entries by exposed name.
struct Merged {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
}

/// One server's catalogue session and what it listed.
struct Catalogue {
    session: Arc<Session>,
    /// The server's `initialize` result: its capabilities and instructions.
    initialized: Value,
    lists: HashMap<ListKind, Vec<Value>>,
}

/// One merged list entry: the server it came from, and the entry as the client sees it.
#[derive(Debug, Clone)]
struct Entry {
    server: Arc<str>,
    original: String,
    item: Value,
}

impl Aggregate {
    pub(super) fn new(relay: Weak<Relay>) -> Arc<Aggregate> {
        Arc::new(Aggregate {
            relay,
            catalogue: tokio::sync::Mutex::new(HashMap::new()),
            down: Mutex::new(HashMap::new()),
            links: Mutex::new(Vec::new()),
        })
    }

    fn relay(&self) -> Option<Arc<Relay>> {
        self.relay.upgrade()
    }

    /// The servers `entry`'s scope carries, in its order (config order for `/mcp`, the
    /// profile's for a profile): enabled ones only; a profile's server that is missing or
    /// off is skipped.
    fn members(&self, entry: &ServerRelay) -> Vec<Member> {
        let (Some(relay), Some(scope)) = (self.relay(), entry.aggregate.as_ref()) else {
            return Vec::new();
        };
        let member = |server: Arc<ServerRelay>, profile: Option<&ProfileServer>| {
            let exposure = server.exposure();
            let prefix = profile
                .and_then(|p| p.prefix.clone())
                .or_else(|| exposure.prefix.clone())
                .unwrap_or_else(|| server.name.to_string());
            Member {
                server,
                prefix,
                exposure,
                profile: profile.cloned(),
            }
        };
        match &scope.profile {
            None => relay
                .enabled_servers()
                .into_iter()
                .map(|server| member(server, None))
                .collect(),
            Some(_) => scope
                .definition()
                .servers
                .iter()
                .filter_map(|(name, entry)| Some(member(relay.server(name).ok()?, Some(entry))))
                .collect(),
        }
    }

    /// The addresses of the servers `entry`'s scope carries, in its order: what a merge was
    /// made from (a changed server is a new `ServerRelay`).
    fn member_key(&self, entry: &ServerRelay) -> Vec<usize> {
        let (Some(relay), Some(scope)) = (self.relay(), entry.aggregate.as_ref()) else {
            return Vec::new();
        };
        match &scope.profile {
            None => relay
                .enabled_servers()
                .iter()
                .map(|s| Arc::as_ptr(s) as usize)
                .collect(),
            Some(_) => scope
                .definition()
                .servers
                .keys()
                .filter_map(|name| relay.server(name).ok())
                .map(|s| Arc::as_ptr(&s) as usize)
                .collect(),
        }
    }

    /// Every enabled server's `kind` list, merged, from the cache while the servers are the
    /// same and no `list_changed` came (a call looks its name up here, so this is the hot
    /// path). A merge that left a server out is not kept: the next one tries it again.
    async fn merged(self: &Arc<Self>, entry: &ServerRelay, kind: ListKind) -> Arc<Merged> {
        let Some(scope) = entry.aggregate.as_ref() else {
            return Arc::new(Merged {
                entries: Vec::new(),
                by_name: HashMap::new(),
            });
        };
        // The cache is keyed by the servers alone: a change of exposure or of the profile
        // empties it instead (`exposure_changed`, `Scope::redefine`), so the hot path (a
        // call looking its name up) clones no filters.
        let key = self.member_key(entry);
        if let Some((cached_key, merged)) = lock(&scope.merged).get(&kind)
            && *cached_key == key
        {
            return merged.clone();
        }
        let members = self.members(entry);
        let (entries, complete) = self.merge(&members, kind).await;
        let by_name = entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| Some((e.item["name"].as_str()?.to_owned(), i)))
            .collect();
        let merged = Arc::new(Merged { entries, by_name });
        if complete {
            lock(&scope.merged).insert(kind, (key, merged.clone()));
        }
        merged
    }

    /// Every enabled server's `kind` list, merged: tools and prompts under their exposed
    /// names, resources as they are. Servers that fail or are slow are left out (and the
    /// merge is then not complete).
    async fn merge(self: &Arc<Self>, members: &[Member], kind: ListKind) -> (Vec<Entry>, bool) {
        let complete = std::sync::atomic::AtomicBool::new(true);
        let complete = &complete;
        let fetches = members.iter().map(|member| {
            let me = self.clone();
            let server = member.server.clone();
            async move {
                // A server that is down is not asked again until its retry finds it back.
                if me.is_down(&server) {
                    complete.store(false, Ordering::Relaxed);
                    return Vec::new();
                }
                let listed = tokio::time::timeout(LIST_TIMEOUT, me.list(&server, kind)).await;
                if !matches!(listed, Ok(Ok(_))) {
                    complete.store(false, Ordering::Relaxed);
                    me.went_down(&server);
                }
                match listed {
                    Ok(Ok(items)) => items,
                    Ok(Err(why)) => {
                        log::warn!(
                            "aggregate: '{}' is left out of {}: {why}",
                            server.name,
                            kind.method()
                        );
                        Vec::new()
                    }
                    Err(_) => {
                        log::warn!(
                            "aggregate: '{}' is left out of {}: no answer within {} s",
                            server.name,
                            kind.method(),
                            LIST_TIMEOUT.as_secs()
                        );
                        Vec::new()
                    }
                }
            }
        });
        let lists = futures::future::join_all(fetches).await;
        let mut entries = Vec::new();
        for (member, items) in members.iter().zip(lists) {
            let server = &member.server;
            for item in items {
                let key = match kind {
                    ListKind::Tools | ListKind::Prompts => "name",
                    ListKind::Resources => "uri",
                    ListKind::Templates => "uriTemplate",
                };
                let original = item[key].as_str().unwrap_or_default().to_owned();
                entries.push(Entry {
                    server: server.name.clone(),
                    original,
                    item,
                });
            }
        }
        // The filters (the server's, then the profile's): what they leave out is neither
        // listed nor named.
        entries.retain(|e| {
            members
                .iter()
                .find(|m| m.server.name == e.server)
                .is_none_or(|m| m.allows(kind, &e.original))
        });
        if matches!(kind, ListKind::Tools | ListKind::Prompts) {
            let prefixes: HashMap<Arc<str>, String> = members
                .iter()
                .map(|m| (m.server.name.clone(), m.prefix.clone()))
                .collect();
            let table = names::table(entries.iter().map(|e| {
                (
                    &*e.server,
                    prefixes.get(&e.server).map_or("", String::as_str),
                    e.original.as_str(),
                )
            }));
            for (entry, (exposed, _)) in entries.iter_mut().zip(table) {
                entry.item["name"] = Value::String(exposed);
            }
        }
        (entries, complete.load(Ordering::Relaxed))
    }

    /// One server's `kind` list from its catalogue session (fetched once, then kept).
    async fn list(&self, server: &Arc<ServerRelay>, kind: ListKind) -> Result<Vec<Value>, String> {
        let mut catalogue = self.catalogue.lock().await;
        let fresh = catalogue
            .get(&server.name)
            .is_some_and(|c| !c.session.is_closed() && Arc::ptr_eq(&c.session.server, server));
        if !fresh {
            catalogue.remove(&server.name);
            let (session, initialized) = self.open_catalogue(server).await?;
            catalogue.insert(
                server.name.clone(),
                Catalogue {
                    session,
                    initialized,
                    lists: HashMap::new(),
                },
            );
        }
        let entry = catalogue
            .get_mut(&server.name)
            .ok_or("the catalogue session is gone")?;
        if let Some(items) = entry.lists.get(&kind) {
            return Ok(items.clone());
        }
        if entry.initialized["capabilities"][kind.capability()].is_null() {
            entry.lists.insert(kind, Vec::new());
            return Ok(Vec::new());
        }
        let mut items = Vec::new();
        let mut cursor: Option<Value> = None;
        for _ in 0..MAX_PAGES {
            let params = match &cursor {
                Some(cursor) => json!({ "cursor": cursor }),
                None => json!({}),
            };
            let result = ask(&entry.session, kind.method(), params).await?;
            if let Some(page) = result[kind.field()].as_array() {
                items.extend(page.iter().cloned());
            }
            cursor = result.get("nextCursor").filter(|c| !c.is_null()).cloned();
            if cursor.is_none() {
                break;
            }
        }
        entry.lists.insert(kind, items.clone());
        Ok(items)
    }

    /// Opens and initializes a catalogue session on `server`, and watches its GET stream
    /// for `list_changed`.
    async fn open_catalogue(
        &self,
        server: &Arc<ServerRelay>,
    ) -> Result<(Arc<Session>, Value), String> {
        let relay = self.relay().ok_or("Switchboard is stopping")?;
        let session = relay
            .open_session_for(server, Transport::StreamableHttp)
            .await
            .map_err(|e| e.to_string())?;
        // Every client capability, so a server that lists some tools only to clients that
        // can sample, elicit or list roots lists them here: the aggregate shows what any of
        // its clients may use (each client's own session declares its own capabilities).
        let params = json!({
            "protocolVersion": LATEST_SESSION_VERSION,
            "capabilities": {"roots": {"listChanged": true}, "sampling": {}, "elicitation": {}},
            "clientInfo": {"name": "switchboard-catalogue", "version": env!("CARGO_PKG_VERSION")}
        });
        let initialized = match initialize(&session, &params).await {
            Ok(result) => result,
            Err(why) => {
                relay
                    .close_session(&session.id, "the catalogue could not initialize")
                    .await;
                return Err(why);
            }
        };
        let events = session.open_stream();
        let server_name = server.name.clone();
        let me = relay.aggregate.clone();
        tokio::spawn(watch_catalogue(
            me,
            server_name,
            Arc::downgrade(&session),
            events,
        ));
        Ok((session, initialized))
    }

    fn is_down(&self, server: &Arc<ServerRelay>) -> bool {
        lock(&self.down)
            .get(&server.name)
            .is_some_and(|&ptr| ptr == Arc::as_ptr(server) as usize)
    }

    /// `server` did not answer its lists: leave it out until a retry in the background
    /// (after 1 s, then doubling up to a minute) finds it back, then tell every client its
    /// lists changed. Retries stop when the server is changed or removed, or when no
    /// aggregate session is left.
    fn went_down(self: &Arc<Self>, server: &Arc<ServerRelay>) {
        let ptr = Arc::as_ptr(server) as usize;
        if lock(&self.down).insert(server.name.clone(), ptr) == Some(ptr) {
            return; // already being retried
        }
        let me = self.clone();
        let server = server.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_secs(1);
            loop {
                tokio::time::sleep(wait).await;
                let same = me
                    .relay()
                    .and_then(|relay| relay.server(&server.name).ok())
                    .is_some_and(|now| Arc::ptr_eq(&now, &server));
                let clients = {
                    let mut links = lock(&me.links);
                    links.retain(|l| l.strong_count() > 0);
                    !links.is_empty()
                };
                if !same || !clients {
                    lock(&me.down).remove(&server.name);
                    return;
                }
                let back =
                    tokio::time::timeout(LIST_TIMEOUT, me.list(&server, ListKind::Tools)).await;
                if matches!(back, Ok(Ok(_))) {
                    lock(&me.down).remove(&server.name);
                    log::info!(
                        "aggregate: '{}' answers again; its lists are back",
                        server.name
                    );
                    for kinds in [
                        &[ListKind::Tools][..],
                        &[ListKind::Prompts],
                        &[ListKind::Resources, ListKind::Templates],
                    ] {
                        me.list_changed(&server.name, kinds).await;
                    }
                    return;
                }
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        });
    }

    /// A server said one of its lists changed: forget it, and tell every aggregate client.
    async fn list_changed(&self, server: &str, kinds: &[ListKind]) {
        if let Some(entry) = self.catalogue.lock().await.get_mut(server) {
            for kind in kinds {
                entry.lists.remove(kind);
            }
        }
        if let Some(relay) = self.relay() {
            for entry in relay.aggregate_entries() {
                if let Some(scope) = &entry.aggregate {
                    let mut merged = lock(&scope.merged);
                    for kind in kinds {
                        merged.remove(kind);
                    }
                }
            }
        }
        self.notify(kinds[0], |link| link.carries(server));
    }

    /// A server's exposure changed (its prefix or filters): its tools and prompts are
    /// merged again, and the clients that see it are told.
    pub(in crate::relay) fn exposure_changed(&self, server: &str) {
        if let Some(relay) = self.relay() {
            for entry in relay.aggregate_entries() {
                if let Some(scope) = &entry.aggregate {
                    lock(&scope.merged).clear();
                }
            }
        }
        self.notify(ListKind::Tools, |link| link.carries(server));
        self.notify(ListKind::Prompts, |link| link.carries(server));
    }

    /// Tells the clients that `pick` chooses that every list changed.
    fn announce(&self, pick: impl Fn(&Link) -> bool) {
        self.notify(ListKind::Tools, &pick);
        self.notify(ListKind::Prompts, &pick);
        self.notify(ListKind::Resources, &pick);
    }

    /// Sends `kind`'s `list_changed` to the clients that `pick` chooses.
    fn notify(&self, kind: ListKind, pick: impl Fn(&Link) -> bool) {
        let links: Vec<Arc<Link>> = {
            let mut links = lock(&self.links);
            links.retain(|l| l.strong_count() > 0);
            links
                .iter()
                .filter_map(Weak::upgrade)
                .filter(|link| pick(link))
                .collect()
        };
        let notification = kind.list_changed();
        let frame = Bytes::from(format!(r#"{{"jsonrpc":"2.0","method":"{notification}"}}"#));
        for link in links {
            if let Some(outer) = link.outer.upgrade() {
                outer.deliver_unsolicited(frame.clone());
            }
        }
    }

    /// What the servers of `members` whose catalogue is open said in `initialize`: their
    /// capabilities merged (objects key by key), and their instructions, each under its
    /// server's name, in the scope's order.
    fn merged_initialize(
        catalogue: &HashMap<Arc<str>, Catalogue>,
        members: &[Member],
    ) -> (Value, Option<String>) {
        let mut capabilities = json!({});
        let mut parts = Vec::new();
        for member in members {
            let Some(c) = catalogue.get(&member.server.name) else {
                continue;
            };
            merge_objects(&mut capabilities, &c.initialized["capabilities"]);
            if let Some(text) = c.initialized["instructions"].as_str() {
                parts.push(format!("## {}\n{text}", member.server.name));
            }
        }
        (
            capabilities,
            (!parts.is_empty()).then(|| parts.join("\n\n")),
        )
    }
}

/// One tool of one server as an aggregate endpoint shows it (or would, were it let through):
/// what the Tools view and `switchboard tools` list.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolRow {
    pub server: String,
    /// The server's own name for it.
    pub name: String,
    /// The name clients see; `None` while it is held back.
    pub exposed: Option<String>,
    pub description: Option<String>,
    /// Whether the filters let it through.
    pub enabled: bool,
}

/// Every tool an aggregate endpoint's servers have, and the servers that could not say.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolInventory {
    pub tools: Vec<ToolRow>,
    /// How many a client of the endpoint sees.
    pub visible: usize,
    /// Servers whose tools could not be listed, with why.
    pub unavailable: Vec<(String, String)>,
}

impl Aggregate {
    /// Every tool of the servers `entry`'s scope carries (of `only` alone, when given),
    /// held back or not, in the scope's order.
    pub(in crate::relay) async fn inventory(
        self: &Arc<Self>,
        entry: &ServerRelay,
        only: Option<&str>,
    ) -> ToolInventory {
        let members: Vec<Member> = self
            .members(entry)
            .into_iter()
            .filter(|m| only.is_none_or(|name| *m.server.name == *name))
            .collect();
        let merged = self.merged(entry, ListKind::Tools).await;
        let exposed: HashMap<(&str, &str), &str> = merged
            .entries
            .iter()
            .filter_map(|e| Some(((&*e.server, e.original.as_str()), e.item["name"].as_str()?)))
            .collect();
        let mut inventory = ToolInventory::default();
        for member in &members {
            let listed =
                tokio::time::timeout(LIST_TIMEOUT, self.list(&member.server, ListKind::Tools))
                    .await;
            let items = match listed {
                Ok(Ok(items)) => items,
                Ok(Err(why)) => {
                    inventory
                        .unavailable
                        .push((member.server.name.to_string(), why));
                    continue;
                }
                Err(_) => {
                    inventory.unavailable.push((
                        member.server.name.to_string(),
                        format!("no answer within {} s", LIST_TIMEOUT.as_secs()),
                    ));
                    continue;
                }
            };
            for item in items {
                let name = item["name"].as_str().unwrap_or_default().to_owned();
                let enabled = member.allows(ListKind::Tools, &name);
                inventory.tools.push(ToolRow {
                    server: member.server.name.to_string(),
                    exposed: exposed
                        .get(&(&*member.server.name, name.as_str()))
                        .map(|s| (*s).to_owned()),
                    description: item["description"].as_str().map(str::to_owned),
                    enabled,
                    name,
                });
            }
        }
        inventory.visible = inventory.tools.iter().filter(|t| t.enabled).count();
        inventory
    }
}

/// Follows a catalogue session's GET stream: a `list_changed` empties that list; a
/// question for the client is answered here (the catalogue has no client to ask: no
/// roots, and no sampling or elicitation).
async fn watch_catalogue(
    aggregate: Arc<Aggregate>,
    server: Arc<str>,
    session: Weak<Session>,
    mut events: StreamRx,
) {
    while let Some(frame) = events.recv().await {
        let Ok(envelope) = Envelope::parse(&frame) else {
            continue;
        };
        if envelope.kind == Kind::Request {
            let reply = match envelope.method.as_deref() {
                Some("roots/list") => jsonrpc::result_response(
                    envelope.id.unwrap_or(&jsonrpc::raw("null".into())),
                    &jsonrpc::raw(r#"{"roots":[]}"#.into()),
                ),
                _ => jsonrpc::error_response(
                    envelope.id,
                    code::METHOD_NOT_FOUND,
                    "Switchboard's catalogue session has no client to ask",
                ),
            };
            if let Some(session) = session.upgrade() {
                forward(&session, reply).await;
            }
            continue;
        }
        if let Some(kinds) = envelope
            .method
            .as_deref()
            .and_then(ListKind::from_list_changed)
        {
            aggregate.list_changed(&server, kinds).await;
        }
    }
}

/// Sends `initialize` with `params` and `notifications/initialized`; the result.
async fn initialize(session: &Arc<Session>, params: &Value) -> Result<Value, String> {
    let result = ask(session, "initialize", params.clone()).await?;
    let initialized =
        Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let envelope = Envelope::parse(&initialized).map_err(|e| e.to_string())?;
    session
        .send_from_client(&envelope, initialized.clone(), false)
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(result)
}

/// One request of Switchboard's own on `session`; its result, or the error's message.
async fn ask(session: &Arc<Session>, method: &str, params: Value) -> Result<Value, String> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = format!("sb-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let frame = Bytes::from(
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
    );
    let envelope = Envelope::parse(&frame).map_err(|e| e.to_string())?;
    let stream = session
        .send_from_client(&envelope, frame.clone(), false)
        .await
        .map_err(|e| format!("{e:?}"))?
        .ok_or("no answer stream")?;
    let mut rx = stream.rx;
    while let Some(answer) = rx.recv().await {
        let answer: Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
        if answer["id"] != Value::String(id.clone()) {
            continue;
        }
        if let Some(error) = answer.get("error") {
            return Err(error["message"].as_str().unwrap_or("an error").to_owned());
        }
        return Ok(answer["result"].clone());
    }
    Err("the session ended before answering".into())
}

/// What the aggregate does with a client request.
enum Answered {
    /// It answers itself (lists, `initialize`, `ping`, an error).
    Now(Bytes),
    /// A server answers, on this stream of the link's session there.
    Forwarded(Arc<Session>, StreamRx),
}

/// A server→client request in flight: the inner session it came from, and its own id.
type ServerRequest = (Weak<Session>, Box<str>);

/// Where a client request goes: the server, and the name to put back in it (a JSON path
/// and the server's own name) when it was renamed.
type Target = (Arc<str>, Option<(Vec<String>, String)>);

/// The backend of one client session on the aggregate.
pub struct Link {
    aggregate: Arc<Aggregate>,
    /// The relay's entry for the endpoint the client opened (`/mcp` or a profile's): its
    /// scope says which servers the client sees.
    entry: Arc<ServerRelay>,
    outer: Weak<Session>,
    /// The client's `initialize` params, replayed to each server it calls.
    init: Mutex<Option<Value>>,
    /// The link's own session on each server it has called.
    inner: tokio::sync::Mutex<HashMap<Arc<str>, Arc<Session>>>,
    /// Server→client requests in flight: the id the client saw → (the inner session, the
    /// server's own id).
    server_requests: Mutex<HashMap<String, ServerRequest>>,
    /// Client requests in flight → the inner session that has them (for cancellation).
    inflight: Mutex<HashMap<Box<str>, Weak<Session>>>,
    /// `logging/setLevel` as the client last set it, for servers called later.
    log_level: Mutex<Option<Value>>,
    next_id: AtomicU64,
}

impl Link {
    pub(super) fn open(aggregate: &Arc<Aggregate>, outer: &Arc<Session>) -> Arc<Link> {
        let link = Arc::new(Link {
            aggregate: aggregate.clone(),
            entry: outer.server.clone(),
            outer: Arc::downgrade(outer),
            init: Mutex::new(None),
            inner: tokio::sync::Mutex::new(HashMap::new()),
            server_requests: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            log_level: Mutex::new(None),
            next_id: AtomicU64::new(1),
        });
        lock(&aggregate.links).push(Arc::downgrade(&link));
        link
    }

    /// Whether the client's scope carries `server`.
    fn carries(&self, server: &str) -> bool {
        self.entry
            .aggregate
            .as_ref()
            .is_some_and(|scope| scope.carries(server))
    }

    /// One message from the client. Requests are answered on the outer session (by the
    /// aggregate itself, or by the server that owns the name) from a task of their own.
    pub(super) fn send(self: &Arc<Self>, envelope: &Envelope<'_>, frame: Bytes) {
        let method = envelope.method.as_deref().unwrap_or_default().to_owned();
        match envelope.kind {
            Kind::Request => {
                let id: Box<str> = envelope.id_key().unwrap_or("null").into();
                if method == "initialize" {
                    *lock(&self.init) = serde_json::from_slice::<Value>(&frame)
                        .ok()
                        .map(|v| v["params"].clone());
                }
                let me = self.clone();
                // One task per request: it answers, or forwards and then carries what the
                // server says back (no second task for that: a call costs one spawn).
                tokio::spawn(async move {
                    match me.answer(&id, &method, frame).await {
                        Answered::Now(answer) => {
                            if let Some(outer) = me.outer.upgrade() {
                                outer.deliver_response(&id, answer);
                            }
                        }
                        Answered::Forwarded(inner, rx) => {
                            me.pump(&inner, rx).await;
                            lock(&me.inflight).remove(&id);
                        }
                    }
                });
            }
            Kind::Response => {
                let key = envelope.id_key().unwrap_or("null");
                let Some((inner, original)) = lock(&self.server_requests).remove(key) else {
                    return;
                };
                let (Some(inner), Some(out)) = (
                    inner.upgrade(),
                    jsonrpc::rewrite(&frame, &["id"], &jsonrpc::raw(original.into_string())),
                ) else {
                    return;
                };
                tokio::spawn(async move { forward(&inner, out).await });
            }
            Kind::Notification => match method.as_str() {
                "notifications/cancelled" => {
                    let Some(request) = envelope.param("requestId", false) else {
                        return;
                    };
                    let inner = lock(&self.inflight)
                        .get(request.get())
                        .and_then(Weak::upgrade);
                    if let Some(inner) = inner {
                        tokio::spawn(async move { forward(&inner, frame).await });
                    }
                }
                "notifications/roots/list_changed" => {
                    let me = self.clone();
                    tokio::spawn(async move {
                        let inner: Vec<Arc<Session>> =
                            me.inner.lock().await.values().cloned().collect();
                        for session in inner {
                            forward(&session, frame.clone()).await;
                        }
                    });
                }
                // `initialized` was the aggregate's to receive; the servers get their own.
                _ => {}
            },
        }
    }

    /// The answer to client request `id` when the aggregate gives it itself, or the inner
    /// session and stream the server answers on.
    async fn answer(self: &Arc<Self>, id: &str, method: &str, frame: Bytes) -> Answered {
        let id_raw = jsonrpc::raw(id.to_owned());
        let ok = |result: Value| {
            Answered::Now(jsonrpc::result_response(
                &id_raw,
                &jsonrpc::raw(result.to_string()),
            ))
        };
        let error = |code: i32, message: &str| {
            Answered::Now(jsonrpc::error_response(Some(&id_raw), code, message))
        };
        // A call only needs its name: read it without building the arguments' values.
        let request: Value = if matches!(method, "tools/call" | "prompts/get") {
            #[derive(serde::Deserialize)]
            struct Call<'a> {
                #[serde(borrow)]
                params: Named<'a>,
            }
            #[derive(serde::Deserialize)]
            struct Named<'a> {
                #[serde(borrow)]
                name: std::borrow::Cow<'a, str>,
            }
            match serde_json::from_slice::<Call<'_>>(&frame) {
                Ok(call) => json!({"params": {"name": call.params.name}}),
                Err(_) => Value::Null,
            }
        } else {
            serde_json::from_slice(&frame).unwrap_or_default()
        };
        let params = &request["params"];
        match method {
            "initialize" => {
                let asked = params["protocolVersion"].as_str().unwrap_or_default();
                let version = if SESSION_PROTOCOL_VERSIONS.contains(&asked) {
                    asked
                } else {
                    LATEST_SESSION_VERSION
                };
                // What the servers said (those whose catalogue is open: opening a session
                // starts no child), then what the aggregate itself always does: it announces
                // list changes (a server may come back, or be added), routes subscriptions,
                // completions and logging.
                let members = self.aggregate.members(&self.entry);
                let (servers, instructions) = match self.aggregate.catalogue.try_lock() {
                    Ok(catalogue) => Aggregate::merged_initialize(&catalogue, &members),
                    Err(_) => (json!({}), None),
                };
                let mut capabilities = json!({
                    "tools": {"listChanged": true},
                    "prompts": {"listChanged": true},
                    "resources": {"listChanged": true, "subscribe": true},
                    "completions": {},
                    "logging": {}
                });
                merge_objects(&mut capabilities, &servers);
                let title = match self
                    .entry
                    .aggregate
                    .as_ref()
                    .and_then(|s| s.profile.as_ref())
                {
                    Some(profile) => format!("Switchboard: profile {profile}"),
                    None => "Switchboard: all servers".to_owned(),
                };
                let mut result = json!({
                    "protocolVersion": version,
                    "capabilities": capabilities,
                    "serverInfo": {"name": "switchboard", "title": title, "version": env!("CARGO_PKG_VERSION")}
                });
                if let Some(text) = instructions {
                    result["instructions"] = Value::String(text);
                }
                ok(result)
            }
            "ping" => ok(json!({})),
            "logging/setLevel" => {
                *lock(&self.log_level) = Some(params.clone());
                let inner: Vec<Arc<Session>> = self.inner.lock().await.values().cloned().collect();
                for session in inner {
                    let _ = ask(&session, "logging/setLevel", params.clone()).await;
                }
                ok(json!({}))
            }
            _ => {
                if let Some(kind) = ListKind::from_method(method) {
                    let start = match params.get("cursor").filter(|c| !c.is_null()) {
                        None => 0,
                        Some(cursor) => match cursor.as_str().and_then(page_start) {
                            Some(start) => start,
                            None => return error(code::INVALID_PARAMS, "Invalid cursor"),
                        },
                    };
                    let merged = self.aggregate.merged(&self.entry, kind).await;
                    let total = merged.entries.len();
                    let items: Vec<&Value> = merged
                        .entries
                        .iter()
                        .skip(start)
                        .take(PAGE_SIZE)
                        .map(|e| &e.item)
                        .collect();
                    let mut result = json!({ kind.field(): items });
                    if start + PAGE_SIZE < total {
                        result["nextCursor"] = Value::String(page_cursor(start + PAGE_SIZE));
                    }
                    return ok(result);
                }
                let target = match self.target(method, params).await {
                    Ok(target) => target,
                    Err(Refusal(code, message)) => return error(code, &message),
                };
                let Some((server, rewrite)) = target else {
                    return error(
                        code::METHOD_NOT_FOUND,
                        &format!("Method not found: {method}"),
                    );
                };
                let frame = match rewrite {
                    Some((path, value)) => {
                        let path: Vec<&str> = path.iter().map(String::as_str).collect();
                        match jsonrpc::rewrite(
                            &frame,
                            &path,
                            &jsonrpc::raw(Value::String(value).to_string()),
                        ) {
                            Some(frame) => frame,
                            None => return error(code::INVALID_PARAMS, "Invalid params"),
                        }
                    }
                    None => frame,
                };
                match self.call(&server, id, frame).await {
                    Ok((inner, rx)) => Answered::Forwarded(inner, rx),
                    Err(message) => error(code::SERVER_UNAVAILABLE, &message),
                }
            }
        }
    }

    /// Which server a request goes to, and the name to put back in it (a JSON path and the
    /// server's own name), or `None` for a method the aggregate does not route.
    async fn target(&self, method: &str, params: &Value) -> Result<Option<Target>, Refusal> {
        let by_name = |kind: ListKind, name: &str, path: &[&str]| {
            let aggregate = self.aggregate.clone();
            let entry = self.entry.clone();
            let name = name.to_owned();
            let path: Vec<String> = path.iter().map(|p| (*p).to_owned()).collect();
            async move {
                let merged = aggregate.merged(&entry, kind).await;
                if let Some(listed) = merged.by_name.get(&name).map(|&i| &merged.entries[i]) {
                    return Ok(Some((
                        listed.server.clone(),
                        Some((path, listed.original.clone())),
                    )));
                }
                // Not listed (a server may accept names it does not list): `<prefix>__<name>`
                // still finds its server.
                for member in aggregate.members(&entry) {
                    if let Some(original) = name
                        .strip_prefix(member.prefix.as_str())
                        .and_then(|rest| rest.strip_prefix(names::SEPARATOR))
                        .filter(|_| !member.prefix.is_empty())
                        .filter(|original| member.allows(kind, original))
                    {
                        return Ok(Some((
                            member.server.name.clone(),
                            Some((path, original.to_owned())),
                        )));
                    }
                }
                let what = if kind == ListKind::Tools {
                    "tool"
                } else {
                    "prompt"
                };
                Err(Refusal(
                    code::INVALID_PARAMS,
                    format!("Unknown {what}: {name}"),
                ))
            }
        };
        match method {
            "tools/call" => {
                let name = params["name"].as_str().unwrap_or_default();
                by_name(ListKind::Tools, name, &["params", "name"]).await
            }
            "prompts/get" => {
                let name = params["name"].as_str().unwrap_or_default();
                by_name(ListKind::Prompts, name, &["params", "name"]).await
            }
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                let uri = params["uri"].as_str().unwrap_or_default();
                Ok(Some((self.owner_of(uri).await?, None)))
            }
            "completion/complete" => match params["ref"]["type"].as_str() {
                Some("ref/prompt") => {
                    let name = params["ref"]["name"].as_str().unwrap_or_default();
                    by_name(ListKind::Prompts, name, &["params", "ref", "name"]).await
                }
                Some("ref/resource") => {
                    let uri = params["ref"]["uri"].as_str().unwrap_or_default();
                    Ok(Some((self.owner_of(uri).await?, None)))
                }
                _ => Err(Refusal(code::INVALID_PARAMS, "Invalid params: ref".into())),
            },
            _ => Ok(None),
        }
    }

    /// The server that serves `uri`: the first (in config order) that lists it, else the
    /// first whose template's fixed start it begins with.
    async fn owner_of(&self, uri: &str) -> Result<Arc<str>, Refusal> {
        let listed = self
            .aggregate
            .merged(&self.entry, ListKind::Resources)
            .await;
        let owners: Vec<&Entry> = listed
            .entries
            .iter()
            .filter(|e| e.original == uri)
            .collect();
        if owners.len() > 1 {
            log::info!(
                "aggregate: {} servers list the resource {uri}; '{}' serves it",
                owners.len(),
                owners[0].server
            );
        }
        if let Some(first) = owners.first() {
            return Ok(first.server.clone());
        }
        let templates = self
            .aggregate
            .merged(&self.entry, ListKind::Templates)
            .await;
        templates
            .entries
            .iter()
            .filter(|e| {
                let fixed = e.original.split('{').next().unwrap_or_default();
                !fixed.is_empty() && uri.starts_with(fixed)
            })
            .max_by_key(|e| e.original.split('{').next().unwrap_or_default().len())
            .map(|e| e.server.clone())
            .ok_or_else(|| Refusal(code::INVALID_PARAMS, format!("Resource not found: {uri}")))
    }

    /// Forwards client request `id` (already renamed) to `server` through the link's own
    /// session there; the inner session and the stream its answer comes on.
    async fn call(
        self: &Arc<Self>,
        server: &Arc<str>,
        id: &str,
        frame: Bytes,
    ) -> Result<(Arc<Session>, StreamRx), String> {
        let inner = self.inner_session(server).await?;
        let envelope = Envelope::parse(&frame).map_err(|e| e.to_string())?;
        let stream = match inner.send_from_client(&envelope, frame.clone(), true).await {
            Ok(Some(stream)) => stream,
            Ok(None) => return Err("no answer stream".into()),
            Err(e) => {
                self.inner.lock().await.remove(server);
                return Err(format!("server '{server}': {e:?}"));
            }
        };
        lock(&self.inflight).insert(id.into(), Arc::downgrade(&inner));
        Ok((inner, stream.rx))
    }

    /// The link's session on `server`, opened and initialized with the client's own
    /// `initialize` params at the first call.
    async fn inner_session(self: &Arc<Self>, server: &Arc<str>) -> Result<Arc<Session>, String> {
        let mut inner = self.inner.lock().await;
        if let Some(session) = inner.get(server).filter(|s| !s.is_closed()) {
            return Ok(session.clone());
        }
        let relay = self.aggregate.relay().ok_or("Switchboard is stopping")?;
        let config = relay.server(server).map_err(|e| e.to_string())?;
        let session = relay
            .open_session(&config, Transport::StreamableHttp)
            .await
            .map_err(|e| e.to_string())?;
        let params = lock(&self.init).clone().unwrap_or_else(|| {
            json!({"protocolVersion": LATEST_SESSION_VERSION, "capabilities": {},
                   "clientInfo": {"name": "switchboard-aggregate", "version": env!("CARGO_PKG_VERSION")}})
        });
        if let Err(why) = initialize(&session, &params).await {
            relay.close_session(&session.id, "initialize failed").await;
            return Err(format!("server '{server}': {why}"));
        }
        let level = lock(&self.log_level).clone();
        if let Some(level) = level {
            let _ = ask(&session, "logging/setLevel", level).await;
        }
        let events = session.open_stream();
        let me = self.clone();
        let pumped = session.clone();
        tokio::spawn(async move { me.pump(&pumped, events).await });
        inner.insert(server.clone(), session.clone());
        Ok(session)
    }

    /// Carries what `inner` says on one of its streams to the client.
    async fn pump(self: &Arc<Self>, inner: &Arc<Session>, mut rx: StreamRx) {
        while let Some(frame) = rx.recv().await {
            let Some(outer) = self.outer.upgrade() else {
                return;
            };
            let Ok(envelope) = Envelope::parse(&frame) else {
                continue;
            };
            let frame = match envelope.kind {
                // A question for the client: an id no other server's question has.
                Kind::Request => {
                    let n = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let proxy_id = format!("\"sb-{n}\"");
                    let original: Box<str> = envelope.id_key().unwrap_or("null").into();
                    let Some(out) =
                        jsonrpc::rewrite(&frame, &["id"], &jsonrpc::raw(proxy_id.clone()))
                    else {
                        continue;
                    };
                    lock(&self.server_requests).insert(proxy_id, (Arc::downgrade(inner), original));
                    out
                }
                Kind::Notification => {
                    if let Some(kinds) = envelope
                        .method
                        .as_deref()
                        .and_then(ListKind::from_list_changed)
                    {
                        // The aggregate's own list_changed goes to every client, this one too.
                        self.aggregate.list_changed(&inner.server.name, kinds).await;
                        continue;
                    }
                    frame
                }
                Kind::Response => frame,
            };
            let _ = outer.route(frame);
        }
    }

    /// Ends the link's sessions on the servers. (Boxed: closing a session closes its
    /// backend, and this is one, so the future types would nest without end.)
    pub(super) fn close(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let inner: Vec<Arc<Session>> =
                self.inner.lock().await.drain().map(|(_, s)| s).collect();
            if let Some(relay) = self.aggregate.relay() {
                for session in inner {
                    relay
                        .close_session(&session.id, "its aggregate session ended")
                        .await;
                }
            }
        })
    }
}

/// The filter for `kind` of a pair of tool and prompt filters (resources are not filtered).
fn filter_of<'a>(tools: &'a NameFilter, prompts: &'a NameFilter, kind: ListKind) -> &'a NameFilter {
    static NONE: std::sync::LazyLock<NameFilter> = std::sync::LazyLock::new(NameFilter::default);
    match kind {
        ListKind::Tools => tools,
        ListKind::Prompts => prompts,
        ListKind::Resources | ListKind::Templates => &NONE,
    }
}

/// Merges `extra` into `into`, object by object; where both have a non-object value, the
/// first one stays.
fn merge_objects(into: &mut Value, extra: &Value) {
    let (Some(into), Some(extra)) = (into.as_object_mut(), extra.as_object()) else {
        return;
    };
    for (key, value) in extra {
        match into.get_mut(key) {
            Some(existing) => merge_objects(existing, value),
            None => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// A client request the aggregate refuses: a JSON-RPC error code and message.
struct Refusal(i32, String);

/// Sends a client message that expects no stream (a response, a notification).
async fn forward(inner: &Arc<Session>, frame: Bytes) {
    if let Ok(envelope) = Envelope::parse(&frame) {
        let _ = inner
            .send_from_client(&envelope, frame.clone(), false)
            .await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_kind_round_trips_its_method() {
        for kind in ListKind::ALL {
            assert_eq!(ListKind::from_method(kind.method()), Some(kind));
            assert!(
                ListKind::from_list_changed(kind.list_changed()).is_some_and(|k| k.contains(&kind))
            );
        }
    }
}
