//! Which modules FreeSWITCH loads: `<load module=...>` in
//! `pre_load_modules.conf`, `modules.conf` and `post_load_modules.conf`,
//! in that order. Commented-out entries are XML comments by now, so they
//! simply are not elements.

use crate::inventory::Module;
use crate::xml::Document;

/// The configurations that list modules, in the order FreeSWITCH reads them.
pub const LISTS: &[&str] = &[
    "pre_load_modules.conf",
    "modules.conf",
    "post_load_modules.conf",
];

/// The loaded modules, each once, in load order.
pub fn read(doc: &Document) -> Vec<Module> {
    let mut out: Vec<Module> = Vec::new();
    for list in LISTS {
        let Some(conf) = doc.configuration(list) else {
            continue;
        };
        let loads = conf
            .children()
            .filter(|n| n.has_tag_name("modules"))
            .flat_map(|n| n.children())
            .filter(|n| n.has_tag_name("load"));
        for load in loads {
            let Some(name) = load.attribute("module") else {
                continue;
            };
            if out.iter().any(|m| m.name == name) {
                continue;
            }
            out.push(Module {
                name: name.to_string(),
                at: doc.location(load),
            });
        }
    }
    out
}
