// A part's signature: its name in the language and its arguments (each with its range rule, the
// message and hint the checker gives when a value breaks it, its default, and its IR schema).
// Part modules declare their signature here; the IR schema (src/ir.ts), the checker's rules and
// "did you mean" (src/check.ts), the editor tooling and the fuzzers are all derived from it, so
// a new part is one file and one registry line. Depends on zod only.
import { z } from "zod";

/** A range rule for a number: `need` completes "<name> ..." in the message. */
export interface NumberRule {
  need: string;
  test: (v: number) => boolean;
  hint?: (v: number) => string | undefined;
  /**
   * Where the argument's range also depends on another argument (checked in src/check.ts, as
   * ahop's `level` on `corrupt`): the values valid whatever that argument is. Tools that write
   * valid numbers (the fuzzer) pick from these.
   */
  always?: (v: number) => boolean;
}

/** One argument of a part: a number under a rule, or one of a few names. */
export type ArgDecl =
  | { kind: "number"; rule: NumberRule; default?: number; schema: z.ZodType<number> }
  | { kind: "name"; values: readonly string[]; default?: string; schema: z.ZodType<string> };

export interface Signature<
  K extends string = string,
  A extends Record<string, ArgDecl> = Record<string, ArgDecl>,
> {
  kind: K;
  args: A;
  /** How to write the part with its required arguments, for the "needs the argument" hint. */
  example?: string;
}

/** The IR value of a part with this signature: `{ kind, ...args }`. */
export type SpecOf<S extends Signature> = S extends Signature<infer K, infer A>
  ? { kind: K } & { [N in keyof A]: z.infer<A[N]["schema"]> }
  : never;

// -- constructors --

/** A numeric argument under `rule` (optionally with a default and a tighter IR schema). */
export function number(rule: NumberRule, dflt?: number, schema?: z.ZodType<number>) {
  return {
    kind: "number" as const,
    rule,
    ...(dflt === undefined ? {} : { default: dflt }),
    schema: schema ?? z.number().finite().refine(rule.test, { message: rule.need }),
  };
}

/** A name argument: one of `values` (the first is not implied: give `dflt` for a default). */
export function oneOf<const V extends readonly [string, ...string[]]>(values: V, dflt?: V[number]) {
  return {
    kind: "name" as const,
    values,
    ...(dflt === undefined ? {} : { default: dflt }),
    schema: z.enum(values) as unknown as z.ZodType<V[number]>,
  };
}

export function signature<
  const K extends string,
  const A extends Record<string, ArgDecl> = Record<never, never>,
>(
  kind: K,
  args: A = {} as A,
  example?: string,
): Signature<K, A> {
  const missing = Object.entries(args).filter(([, a]) => a.default === undefined);
  if (missing.length > 0 && example === undefined) {
    throw new Error(`part \`${kind}\`: required arguments need an example for the checker's hint`);
  }
  return { kind, args, ...(example === undefined ? {} : { example }) };
}

/** The IR schema of a part's value. */
export function schemaOf<S extends Signature>(sig: S): z.ZodType<SpecOf<S>> {
  const shape: Record<string, z.ZodType> = { kind: z.literal(sig.kind) };
  for (const [name, arg] of Object.entries(sig.args)) shape[name] = arg.schema;
  return z.object(shape) as unknown as z.ZodType<SpecOf<S>>;
}

/** The IR schema of a field whose value is one of these parts (discriminated by `kind`). */
export function unionOf<S extends Signature>(sigs: readonly S[]): z.ZodType<SpecOf<S>> {
  const schemas = sigs.map((s) => schemaOf(s)) as unknown as [
    z.ZodObject<{ kind: z.ZodLiteral<string> }>,
    ...z.ZodObject<{ kind: z.ZodLiteral<string> }>[],
  ];
  return z.discriminatedUnion("kind", schemas) as unknown as z.ZodType<SpecOf<S>>;
}

/** The defaults of a signature's arguments, by name. */
export function defaultsOf(sig: Signature): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [name, arg] of Object.entries(sig.args)) {
    if (arg.default !== undefined) out[name] = arg.default;
  }
  return out;
}

// -- rules shared by several parts --

export const positive: NumberRule = { need: "must be positive", test: (v) => v > 0 };
export const nonNegative: NumberRule = { need: "must be zero or positive", test: (v) => v >= 0 };
export const seed: NumberRule = {
  need: "must be a whole number from 0 to 4294967295",
  test: (v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff,
};

/** Whole numbers of at least `min` (and small enough to be exact in a float64). */
export function whole(min: number): NumberRule {
  return {
    need: `must be a whole number of at least ${min}`,
    test: (v) => Number.isSafeInteger(v) && v >= min,
  };
}
