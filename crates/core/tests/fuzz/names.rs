//! The aggregate's exposed names: for any servers and tool names (any Unicode, any length,
//! duplicates included), every exposed name is valid for every common client
//! (`^[a-zA-Z0-9_-]{1,64}$`), all are unique, none is dropped, and the same input gives the
//! same names (they survive restarts).

use std::collections::HashSet;

use proptest::prelude::*;
use switchboard_core::relay::aggregate::names;

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,12}",
        "[A-Za-z0-9_.-]{1,40}",
        "[a-z]{30,90}",
        ".{1,30}",
        Just("x__y".to_owned()),
        Just("dup".to_owned()),
    ]
}

proptest! {
    #![proptest_config(crate::cases(64))]

    /// 200 (server, tool) pairs per case.
    #[test]
    fn exposed_names_are_valid_unique_and_stable(
        servers in prop::collection::vec(("[a-z][a-z0-9_.-]{0,20}", prop::option::of("[a-z_]{0,8}")), 1..8),
        tools in prop::collection::vec((0usize..8, any_name()), 200),
    ) {
        let entries: Vec<(String, String, String)> = tools
            .iter()
            .map(|(i, tool)| {
                let (server, prefix) = &servers[i % servers.len()];
                let prefix = prefix.clone().unwrap_or_else(|| server.clone());
                (server.clone(), prefix, tool.clone())
            })
            .collect();
        let table = |entries: &[(String, String, String)]| {
            names::table(entries.iter().map(|(s, p, t)| (s.as_str(), p.as_str(), t.as_str())))
        };
        let first = table(&entries);
        prop_assert_eq!(first.len(), entries.len(), "an entry was dropped");
        let mut seen = HashSet::new();
        for (name, origin) in &first {
            prop_assert!(names::is_valid(name), "{:?} for {:?}", name, origin);
            prop_assert!(seen.insert(name.clone()), "{:?} twice", name);
        }
        prop_assert_eq!(first, table(&entries), "not stable");
    }
}
