//! The README's mechanism table is generated from the static mechanism table; this test fails
//! when the two drift apart. Regenerate with `CUSTOS_UPDATE_README=1 cargo test --test readme`.

const START: &str = "<!-- mechanism table: generated from src/mechanism/table.rs -->\n";
const END: &str = "<!-- end of mechanism table -->";

#[test]
fn readme_mechanism_table_matches_the_static_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("read README.md");
    let start = readme
        .find(START)
        .expect("README has the mechanism table start marker")
        + START.len();
    let end = readme[start..]
        .find(END)
        .expect("README has the mechanism table end marker")
        + start;
    let table = custos_pkcs11::mechanism::markdown_table();
    if std::env::var_os("CUSTOS_UPDATE_README").is_some() {
        let updated = format!("{}{}{}", &readme[..start], table, &readme[end..]);
        std::fs::write(path, updated).expect("write README.md");
        return;
    }
    assert_eq!(
        &readme[start..end],
        table,
        "README's mechanism table is out of date: run CUSTOS_UPDATE_README=1 cargo test --test readme"
    );
    // Every mechanism of the table appears, by name, exactly once.
    for m in custos_pkcs11::mechanism::MECHANISMS {
        assert_eq!(
            readme[start..end]
                .matches(&format!("| `{}` |", m.name))
                .count(),
            1,
            "{}",
            m.name
        );
    }
}
