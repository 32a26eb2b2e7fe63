package io.caravan.cli;

import io.caravan.util.Sha256;
import java.io.PrintStream;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.regex.Pattern;

/**
 * {@code caravan keys new --tenant NAME}: a new random API key, printed once, and the {@code sha256:} line to add
 * to the tenant's {@code api_keys} in the catalog. Caravan keeps only the hash: the next catalog reload lets the
 * key in, and removing the line revokes it at the reload after.
 */
public final class KeysCommand {

    /** 32 random bytes: 256 bits, as many as the hash that stands for them. */
    private static final int KEY_BYTES = 32;
    private static final Pattern TENANT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final SecureRandom RANDOM = new SecureRandom();

    private KeysCommand() {}

    /** Runs {@code keys ARGS}; returns the exit status. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        String tenant = null;
        boolean create = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("new")) {
                create = true;
            } else if (args[i].equals("--tenant") && i + 1 < args.length) {
                tenant = args[++i];
            } else if (args[i].startsWith("--tenant=")) {
                tenant = args[i].substring("--tenant=".length());
            } else {
                err.println("caravan keys: unknown argument '" + args[i] + "' (usage: caravan keys new --tenant NAME)");
                return 2;
            }
        }
        if (!create || tenant == null) {
            err.println("usage: caravan keys new --tenant NAME");
            return 2;
        }
        if (!TENANT.matcher(tenant).matches()) {
            err.println("caravan keys: a tenant name is 1-64 letters, digits, '.', '_' or '-'");
            return 2;
        }
        String key = newKey();
        out.println("New API key of tenant " + tenant + " (shown once; Caravan keeps only its hash):");
        out.println();
        out.println("  " + key);
        out.println();
        out.println("Add this line to tenants." + tenant + ".api_keys in the catalog (the reload lets the key in):");
        out.println();
        out.println("  - \"" + hashLine(key) + "\"");
        out.flush();
        return 0;
    }

    /** A new key: a readable prefix and 256 random bits, URL-safe. */
    static String newKey() {
        byte[] bytes = new byte[KEY_BYTES];
        RANDOM.nextBytes(bytes);
        return "cvk-" + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** The catalog's form of a key: {@code sha256:} and the hex SHA-256 of its UTF-8 bytes. */
    public static String hashLine(String key) {
        return "sha256:" + Sha256.hex(key);
    }
}
