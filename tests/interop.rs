#[test]
#[ignore]
fn mkstore() {
    let d = std::env::var("MKSTORE").unwrap();
    custos_pkcs11::engine::provision::create_dev_store(std::path::Path::new(&d), 4).unwrap();
}
