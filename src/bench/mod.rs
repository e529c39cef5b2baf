//! `custos bench`: a PKCS#11 benchmark over any module loaded through the C ABI.
