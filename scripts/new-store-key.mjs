#!/usr/bin/env node
// Generate a STORE_KEY for ims-broker: 32 random bytes, base64. The broker encrypts rotated
// client secrets and cached tokens in KV with it (AES-256-GCM).
//
//   node scripts/new-store-key.mjs          explains and prints the key
//   node scripts/new-store-key.mjs --raw    prints only the key (for scripts)
//   make store-key
//
// Changing the key later: put the new key in STORE_KEY and the old one in STORE_KEY_PREVIOUS;
// the broker reads with either and writes with the new one.

import { randomBytes } from "node:crypto";
import process from "node:process";

const key = randomBytes(32).toString("base64");
if (process.argv.includes("--raw")) {
  process.stdout.write(key);
} else {
  process.stdout.write(
    `New STORE_KEY (shown once; store it only as a Worker secret):\n\n  ${key}\n\n` +
      "Set it with:  npx wrangler secret put STORE_KEY   (paste the key when asked)\n" +
      "When replacing an existing key, first put the old one in STORE_KEY_PREVIOUS.\n",
  );
}
