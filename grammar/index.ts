// Front door of the grammar: text -> AST plus diagnostics. chevrotain reports syntax errors as
// exceptions that list token types; this module rewrites each into a sentence about the hop
// language ("expected a number or a name after `beta`"), placed on the offending token.
import {
  EOF,
  type ILexingError,
  type IRecognitionException,
  type IToken,
  type TokenType,
} from "chevrotain";
import type { Diagnostic } from "../src/diagnostics.ts";
import type { FileAst } from "../src/ast.ts";
import {
  HopLexer,
  Identifier,
  LBrace,
  LParen,
  Model,
  NumberLiteral,
  RBrace,
  RParen,
} from "./tokens.ts";
import { parser } from "./parser.ts";
import { buildAst } from "./visitor.ts";

export interface ParseResult {
  ast: FileAst;
  diagnostics: Diagnostic[];
}

/** Parse a `.hop` file. Never throws on bad input: syntax errors come back as diagnostics. */
export function parse(text: string, file: string): ParseResult {
  const lexed = HopLexer.tokenize(text);
  parser.input = lexed.tokens;
  const cst = parser.file();
  const syntaxErrors = [...parser.errors];
  const diagnostics = [
    ...lexed.errors.map((e) => lexerDiagnostic(text, file, e)),
    ...parserDiagnostics(syntaxErrors, lexed.tokens, file),
  ].sort((a, b) => a.line - b.line || a.col - b.col);
  const ast = cst ? buildAst(cst) : { params: [], models: [] };
  return { ast, diagnostics };
}

/** chevrotain skips a run of characters that start no token; report the run once. */
function lexerDiagnostic(text: string, file: string, e: ILexingError): Diagnostic {
  const run = [...text.slice(e.offset, e.offset + e.length)].length;
  return {
    file,
    line: e.line ?? 1,
    col: e.column ?? 1,
    length: Math.max(1, e.length),
    severity: "error",
    message: `unexpected character ${showChar(text, e.offset)}`,
    hint: run > 1 ? `the ${run} characters here are not part of the language` : undefined,
  };
}

/** A character for a message: quoted, or as U+XXXX when it would not print or would confuse. */
function showChar(text: string, offset: number): string {
  const code = text.codePointAt(offset) ?? 0;
  const ch = String.fromCodePoint(code);
  if (ch === "`") return "'`'";
  if (/[\p{C}\p{Z}]/u.test(ch)) return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  return `\`${ch}\``;
}

/** One diagnostic per syntax error, minus errors that merely follow from the previous one. */
function parserDiagnostics(errors: IRecognitionException[], tokens: IToken[], file: string) {
  const ctx = new ErrorContext(tokens);
  const sorted = errors
    .map((e) => ({ e, at: ctx.indexOf(e.token) }))
    .sort((a, b) => a.at - b.at);
  const out: Diagnostic[] = [];
  let lastAt = -2;
  for (const { e, at } of sorted) {
    // After an error the parser resynchronizes; a second complaint about the very next token is
    // almost always the same mistake seen again (`model a b {` would also report `b {`).
    if (at <= lastAt + 1) continue;
    lastAt = at;
    const { message, hint, after } = explain(e, ctx, at);
    out.push({ file, ...ctx.place(at, after), severity: "error", message, hint });
  }
  return out;
}

/** The token vector of the file, with the look-ups that messages need. */
class ErrorContext {
  /** Token index by start offset: a search per error was quadratic in files with many errors. */
  readonly #byOffset = new Map<number, number>();
  constructor(readonly tokens: IToken[]) {
    tokens.forEach((t, i) => {
      if (!this.#byOffset.has(t.startOffset)) this.#byOffset.set(t.startOffset, i);
    });
  }

  /** Index of a token in the vector; the end of the file is `tokens.length`. */
  indexOf(t: IToken): number {
    if (t.tokenType === EOF || !Number.isFinite(t.startOffset)) return this.tokens.length;
    return this.#byOffset.get(t.startOffset) ?? this.tokens.length;
  }

  /**
   * Line, column and length to underline: the token at `at`, or just after the previous token
   * when the message is about what should follow it and the found token sits on a later line
   * (`beta` alone on its line: the value is missing after `beta`, not before the next `}`).
   */
  place(at: number, after = false): { line: number; col: number; length: number } {
    const t = this.tokens[at];
    const prev = this.tokens[at - 1];
    const prevEndsEarlier = prev && (!t || (prev.endLine ?? 0) < (t.startLine ?? 0));
    if (t && !(after && prevEndsEarlier)) {
      return { line: t.startLine ?? 1, col: t.startColumn ?? 1, length: t.image.length || 1 };
    }
    if (!prev) return { line: 1, col: 1, length: 1 };
    return { line: prev.endLine ?? 1, col: (prev.endColumn ?? 0) + 1, length: 1 };
  }

  /** The token `back` places before index `at`, if any. */
  before(at: number, back = 1): IToken | undefined {
    return this.tokens[at - back];
  }

  /** The innermost `model NAME {` still open at index `at` (for "unterminated" hints). */
  openModel(at: number): { name: string; line: number } | undefined {
    for (let i = Math.min(at, this.tokens.length) - 1; i >= 0; i--) {
      const t = this.tokens[i];
      if (t.tokenType === RBrace) return undefined;
      if (t.tokenType === Model) {
        const name = this.tokens[i + 1]?.tokenType === Identifier ? this.tokens[i + 1].image : "";
        return { name, line: t.startLine ?? 1 };
      }
    }
    return undefined;
  }

  /** The part whose `(` is still open at index `at` (`tsallis` in `tsallis(alpha = 1.5 beta`). */
  openPart(at: number): string | undefined {
    for (let i = Math.min(at, this.tokens.length) - 1; i >= 0; i--) {
      const type = this.tokens[i].tokenType;
      if (type === RParen || type === LBrace || type === RBrace) return undefined;
      if (type === LParen) return this.tokens[i - 1]?.image;
    }
    return undefined;
  }
}

/** How a token reads in a message: `beta`, or "the end of the file". */
function show(t: IToken | undefined): string {
  if (!t || t.tokenType === EOF) return "the end of the file";
  return `\`${t.image}\``;
}

function unexpected(t: IToken | undefined): string {
  return !t || t.tokenType === EOF ? "unexpected end of file" : `unexpected \`${t.image}\``;
}

/** A message, and whether it reads "expected ... after X" (see ErrorContext.place). */
type Explained = { message: string; hint?: string; after?: boolean };

/**
 * The sentence for one syntax error. chevrotain tells us which kind of failure it was, in which
 * rule, what token was found, and (through parser.ts's message provider) what token a CONSUME
 * expected; the surrounding tokens fill in names for the message.
 */
function explain(e: IRecognitionException, ctx: ErrorContext, at: number): Explained {
  const found = ctx.tokens[at];
  const prev = ctx.before(at);
  const rule = e.context.ruleStack[e.context.ruleStack.length - 1] ?? "file";
  if (e.name === "MismatchedTokenException") return mismatch(e.message, rule, found, prev, ctx, at);
  // Leftover input after the last complete block: the same as a stray token at the top level.
  if (e.name === "NotAllInputParsedException") return mismatch("EOF", "file", found, prev, ctx, at);
  if (e.name === "NoViableAltException" && rule === "value") {
    if (found?.image === "=") {
      return {
        message: `unexpected \`=\` after \`${prev?.image}\`: a field's value follows its name`,
        hint: `write \`${prev?.image} VALUE\`, without \`=\``,
      };
    }
    return {
      message: `expected a number or a name after \`${prev?.image}\`, found ${show(found)}`,
      after: true,
    };
  }
  if (e.name === "NoViableAltException" && rule === "arg") {
    const name = ctx.before(at, 2)?.image ?? "";
    return {
      message: `expected a number or a name after \`${name} =\`, found ${show(found)}`,
      after: true,
    };
  }
  return { message: unexpected(found) };
}

/** A CONSUME found the wrong token; `expected` is the name of the token type it wanted. */
function mismatch(
  expected: string,
  rule: string,
  found: IToken | undefined,
  prev: IToken | undefined,
  ctx: ErrorContext,
  at: number,
): Explained {
  const is = (type: TokenType) => found?.tokenType === type;
  switch (`${rule}:${expected}`) {
    case "file:EOF":
      if (is(RBrace)) return { message: "unexpected `}`: no model block is open here" };
      if (is(Identifier)) {
        return {
          message: `unexpected \`${found?.image}\` outside a model block`,
          hint: "fields go inside a block: `model NAME { ... }`",
        };
      }
      return { message: `${unexpected(found)}: expected \`model\` or \`param\`` };
    case "model:Identifier":
      if (is(LBrace)) {
        return { message: "unexpected `{`: a model block needs a name: `model NAME { ... }`" };
      }
      return {
        message: `expected a model name after \`model\`, found ${show(found)}`,
        hint: "a model block is written `model NAME { ... }`",
        after: true,
      };
    case "model:LBrace":
      return {
        message: `expected \`{\` after \`model ${prev?.image}\`, found ${show(found)}`,
        after: true,
      };
    case "model:RBrace":
      return unclosedModel(found, ctx, at);
    case "param:Identifier":
      return {
        message: `expected a param name after \`param\`, found ${show(found)}`,
        hint: "a param is written `param NAME = VALUE`",
        after: true,
      };
    case "param:Equals":
      return {
        message: `expected \`=\` after \`param ${prev?.image}\`, found ${show(found)}`,
        hint: "a param is written `param NAME = VALUE`",
        after: true,
      };
    case "param:NumberLiteral":
      return {
        message: is(Identifier)
          ? `a param's value must be a number, found the name \`${found?.image}\``
          : `expected a number after \`param ${ctx.before(at, 2)?.image} =\`, found ${show(found)}`,
        after: !is(Identifier),
      };
    case "value:RParen": {
      const part = ctx.openPart(at);
      const of = part ? ` of \`${part}\`` : "";
      if (!found || found.tokenType === EOF) {
        return { message: `unclosed \`(\`${of}: expected \`)\`` };
      }
      return {
        message: `expected \`,\` or \`)\` in the arguments${of}, found ${show(found)}`,
        hint: "arguments are written `name = value`, separated by `,`",
        after: true,
      };
    }
    case "arg:Identifier":
      return {
        message: `expected an argument name after ${show(prev)}, found ${show(found)}`,
        hint: prev?.image === "," && found?.image === ")" ? "remove the trailing `,`" : undefined,
        after: true,
      };
    case "arg:Equals":
      return {
        message: `expected \`=\` after the argument name \`${prev?.image}\`, found ${show(found)}`,
        hint: `arguments are written \`${prev?.image} = VALUE\``,
        after: true,
      };
  }
  return { message: unexpected(found) };
}

/** A model body stopped at something that is neither a field, a param nor `}`. */
function unclosedModel(found: IToken | undefined, ctx: ErrorContext, at: number): Explained {
  const open = ctx.openModel(at);
  const hint = open ? `the block of model \`${open.name}\` opens on line ${open.line}` : undefined;
  if (!found || found.tokenType === EOF) {
    return { message: "unterminated model block: expected `}`", hint };
  }
  if (found.tokenType === Model) {
    return { message: "unterminated model block: expected `}` before the next `model`", hint };
  }
  if (found.tokenType === NumberLiteral) {
    return {
      message: `unexpected number \`${found.image}\`: expected a field name or \`}\``,
      hint: "a field is a name followed by one value, e.g. `beta 4`",
    };
  }
  return { message: `${unexpected(found)}: expected a field name or \`}\`` };
}
