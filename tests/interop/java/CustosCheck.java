// Drives the Custos PKCS#11 module through Java's SunPKCS11 provider, unchanged, and checks every
// result it can with the JDK's software providers (SunRsaSign, SunEC, SunJCE, SUN): signatures made
// in the token are verified in software, ciphertexts made in software are decrypted in the token
// (and the other way round where a key value is known), ECDH and HMAC results are compared with the
// software ones.
//
// Usage: java CustosCheck CONFIG ECDH_CONFIG PIN RSA_ALIAS EC_ALIAS ECDH_ALIAS
//   CONFIG      a SunPKCS11 configuration file (name, library, slot)
//   ECDH_CONFIG the same plus `attributes` lines that make ECDH private keys with CKA_DERIVE and
//               derived generic secrets readable (what KeyAgreement.generateSecret() needs)
//   PIN         the user PIN of the token
//   RSA_ALIAS   an RSA 2048 key entry already in the token (made by keytool -genkeypair)
//   EC_ALIAS    an EC P-256 key entry already in the token, CKA_DERIVE false (the default)
//   ECDH_ALIAS  an EC P-256 key entry already in the token with CKA_DERIVE true (keytool with a
//               configuration that adds it to generated EC private keys)
//
// Prints one line per check: `ok: NAME`, `FAIL: NAME: WHY` or `note: TEXT` (something the JDK's
// SunPKCS11 provider cannot do, whatever the module). Exits 1 if any check failed.

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Security;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.KeyGenerator;
import javax.crypto.Mac;
import javax.crypto.SecretKey;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public final class CustosCheck {
    interface Body {
        void run() throws Exception;
    }

    private static int failures = 0;
    private static final List<String> failed = new ArrayList<>();
    private static final SecureRandom RNG = new SecureRandom();

    private static void check(String name, Body body) {
        try {
            body.run();
            System.out.println("ok: " + name);
        } catch (Throwable t) {
            failures++;
            failed.add(name + ": " + describe(t));
            System.out.println("FAIL: " + name + ": " + describe(t));
            t.printStackTrace(System.out);
        }
    }

    private static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder(t.toString());
        for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
            sb.append(" <- ").append(c);
        }
        return sb.toString();
    }

    private static void note(String text) {
        System.out.println("note: " + text);
    }

    private static void require(boolean ok, String why) {
        if (!ok) {
            throw new AssertionError(why);
        }
    }

    private static void same(byte[] expected, byte[] actual, String what) {
        if (!Arrays.equals(expected, actual)) {
            throw new AssertionError(what + ": expected " + hex(expected) + ", got " + hex(actual));
        }
    }

    private static String hex(byte[] b) {
        if (b == null) {
            return "null";
        }
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            sb.append(String.format("%02x", x));
        }
        return sb.toString();
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        RNG.nextBytes(b);
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static byte[] flipped(byte[] b, int index) {
        byte[] r = b.clone();
        r[index] ^= 0x01;
        return r;
    }

    /** Signs in the token with `tokenSig`, verifies with `softSig` (and rejects a changed message). */
    private static void signAndVerify(Signature tokenSig, PrivateKey priv, Signature softSig, PublicKey pub)
            throws GeneralSecurityException {
        byte[] msg = random(1000);
        tokenSig.initSign(priv);
        tokenSig.update(msg, 0, 300);
        tokenSig.update(msg, 300, 700);
        byte[] sig = tokenSig.sign();
        softSig.initVerify(pub);
        softSig.update(msg);
        require(softSig.verify(sig), softSig.getAlgorithm() + " (" + softSig.getProvider().getName()
                + ") rejects the token's signature " + hex(sig));
        softSig.initVerify(pub);
        softSig.update(flipped(msg, 7));
        require(!softSig.verify(sig), "the software verifier accepts the signature of a changed message");
    }

    /** The public key re-read by a software KeyFactory from its X.509 encoding. */
    private static PublicKey softPublic(PublicKey p11Pub, String alg, String provider) throws GeneralSecurityException {
        byte[] enc = p11Pub.getEncoded();
        require(enc != null, "the token public key has no encoding");
        return KeyFactory.getInstance(alg, provider).generatePublic(new X509EncodedKeySpec(enc));
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: java CustosCheck CONFIG ECDH_CONFIG PIN RSA_ALIAS EC_ALIAS ECDH_ALIAS");
            System.exit(2);
        }
        String cfg = args[0];
        String ecdhCfg = args[1];
        char[] pin = args[2].toCharArray();
        String rsaAlias = args[3];
        String ecAlias = args[4];
        String ecdhAlias = args[5];

        Provider base = Security.getProvider("SunPKCS11");
        if (base == null) {
            System.out.println("FAIL: the JDK has no SunPKCS11 provider");
            System.exit(1);
        }
        final Provider p = base.configure(cfg);
        Security.addProvider(p);
        System.out.println("provider: " + p.getName() + " " + p.getVersionStr() + " (Java "
                + System.getProperty("java.version") + ")");

        final KeyStore ks = KeyStore.getInstance("PKCS11", p);

        check("KeyStore.load with a wrong PIN fails with CKR_PIN_INCORRECT", () -> {
            try {
                ks.load(null, "0000".toCharArray());
            } catch (java.io.IOException e) {
                require(describe(e).contains("CKR_PIN_INCORRECT"), "unexpected error: " + describe(e));
                return;
            }
            throw new AssertionError("KeyStore.load accepted a wrong PIN");
        });

        check("KeyStore.load logs in with the user PIN", () -> ks.load(null, pin));

        final PrivateKey[] rsaPriv = new PrivateKey[1];
        final PublicKey[] rsaPub = new PublicKey[1];
        final PrivateKey[] ecPriv = new PrivateKey[1];
        final PublicKey[] ecPub = new PublicKey[1];

        check("KeyStore lists the keytool entries as key entries with certificates", () -> {
            List<String> aliases = Collections.list(ks.aliases());
            require(aliases.contains(rsaAlias) && aliases.contains(ecAlias), "aliases: " + aliases);
            for (String a : new String[] {rsaAlias, ecAlias}) {
                require(ks.isKeyEntry(a), a + " is not a key entry");
                Certificate[] chain = ks.getCertificateChain(a);
                require(chain != null && chain.length == 1, a + ": no certificate chain");
                X509Certificate c = (X509Certificate) chain[0];
                c.verify(c.getPublicKey()); // self-signed: verified in software
            }
        });

        check("KeyStore.getKey returns the token's RSA 2048 private key", () -> {
            Key k = ks.getKey(rsaAlias, null);
            // A sensitive token key is a plain PrivateKey in Java 17 (no RSAPrivateKey, whose private
            // exponent cannot be read); the signatures below show it matches the certificate.
            require(k instanceof PrivateKey && "RSA".equals(k.getAlgorithm()), "not an RSA private key: " + k);
            require(k.toString().contains("2048 bits"), "not a 2048-bit key: " + k);
            rsaPriv[0] = (PrivateKey) k;
            rsaPub[0] = ks.getCertificate(rsaAlias).getPublicKey();
            require(((RSAPublicKey) rsaPub[0]).getModulus().bitLength() == 2048, "modulus is not 2048 bits");
        });

        check("KeyStore.getKey returns the token's EC P-256 private key", () -> {
            Key k = ks.getKey(ecAlias, null);
            require(k instanceof PrivateKey && "EC".equals(k.getAlgorithm()), "not an EC private key: " + k);
            ecPriv[0] = (PrivateKey) k;
            ecPub[0] = ks.getCertificate(ecAlias).getPublicKey();
            require(((ECPublicKey) ecPub[0]).getParams().getCurve().getField().getFieldSize() == 256,
                    "not a 256-bit curve");
        });

        // ---- signatures: token signs, the JDK's software providers verify ----

        check("SHA256withRSA: token signs, SunRsaSign verifies", () -> signAndVerify(
                Signature.getInstance("SHA256withRSA", p), rsaPriv[0],
                Signature.getInstance("SHA256withRSA", "SunRsaSign"), rsaPub[0]));

        check("SHA256withRSA: a signature by a different key does not verify", () -> {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA", "SunRsaSign");
            g.initialize(2048);
            KeyPair other = g.generateKeyPair();
            Signature s = Signature.getInstance("SHA256withRSA", p);
            s.initSign(rsaPriv[0]);
            byte[] msg = random(64);
            s.update(msg);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance("SHA256withRSA", "SunRsaSign");
            v.initVerify(other.getPublic());
            v.update(msg);
            require(!v.verify(sig), "a signature verified under an unrelated key");
        });

        final PSSParameterSpec pss = new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1);

        check("RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32): token signs, SunRsaSign verifies", () -> {
            Signature s = Signature.getInstance("RSASSA-PSS", p);
            s.setParameter(pss);
            Signature v = Signature.getInstance("RSASSA-PSS", "SunRsaSign");
            v.setParameter(pss);
            signAndVerify(s, rsaPriv[0], v, rsaPub[0]);
        });

        check("SHA256withRSASSA-PSS (CKM_SHA256_RSA_PKCS_PSS): token signs, SunRsaSign verifies", () -> {
            Signature s = Signature.getInstance("SHA256withRSASSA-PSS", p);
            s.setParameter(pss);
            Signature v = Signature.getInstance("RSASSA-PSS", "SunRsaSign");
            v.setParameter(pss);
            signAndVerify(s, rsaPriv[0], v, rsaPub[0]);
        });

        check("SHA256withECDSA: token signs, SunEC verifies", () -> signAndVerify(
                Signature.getInstance("SHA256withECDSA", p), ecPriv[0],
                Signature.getInstance("SHA256withECDSA", "SunEC"), ecPub[0]));

        check("SHA256withECDSAinP1363Format: token signs, SunEC verifies", () -> signAndVerify(
                Signature.getInstance("SHA256withECDSAinP1363Format", p), ecPriv[0],
                Signature.getInstance("SHA256withECDSAinP1363Format", "SunEC"), ecPub[0]));

        check("SHA256withRSA: SunPKCS11 verifies in the token a SunRsaSign signature, rejects a changed one", () -> {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA", "SunRsaSign");
            g.initialize(2048);
            KeyPair kp = g.generateKeyPair();
            byte[] msg = random(200);
            Signature s = Signature.getInstance("SHA256withRSA", "SunRsaSign");
            s.initSign(kp.getPrivate());
            s.update(msg);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance("SHA256withRSA", p);
            v.initVerify(kp.getPublic()); // imported into the token as a session object
            v.update(msg);
            require(v.verify(sig), "the token rejects a valid signature");
            v.initVerify(kp.getPublic());
            v.update(msg);
            require(!v.verify(flipped(sig, 5)), "the token accepts a changed signature");
        });

        // ---- key pairs generated by SunPKCS11 (session objects) ----

        check("KeyPairGenerator RSA 2048 in the token: SHA512withRSA verified by SunRsaSign", () -> {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA", p);
            g.initialize(2048);
            KeyPair kp = g.generateKeyPair();
            RSAPublicKey pub = (RSAPublicKey) kp.getPublic();
            require(pub.getModulus().bitLength() == 2048, "modulus is " + pub.getModulus().bitLength() + " bits");
            require(pub.getPublicExponent().equals(BigInteger.valueOf(65537)), "exponent " + pub.getPublicExponent());
            signAndVerify(Signature.getInstance("SHA512withRSA", p), kp.getPrivate(),
                    Signature.getInstance("SHA512withRSA", "SunRsaSign"), softPublic(pub, "RSA", "SunRsaSign"));
        });

        check("KeyPairGenerator EC secp384r1 in the token: SHA384withECDSA verified by SunEC", () -> {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC", p);
            g.initialize(new ECGenParameterSpec("secp384r1"));
            KeyPair kp = g.generateKeyPair();
            signAndVerify(Signature.getInstance("SHA384withECDSA", p), kp.getPrivate(),
                    Signature.getInstance("SHA384withECDSA", "SunEC"), softPublic(kp.getPublic(), "EC", "SunEC"));
        });

        // ---- RSA decryption in the token of what software encrypted ----

        check("RSA/ECB/PKCS1Padding: SunJCE encrypts, the token decrypts", () -> {
            byte[] plain = "a secret for the token's RSA key".getBytes(StandardCharsets.UTF_8);
            Cipher enc = Cipher.getInstance("RSA/ECB/PKCS1Padding", "SunJCE");
            enc.init(Cipher.ENCRYPT_MODE, rsaPub[0]);
            byte[] ct = enc.doFinal(plain);
            Cipher dec = Cipher.getInstance("RSA/ECB/PKCS1Padding", p);
            dec.init(Cipher.DECRYPT_MODE, rsaPriv[0]);
            same(plain, dec.doFinal(ct), "decrypted text");
        });

        check("RSA/ECB/PKCS1Padding: a corrupted ciphertext never yields the plaintext (implicit rejection)", () -> {
            byte[] plain = random(20);
            Cipher enc = Cipher.getInstance("RSA/ECB/PKCS1Padding", "SunJCE");
            enc.init(Cipher.ENCRYPT_MODE, rsaPub[0]);
            byte[] bad = flipped(enc.doFinal(plain), 10);
            Cipher dec = Cipher.getInstance("RSA/ECB/PKCS1Padding", p);
            dec.init(Cipher.DECRYPT_MODE, rsaPriv[0]);
            // Custos answers a bad PKCS#1 v1.5 padding with implicit rejection: a synthetic message
            // derived from the key and the ciphertext (the same every time), never an error that
            // could serve as a padding oracle.
            byte[] out1 = dec.doFinal(bad);
            byte[] out2 = dec.doFinal(bad);
            require(!Arrays.equals(out1, plain), "the corrupted ciphertext decrypted to the plaintext");
            same(out1, out2, "second decryption of the same corrupted ciphertext");
        });

        check("RSA/ECB/NoPadding: SunJCE encrypts raw, the token decrypts raw", () -> {
            byte[] plain = random(256);
            plain[0] = 0x00; // below the modulus
            plain[1] = 0x42;
            Cipher enc = Cipher.getInstance("RSA/ECB/NoPadding", "SunJCE");
            enc.init(Cipher.ENCRYPT_MODE, rsaPub[0]);
            byte[] ct = enc.doFinal(plain);
            Cipher dec = Cipher.getInstance("RSA/ECB/NoPadding", p);
            dec.init(Cipher.DECRYPT_MODE, rsaPriv[0]);
            byte[] out = dec.doFinal(ct);
            // SunPKCS11 returns the full modulus-length block; compare as numbers.
            require(new BigInteger(1, out).equals(new BigInteger(1, plain)),
                    "decrypted " + hex(out) + ", expected " + hex(plain));
        });

        String oaep = "RSA/ECB/OAEPWithSHA-256AndMGF1Padding";
        if (p.getService("Cipher", oaep) == null) {
            // JDK 17's SunPKCS11 maps only RSA/ECB/PKCS1Padding and RSA/ECB/NoPadding to PKCS#11
            // mechanisms; it has no Cipher service for CKM_RSA_PKCS_OAEP with any module.
            note("Java " + System.getProperty("java.version") + " SunPKCS11 offers no Cipher " + oaep
                    + " (no CKM_RSA_PKCS_OAEP support in the provider); not tested through Java");
        } else {
            check(oaep + ": SunJCE encrypts, the token decrypts", () -> {
                byte[] plain = "OAEP secret".getBytes(StandardCharsets.UTF_8);
                Cipher enc = Cipher.getInstance(oaep, "SunJCE");
                enc.init(Cipher.ENCRYPT_MODE, rsaPub[0]);
                byte[] ct = enc.doFinal(plain);
                Cipher dec = Cipher.getInstance(oaep, p);
                dec.init(Cipher.DECRYPT_MODE, rsaPriv[0]);
                same(plain, dec.doFinal(ct), "decrypted text");
            });
        }

        // ---- ECDH ----

        final PrivateKey[] ecdhPriv = new PrivateKey[1];
        final PublicKey[] ecdhPub = new PublicKey[1];
        check("KeyStore.getKey returns the token's P-256 key made with CKA_DERIVE", () -> {
            Key k = ks.getKey(ecdhAlias, null);
            require(k instanceof PrivateKey && "EC".equals(k.getAlgorithm()), "not an EC private key: " + k);
            ecdhPriv[0] = (PrivateKey) k;
            ecdhPub[0] = ks.getCertificate(ecdhAlias).getPublicKey();
        });

        check("ECDH: the token refuses a key whose CKA_DERIVE is false (CKR_KEY_FUNCTION_NOT_PERMITTED)", () -> {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC", "SunEC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyAgreement tok = KeyAgreement.getInstance("ECDH", p);
            tok.init(ecPriv[0]);
            tok.doPhase(g.generateKeyPair().getPublic(), true);
            try {
                byte[] z = tok.generateSecret();
                throw new AssertionError("ECDH with a key without CKA_DERIVE gave " + hex(z));
            } catch (java.security.ProviderException e) {
                require(describe(e).contains("CKR_KEY_FUNCTION_NOT_PERMITTED"), "unexpected error: " + describe(e));
            }
        });

        check("ECDH generateSecret() with the plain config: the derived secret stays sensitive (CKR_ATTRIBUTE_SENSITIVE)", () -> {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC", "SunEC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyAgreement tok = KeyAgreement.getInstance("ECDH", p);
            tok.init(ecdhPriv[0]);
            tok.doPhase(g.generateKeyPair().getPublic(), true);
            try {
                byte[] z = tok.generateSecret();
                throw new AssertionError("the derived secret was readable without CKA_SENSITIVE = false: " + hex(z));
            } catch (java.security.ProviderException e) {
                require(describe(e).contains("CKR_ATTRIBUTE_SENSITIVE"), "unexpected error: " + describe(e));
            }
        });

        Provider pd = null;
        try {
            pd = base.configure(ecdhCfg);
            Security.addProvider(pd);
        } catch (Exception e) {
            failures++;
            failed.add("configure SunPKCS11 with " + ecdhCfg + ": " + describe(e));
            System.out.println("FAIL: configure SunPKCS11 with " + ecdhCfg + ": " + describe(e));
        }
        final Provider pDerive = pd;

        check("ECDH generateSecret() (config with readable derived secrets) equals SunEC's secret", () -> {
            KeyStore ks2 = KeyStore.getInstance("PKCS11", pDerive);
            ks2.load(null, pin); // the module is already logged in: CKR_USER_ALREADY_LOGGED_IN is fine
            Key k = ks2.getKey(ecdhAlias, null);
            require(k instanceof PrivateKey, "no private key " + ecdhAlias + " through " + pDerive.getName());
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC", "SunEC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair soft = g.generateKeyPair();
            KeyAgreement tok = KeyAgreement.getInstance("ECDH", pDerive);
            tok.init(k);
            tok.doPhase(soft.getPublic(), true);
            byte[] z1 = tok.generateSecret();
            KeyAgreement sw = KeyAgreement.getInstance("ECDH", "SunEC");
            sw.init(soft.getPrivate());
            sw.doPhase(ecdhPub[0], true);
            byte[] z2 = sw.generateSecret();
            require(z2.length == 32, "SunEC secret length " + z2.length);
            same(z2, z1, "shared secret");
        });

        check("ECDH in a session EC key pair generated with the ECDH config equals SunEC's secret", () -> {
            KeyPairGenerator tg = KeyPairGenerator.getInstance("EC", pDerive);
            tg.initialize(new ECGenParameterSpec("secp384r1"));
            KeyPair tokKp = tg.generateKeyPair();
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC", "SunEC");
            g.initialize(new ECGenParameterSpec("secp384r1"));
            KeyPair soft = g.generateKeyPair();
            KeyAgreement tok = KeyAgreement.getInstance("ECDH", pDerive);
            tok.init(tokKp.getPrivate());
            tok.doPhase(soft.getPublic(), true);
            byte[] z1 = tok.generateSecret();
            KeyAgreement sw = KeyAgreement.getInstance("ECDH", "SunEC");
            sw.init(soft.getPrivate());
            sw.doPhase(softPublic(tokKp.getPublic(), "EC", "SunEC"), true);
            byte[] z2 = sw.generateSecret();
            require(z2.length == 48, "SunEC secret length " + z2.length);
            same(z2, z1, "shared secret");
        });

        // ---- AES: a key generated in the token ----

        final SecretKey[] aes = new SecretKey[1];
        check("KeyGenerator AES 256 in the token", () -> {
            KeyGenerator kg = KeyGenerator.getInstance("AES", p);
            kg.init(256);
            aes[0] = kg.generateKey();
            require("AES".equals(aes[0].getAlgorithm()), "algorithm " + aes[0].getAlgorithm());
            require(aes[0].getClass().getName().startsWith("sun.security.pkcs11."), "not a token key: "
                    + aes[0].getClass().getName());
        });
        final byte[] aesValue = aes[0] == null ? null : aes[0].getEncoded();
        if (aes[0] != null) {
            if (aesValue == null) {
                note("the generated AES key is not extractable (CKA_SENSITIVE/CKA_EXTRACTABLE): AES checks on it"
                        + " compare round trips only; the known-key checks below compare with SunJCE");
            }
        }

        check("AES/CBC/PKCS5Padding with the generated key: encrypt + decrypt in the token", () -> {
            byte[] plain = random(100);
            byte[] iv = random(16);
            Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding", p);
            c.init(Cipher.ENCRYPT_MODE, aes[0], new IvParameterSpec(iv));
            byte[] ct = concat(c.update(plain, 0, 33), c.doFinal(plain, 33, 67));
            require(ct.length == 112, "ciphertext is " + ct.length + " bytes, expected 112");
            Cipher d = Cipher.getInstance("AES/CBC/PKCS5Padding", p);
            d.init(Cipher.DECRYPT_MODE, aes[0], new IvParameterSpec(iv));
            same(plain, d.doFinal(ct), "decrypted text");
            if (aesValue != null) {
                Cipher s = Cipher.getInstance("AES/CBC/PKCS5Padding", "SunJCE");
                s.init(Cipher.DECRYPT_MODE, new SecretKeySpec(aesValue, "AES"), new IvParameterSpec(iv));
                same(plain, s.doFinal(ct), "SunJCE decryption");
            }
        });

        check("AES/GCM/NoPadding with the generated key: encrypt + decrypt in the token, tag checked", () -> {
            byte[] plain = random(77);
            byte[] aad = random(20);
            byte[] iv = random(12);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding", p);
            c.init(Cipher.ENCRYPT_MODE, aes[0], new GCMParameterSpec(128, iv));
            c.updateAAD(aad);
            byte[] ct = c.doFinal(plain);
            require(ct.length == plain.length + 16, "ciphertext+tag is " + ct.length + " bytes");
            Cipher d = Cipher.getInstance("AES/GCM/NoPadding", p);
            d.init(Cipher.DECRYPT_MODE, aes[0], new GCMParameterSpec(128, iv));
            d.updateAAD(aad);
            same(plain, d.doFinal(ct), "decrypted text");
            Cipher t = Cipher.getInstance("AES/GCM/NoPadding", p);
            t.init(Cipher.DECRYPT_MODE, aes[0], new GCMParameterSpec(128, iv));
            t.updateAAD(aad);
            try {
                byte[] out = t.doFinal(flipped(ct, 3));
                throw new AssertionError("a changed GCM ciphertext decrypted to " + hex(out));
            } catch (AEADBadTagException e) {
                // expected: CKR_ENCRYPTED_DATA_INVALID from C_Decrypt
            }
            if (aesValue != null) {
                Cipher s = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
                s.init(Cipher.DECRYPT_MODE, new SecretKeySpec(aesValue, "AES"), new GCMParameterSpec(128, iv));
                s.updateAAD(aad);
                same(plain, s.doFinal(ct), "SunJCE decryption");
            }
        });

        // ---- AES: a known key imported into the token, so results compare with SunJCE ----

        final byte[] known = new byte[32];
        for (int i = 0; i < known.length; i++) {
            known[i] = (byte) (0xa0 + i);
        }
        final SecretKeySpec knownSpec = new SecretKeySpec(known, "AES");
        final SecretKey[] imported = new SecretKey[1];
        check("SecretKeyFactory AES (SunPKCS11) translates a known key into a token session key", () -> {
            imported[0] = SecretKeyFactory.getInstance("AES", p).translateKey(knownSpec);
            require(imported[0].getClass().getName().startsWith("sun.security.pkcs11."), "not a token key: "
                    + imported[0].getClass().getName());
        });

        check("AES/CBC/PKCS5Padding: the token encrypts with the known key, SunJCE decrypts (and back)", () -> {
            byte[] plain = random(61);
            byte[] iv = random(16);
            Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding", p);
            c.init(Cipher.ENCRYPT_MODE, imported[0], new IvParameterSpec(iv));
            byte[] ct = c.doFinal(plain);
            Cipher s = Cipher.getInstance("AES/CBC/PKCS5Padding", "SunJCE");
            s.init(Cipher.ENCRYPT_MODE, knownSpec, new IvParameterSpec(iv));
            same(s.doFinal(plain), ct, "token ciphertext vs SunJCE ciphertext");
            byte[] ct2 = s.doFinal(random(45));
            s.init(Cipher.DECRYPT_MODE, knownSpec, new IvParameterSpec(iv));
            byte[] expect2 = s.doFinal(ct2);
            Cipher d = Cipher.getInstance("AES/CBC/PKCS5Padding", p);
            d.init(Cipher.DECRYPT_MODE, imported[0], new IvParameterSpec(iv));
            same(expect2, d.doFinal(ct2), "token decryption of a SunJCE ciphertext");
        });

        check("AES/GCM/NoPadding: the token encrypts with the known key, SunJCE decrypts (and back)", () -> {
            byte[] plain = random(50);
            byte[] aad = random(13);
            byte[] iv = random(12);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding", p);
            c.init(Cipher.ENCRYPT_MODE, imported[0], new GCMParameterSpec(128, iv));
            c.updateAAD(aad);
            byte[] ct = c.doFinal(plain);
            Cipher s = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
            s.init(Cipher.DECRYPT_MODE, knownSpec, new GCMParameterSpec(128, iv));
            s.updateAAD(aad);
            same(plain, s.doFinal(ct), "SunJCE decryption of the token's ciphertext");
            byte[] iv2 = random(12);
            byte[] plain2 = random(33);
            s.init(Cipher.ENCRYPT_MODE, knownSpec, new GCMParameterSpec(128, iv2));
            s.updateAAD(aad);
            byte[] ct2 = s.doFinal(plain2);
            Cipher d = Cipher.getInstance("AES/GCM/NoPadding", p);
            d.init(Cipher.DECRYPT_MODE, imported[0], new GCMParameterSpec(128, iv2));
            d.updateAAD(aad);
            same(plain2, d.doFinal(ct2), "token decryption of a SunJCE ciphertext");
        });

        // A key value of its own: Java 17's SunPKCS11 caches SecretKeySpec -> session key
        // conversions by value, and setEntry with an already converted value silently reuses the
        // session key instead of creating a token object (a JDK limit, whatever the module).
        final byte[] known2 = new byte[32];
        for (int i = 0; i < known2.length; i++) {
            known2[i] = (byte) (0x30 + 3 * i);
        }
        final SecretKeySpec stored = new SecretKeySpec(known2, "AES");
        check("KeyStore stores a known AES key as a token object; it encrypts like SunJCE", () -> {
            KeyStore.ProtectionParameter none = null;
            ks.setEntry("java-aes", new KeyStore.SecretKeyEntry(stored), none);
            require(ks.isKeyEntry("java-aes"), "java-aes is not listed as a key entry");
            Key k = ks.getKey("java-aes", null);
            require(k instanceof SecretKey, "not a secret key: " + k);
            byte[] plain = random(32);
            Cipher c = Cipher.getInstance("AES/ECB/NoPadding", p);
            c.init(Cipher.ENCRYPT_MODE, k);
            Cipher s = Cipher.getInstance("AES/ECB/NoPadding", "SunJCE");
            s.init(Cipher.ENCRYPT_MODE, stored);
            same(s.doFinal(plain), c.doFinal(plain), "token ciphertext vs SunJCE ciphertext");
        });

        // ---- HMAC ----

        check("HmacSHA256 with a known key imported into the token equals SunJCE's HMAC", () -> {
            byte[] key = new byte[32];
            for (int i = 0; i < key.length; i++) {
                key[i] = (byte) (0x0b + i);
            }
            byte[] msg = random(300);
            Mac m = Mac.getInstance("HmacSHA256", p);
            // SunPKCS11 turns the SecretKeySpec into a CKK_GENERIC_SECRET session object (C_CreateObject).
            m.init(new SecretKeySpec(key, "HmacSHA256"));
            m.update(msg, 0, 100);
            m.update(msg, 100, 200);
            byte[] tag = m.doFinal();
            Mac s = Mac.getInstance("HmacSHA256", "SunJCE");
            s.init(new SecretKeySpec(key, "HmacSHA256"));
            same(s.doFinal(msg), tag, "token HMAC vs SunJCE HMAC");
        });

        check("HmacSHA256 with a key generated in the token: deterministic, depends on the message", () -> {
            KeyGenerator kg = KeyGenerator.getInstance("HmacSHA256", p);
            kg.init(256);
            SecretKey k = kg.generateKey();
            byte[] msg = random(64);
            Mac m = Mac.getInstance("HmacSHA256", p);
            m.init(k);
            byte[] t1 = m.doFinal(msg);
            byte[] t2 = m.doFinal(msg);
            require(t1.length == 32, "tag is " + t1.length + " bytes");
            same(t1, t2, "second HMAC of the same message");
            require(!Arrays.equals(t1, m.doFinal(flipped(msg, 0))), "HMAC of a changed message is the same");
            byte[] v = k.getEncoded();
            if (v != null) {
                Mac s = Mac.getInstance("HmacSHA256", "SunJCE");
                s.init(new SecretKeySpec(v, "HmacSHA256"));
                same(s.doFinal(msg), t1, "token HMAC vs SunJCE HMAC");
            }
        });

        // ---- digest and random ----

        check("SHA-256 digest in the token equals SUN's", () -> {
            byte[] msg = random(5000);
            MessageDigest d = MessageDigest.getInstance("SHA-256", p);
            d.update(msg, 0, 1234);
            d.update(msg, 1234, 5000 - 1234);
            same(MessageDigest.getInstance("SHA-256", "SUN").digest(msg), d.digest(), "digest");
        });

        check("SecureRandom PKCS11 returns bytes from C_GenerateRandom", () -> {
            SecureRandom r = SecureRandom.getInstance("PKCS11", p);
            byte[] a = new byte[32];
            byte[] b = new byte[32];
            r.nextBytes(a);
            r.nextBytes(b);
            require(!Arrays.equals(a, b) && !Arrays.equals(a, new byte[32]), "random output repeats or is zero");
        });

        // Repeated at the end, so that a short tail of the output shows every failure.
        for (String f : failed) {
            System.out.println("failed: " + f);
        }
        System.out.println(failures == 0 ? "CustosCheck: all checks passed" : "CustosCheck: " + failures + " failed");
        System.exit(failures == 0 ? 0 : 1);
    }
}
