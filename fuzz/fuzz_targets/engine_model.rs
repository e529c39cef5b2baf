#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    custos_pkcs11::fuzz_harness::engine_model(data);
});
