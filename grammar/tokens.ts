// Lexer tokens of the hop language (LANGUAGE.md section 1). Only `model` and `param` are keywords:
// field names and part names (`beta`, `tsallis`, ...) stay plain identifiers so that a misspelt
// one reaches the checker, which can say "unknown field `simlarity`; did you mean `similarity`?"
// instead of the parser failing with a bare syntax error.
import { createToken, Lexer, type TokenType } from "chevrotain";

export const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n\f\v]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});

/** `#` to the end of the line. */
export const Comment = createToken({
  name: "Comment",
  pattern: /#[^\r\n]*/,
  group: Lexer.SKIPPED,
});

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

// `longer_alt` lets `models` or `parameter` lex as identifiers rather than keyword + rest.
export const Model = createToken({ name: "Model", pattern: /model/, longer_alt: Identifier });
export const Param = createToken({ name: "Param", pattern: /param/, longer_alt: Identifier });

/** Decimal with optional sign, fraction and exponent: `8`, `-2.5`, `.5`, `1e-5`. */
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/,
});

export const LBrace = createToken({ name: "LBrace", pattern: /\{/, label: "{" });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/, label: "}" });
export const LParen = createToken({ name: "LParen", pattern: /\(/, label: "(" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, label: ")" });
export const Equals = createToken({ name: "Equals", pattern: /=/, label: "=" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "," });

/** Order matters: keywords before Identifier (chevrotain takes the first pattern that matches). */
export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  Model,
  Param,
  Identifier,
  NumberLiteral,
  LBrace,
  RBrace,
  LParen,
  RParen,
  Equals,
  Comma,
];

export const HopLexer = new Lexer(allTokens, {
  positionTracking: "full",
  ensureOptimizations: false,
});
