//! The small handle events carry to name their adapter: its `'static`
//! manifest and its dense [`AdapterId`].

use std::fmt;

use crate::core::manifest::AdapterManifest;

/// Dense index of a registered adapter, `0..MAX_ADAPTERS`, handed out in
/// first-use order by the adapter registry. Backends keep per-adapter state
/// in tables indexed by it ([`crate::core::adapter::PerAdapter`]): one indexed
/// load, no search, no lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdapterId(u32);

impl AdapterId {
    /// How many adapters a process can register with their metrics
    /// exported. Adapters are types written in code, so this is a guard,
    /// not a limit a program should meet; one more slot holds every adapter
    /// that is not exported (a refused duplicate name, or one past the
    /// limit).
    pub const MAX_ADAPTERS: usize = 1023;

    /// Slots of a per-adapter table: a power of two, so an index is masked
    /// into range with one `and` instead of a bounds check.
    pub(crate) const SLOTS: usize = Self::MAX_ADAPTERS + 1;

    /// The id shared by every adapter whose metrics are not exported.
    pub const UNEXPORTED: AdapterId = AdapterId(Self::MAX_ADAPTERS as u32);

    pub(crate) const fn new(index: u32) -> Self {
        AdapterId(index)
    }

    /// The index, in `0..=MAX_ADAPTERS`.
    #[inline(always)]
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Whether this adapter's metrics are exported (it is not a refused
    /// duplicate nor past [`AdapterId::MAX_ADAPTERS`]).
    pub fn is_exported(self) -> bool {
        self != Self::UNEXPORTED
    }
}

/// What an event knows of its adapter: the manifest and the id. `Copy`, two
/// words.
#[derive(Clone, Copy)]
pub struct AdapterRef {
    manifest: &'static AdapterManifest,
    id: AdapterId,
}

impl AdapterRef {
    /// A handle of `manifest` registered as `id`.
    pub const fn new(manifest: &'static AdapterManifest, id: AdapterId) -> Self {
        AdapterRef { manifest, id }
    }
    /// The adapter's manifest.
    pub fn manifest(self) -> &'static AdapterManifest {
        self.manifest
    }
    /// The adapter's dense id.
    pub fn id(self) -> AdapterId {
        self.id
    }
    /// The adapter name (`adapter` label).
    pub fn name(self) -> &'static str {
        self.manifest.name
    }
}

impl fmt::Debug for AdapterRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterRef")
            .field("name", &self.manifest.name)
            .field("id", &self.id.0)
            .finish()
    }
}

// Per-adapter tables mask ids with `SLOTS - 1`.
const _: () = assert!(AdapterId::SLOTS.is_power_of_two());
