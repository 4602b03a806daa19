import type { NextFunction, Request, Response } from 'express';
import { ValidateError } from './api.exception';

/** Bounds on a parsed JSON body (and the query), checked before anything walks it. */
export interface ShapeLimits {
  /** Deepest nesting of objects and arrays (the body itself is level 1). */
  maxDepth: number;
  /** Most keys in one object. */
  maxKeysPerObject: number;
  /** Most keys plus array items in the whole body. */
  maxItems: number;
  /** Longest string (keys and values), in UTF-16 code units. */
  maxStringLength: number;
}

/** Where a violation was found: `body` or `query`, plus a readable path. */
export interface ShapeViolation {
  field: string;
  message: string;
}

const NUL = '\u0000';

interface Node {
  value: unknown;
  depth: number;
  parent: Node | null;
  key: string | number;
}

/** `tools[2].name`; the root alone when the violation is the whole value. */
function pathOf(node: Node): string {
  const parts: Array<string | number> = [];
  for (let n: Node | null = node; n?.parent; n = n.parent) parts.push(n.key);
  if (!parts.length) return String(node.key);
  let out = '';
  for (const p of parts.reverse()) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function violation(node: Node, rest: string): ShapeViolation {
  const field = pathOf(node);
  return { field, message: `${field} ${rest}` };
}

function stringViolation(s: string, node: Node, limits: ShapeLimits): ShapeViolation | null {
  if (s.length > limits.maxStringLength)
    return violation(node, `is longer than ${limits.maxStringLength} characters`);
  if (s.includes(NUL)) return violation(node, 'must not contain NUL characters');
  return null;
}

/**
 * Checks a parsed JSON value against the limits and for NUL characters (PostgreSQL rejects them in
 * text and jsonb; they are never meaningful input). Iterative, so no nesting overflows the stack,
 * and it stops at the first violation, so its cost is bounded by the limits, not by the input.
 * `root` names the value in messages (`body`, `query`).
 */
export function checkShape(
  value: unknown,
  limits: ShapeLimits,
  root: string,
): ShapeViolation | null {
  const rootNode: Node = { value, depth: 1, parent: null, key: root };
  if (typeof value === 'string') return stringViolation(value, rootNode, limits);
  // Only objects and arrays are stacked; strings are checked in place, other scalars skipped,
  // so a body of 20,000 numbers allocates nothing.
  const stack: Node[] = value !== null && typeof value === 'object' ? [rootNode] : [];
  let items = 0;
  const visit = (child: unknown, node: Node, key: string | number): ShapeViolation | null => {
    if (typeof child === 'string') {
      if (child.length > limits.maxStringLength || child.includes(NUL))
        return stringViolation(child, { value: child, depth: 0, parent: node, key }, limits);
    } else if (child !== null && typeof child === 'object') {
      stack.push({ value: child, depth: node.depth + 1, parent: node, key });
    }
    return null;
  };
  while (stack.length) {
    const node = stack.pop()!;
    const v = node.value as object;
    if (node.depth > limits.maxDepth)
      return violation(rootNode, `is nested deeper than ${limits.maxDepth} levels`);
    if (Array.isArray(v)) {
      items += v.length;
      if (items > limits.maxItems) return tooMany(rootNode, limits);
      for (let i = v.length - 1; i >= 0; i--) {
        const bad = visit(v[i], node, i);
        if (bad) return bad;
      }
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > limits.maxKeysPerObject)
      return violation(node, `has more than ${limits.maxKeysPerObject} keys`);
    items += keys.length;
    if (items > limits.maxItems) return tooMany(rootNode, limits);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      if (key.length > limits.maxStringLength || key.includes(NUL))
        return stringViolation(key, { value: key, depth: 0, parent: node, key }, limits);
      const bad = visit((v as Record<string, unknown>)[key], node, key);
      if (bad) return bad;
    }
  }
  return null;
}

function tooMany(rootNode: Node, limits: ShapeLimits): ShapeViolation {
  return violation(rootNode, `has more than ${limits.maxItems} keys and array items in all`);
}

/**
 * Middleware after the body parsers, before routing: a body or query outside the limits (or with
 * NUL characters) is answered `validate_error` before class-transformer and class-validator see
 * it; their cost grows faster than linearly with the number of keys.
 */
export function requestShapeMiddleware(limits: ShapeLimits) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    // Express 5 parses the query on every read of req.query: read it once.
    const violation =
      checkShape(req.query, limits, 'query') ??
      (req.body === undefined ? null : checkShape(req.body, limits, 'body'));
    if (!violation) return next();
    next(new ValidateError({ [violation.field]: [violation.message] }, violation.message));
  };
}
