//! The user's visibility, generics, lifetimes, where clause, derives, doc
//! comments and other attributes survive the attribute.
use std::fmt::Debug;

use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

mod inner {
    use super::*;

    /// A cache in front of a resolver.
    #[instrumented_adapter(events(hit(key: String)))]
    #[derive(Debug, Clone)]
    #[repr(C)]
    pub struct Cache<'a, T: Clone, const N: usize = 4>
    where
        T: Debug + 'a,
    {
        /// The borrowed backing store.
        pub store: &'a [T; N],
        pub(crate) hits: u64,
    }

    /// Only this crate sees it.
    #[derive(Default)]
    #[instrumented_adapter(name = "internal")]
    pub(crate) struct Internal {
        pub(crate) calls: u32,
    }

    #[instrumented_adapter(name = "parent_only", events(seen(n: u8)))]
    pub(super) struct ParentOnly<T> {
        pub(super) value: T,
    }
}

fn lookup<'a, T: Clone + Debug>(cache: &inner::Cache<'a, T, 2>) -> u64 {
    cache.emit().hit(String::from("k"));
    cache.hits
}

fn main() {
    let store = [1_u8, 2];
    let cache = inner::Cache { store: &store, hits: 1 };
    let copy = cache.clone();
    assert_eq!(format!("{:?}", copy.store), "[1, 2]");
    assert_eq!(lookup(&copy), 1);
    assert_eq!(<inner::Cache<'_, u8, 2>>::MANIFEST.name, "cache");
    assert_eq!(inner::Internal::default().calls, 0);
    assert_eq!(inner::Internal::MANIFEST.name, "internal");
    let p = inner::ParentOnly { value: 3 };
    assert_eq!(p.value, 3);
    p.emit().seen(1);
    assert_eq!(<inner::ParentOnly<String>>::MANIFEST.name, "parent_only");
    let _: inner::CacheEvent = inner::CacheEvent::Hit { key: String::new() };
}
