/*
 * custos.h - values specific to the Custos PKCS#11 module.
 *
 * Include after (or instead of only) pkcs11.h. Everything here is plain preprocessor
 * definitions, usable from C and C++.
 */
#ifndef CUSTOS_H
#define CUSTOS_H

#include "pkcs11.h"

/*
 * The file name of the module, for dlopen() or a PKCS#11 consumer's module setting. Without a
 * directory the dynamic loader's search path applies; installations usually give the full path
 * (for example /usr/lib/x86_64-linux-gnu/pkcs11/libcustos_pkcs11.so).
 */
#define CUSTOS_MODULE_NAME "libcustos_pkcs11.so"

/*
 * The manufacturer ID Custos reports in CK_INFO, CK_SLOT_INFO and CK_TOKEN_INFO. The fields
 * themselves are 32 bytes padded with blanks, not NUL terminated; compare the first
 * sizeof(CUSTOS_MANUFACTURER_ID) - 1 bytes and check that the rest are blanks.
 */
#define CUSTOS_MANUFACTURER_ID "Custos"

/*
 * Environment variables the module reads at C_Initialize. Each macro is the variable's name,
 * for getenv() / setenv().
 *
 * CUSTOS_ENV_STORE: the store directory. When set (and not empty) it selects the store
 *     directly; a configuration file named by CUSTOS_ENV_CONF still supplies the other
 *     settings (share files, PIN policy) and only its store path is overridden.
 * CUSTOS_ENV_CONF: the path of the TOML configuration file. Used when CUSTOS_STORE is not set;
 *     when neither is set the module reads ~/.config/custos/custos.toml.
 * CUSTOS_ENV_DEBUG: set to anything but "" or "0" to have operator diagnostics (device and
 *     general errors, unsealing problems) written to standard error.
 * CUSTOS_ENV_QUIET: when set, the module does not print the notice it otherwise writes to
 *     standard error when a store cannot be unsealed (its tokens are then reported as not
 *     present). CUSTOS_DEBUG takes precedence.
 */
#define CUSTOS_ENV_STORE "CUSTOS_STORE"
#define CUSTOS_ENV_CONF "CUSTOS_CONF"
#define CUSTOS_ENV_DEBUG "CUSTOS_DEBUG"
#define CUSTOS_ENV_QUIET "CUSTOS_QUIET"

/*
 * AES key wrap with padding (RFC 5649), under the number several modules use for it.
 *
 * PKCS#11 3.0 gives RFC 5649 the mechanism CKM_AES_KEY_WRAP_KWP (0x210B). A number of
 * existing modules and applications instead use 0x210A for RFC 5649, the number the
 * specification assigns to CKM_AES_KEY_WRAP_PAD (RFC 3394 over PKCS#7-padded data). For
 * compatibility with those, Custos accepts 0x210A as an alias of CKM_AES_KEY_WRAP_KWP wherever
 * it offers AES key wrap with padding: with Custos, both numbers wrap and unwrap according to
 * RFC 5649, never by the PKCS#7-padding method. The value is not in the vendor-defined range
 * (CKM_VENDOR_DEFINED and above); the name states the Custos meaning. Portable code should use
 * CKM_AES_KEY_WRAP_KWP.
 */
#define CKM_CUSTOS_AES_KEY_WRAP_KWP_LEGACY 0x0000210AUL

#endif /* CUSTOS_H */
