// `deno task examples`: compile every examples/*.hop into generated/ (the committed output that
// tests/generated_test.ts checks is up to date).
import { main } from "../src/cli/main.ts";

const files = [...Deno.readDirSync("examples")].filter((e) => e.name.endsWith(".hop")).map((e) =>
  e.name
).sort();
let failed = 0;
for (const f of files) {
  if (await main(["compile", `examples/${f}`, "-o", "generated"]) !== 0) failed++;
}
Deno.exit(failed === 0 ? 0 : 1);
