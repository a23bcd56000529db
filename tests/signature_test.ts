// Part signatures (src/parts/signature.ts): each part module declares its name and arguments once,
// and the checker's rules, its "did you mean", the IR schema and the editor tooling are derived
// from the registry. These tests hold the derived pieces to the signatures, part by part.
import assert from "node:assert/strict";
import { checkText, LANGUAGE } from "../src/check.ts";
import { Model } from "../src/ir.ts";
import { SIGNATURES } from "../src/parts/registry.ts";
import { defaultsOf, number, schemaOf, signature, whole } from "../src/parts/signature.ts";

const FIELDS = Object.keys(SIGNATURES) as (keyof typeof SIGNATURES)[];

function check(fields: string) {
  return checkText(`model m { ${fields} }`, "m.hop");
}

Deno.test("the checker's parts are the registry's signatures, in order", () => {
  for (const field of FIELDS) {
    const spec = LANGUAGE[field];
    assert.equal(spec.kind, "part");
    if (spec.kind !== "part") continue;
    assert.deepEqual(Object.keys(spec.parts), SIGNATURES[field].map((s) => s.kind), field);
  }
});

Deno.test("every part, written with its required arguments only, checks to its defaults", () => {
  for (const field of FIELDS) {
    for (const sig of SIGNATURES[field]) {
      // The example (`tsallis(alpha = 1.5)`) for parts with required arguments, else the name.
      const written = sig.example ?? sig.kind;
      // A separation other than the default takes no entropy; that is a model-level rule only.
      const { models, diagnostics } = check(`${field} ${written}`);
      assert.deepEqual(diagnostics, [], `${field} ${written}`);
      const value = models[0][field] as unknown as Record<string, unknown>;
      assert.equal(value.kind, sig.kind);
      for (const [name, v] of Object.entries(defaultsOf(sig))) {
        if (!(sig.example ?? "").includes(`${name} =`)) {
          assert.equal(value[name], v, `${sig.kind}.${name}`);
        }
      }
      // The IR schema of the part accepts it, and the model schema too.
      assert.ok(schemaOf(sig).safeParse(value).success, `${sig.kind}: its schema`);
      assert.ok(Model.safeParse(models[0]).success, `${sig.kind}: the model schema`);
    }
  }
});

Deno.test("required arguments and ranges come from the signature, with its hint", () => {
  for (const field of FIELDS) {
    for (const sig of SIGNATURES[field]) {
      const args: Record<string, { default?: unknown }> = sig.args;
      const required = Object.keys(args).filter((a) => args[a].default === undefined);
      if (required.length === 0) continue;
      const { models, diagnostics } = check(`${field} ${sig.kind}`);
      assert.equal(models.length, 0);
      assert.match(diagnostics[0].message, new RegExp(`needs the argument \`${required[0]}\``));
      assert.equal(diagnostics[0].hint, `write \`${sig.example}\``);
    }
  }
  // A number outside its rule: the rule's own message and hint.
  const [d] = check("entropy tsallis(alpha = 1)").diagnostics;
  assert.match(d.message, /alpha must be greater than 1, got 1/);
  assert.match(d.hint!, /use `entropy shannon`/);
  // The IR schema enforces the same rule (a value the checker rejects cannot be built).
  const tsallis = SIGNATURES.entropy.find((s) => s.kind === "tsallis")!;
  assert.equal(schemaOf(tsallis).safeParse({ kind: "tsallis", alpha: 1 }).success, false);
  assert.equal(schemaOf(tsallis).safeParse({ kind: "tsallis", alpha: 1.5 }).success, true);
});

Deno.test("a misspelt part or argument gets 'did you mean' from the registry's names", () => {
  assert.match(check("entropy tsalis(alpha = 1.5)").diagnostics[0].hint!, /did you mean `tsallis`/);
  assert.match(check("mask topk(kk = 3)").diagnostics[0].hint!, /did you mean `k`/);
  assert.match(
    check("separation poly(n = 3, normalise = sum)").diagnostics[0].hint!,
    /`normalize`/,
  );
});

Deno.test("signature(): required arguments need an example; schemas follow the rules", () => {
  assert.throws(() => signature("p", { k: number(whole(1)) }), /need an example/);
  const sig = signature("p", { k: number(whole(2)), c: number(whole(0), 3) }, "p(k = 2)");
  assert.deepEqual(defaultsOf(sig), { c: 3 });
  assert.equal(schemaOf(sig).safeParse({ kind: "p", k: 2, c: 0 }).success, true);
  assert.equal(schemaOf(sig).safeParse({ kind: "p", k: 1, c: 0 }).success, false);
  assert.equal(schemaOf(sig).safeParse({ kind: "q", k: 2, c: 0 }).success, false);
});
