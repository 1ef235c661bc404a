// Loads every document of a `meshdesk export --automerge DIR` with the
// JavaScript Automerge implementation and prints one JSON object:
// { "<document id>": <the document as plain JSON>, ... }.
// Usage: node load.mjs DIR
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as Automerge from "@automerge/automerge";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node load.mjs DIR");
  process.exit(2);
}
const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
const out = {};
for (const entry of index) {
  const doc = Automerge.load(new Uint8Array(readFileSync(join(dir, entry.file))));
  out[entry.id] = { kind: entry.kind, title: entry.title, doc: Automerge.toJS(doc) };
}
// Counters and dates become plain values; bytes become arrays of numbers.
process.stdout.write(
  JSON.stringify(out, (_key, value) => {
    if (value instanceof Uint8Array) return Array.from(value);
    if (typeof value === "bigint") return Number(value);
    return value;
  }),
);
