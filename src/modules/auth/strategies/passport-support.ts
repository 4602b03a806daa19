import { UnauthorizedError } from '@app/common';
import passport from 'passport';

export const ACCESS_TOKEN_STRATEGY = 'access-token';
export const API_KEY_STRATEGY = 'api-key';
export const GITHUB_STRATEGY = 'github';

/**
 * A strategy's refusal: PassportStrategy spreads an array into `done(null, false, info)`, which is
 * passport's `fail(info)`; the guards turn `info.message` into our `unauthorized` answer. Built
 * once per message, so a refused request allocates nothing of ours.
 */
export type Refusal = [false, { message: string }];
export const refusal = (message: string): Refusal => [false, { message }];

/**
 * The guards' `handleRequest`: a strategy's error (our exceptions: validation, GitHub, state) is
 * thrown as is, a refusal becomes `unauthorized` with the strategy's message. Passport's own 401
 * ("Unauthorized" in plain text) never answers: the guards always pass a callback.
 */
export function passportOutcome<T>(err: unknown, user: unknown, info: unknown): T {
  // Rethrown as passport received it: our ApiExceptions, or a failure the filter answers as fail.
  // eslint-disable-next-line @typescript-eslint/only-throw-error
  if (err) throw err;
  if (!user) {
    const message = (info as { message?: unknown } | undefined)?.message;
    throw new UnauthorizedError(typeof message === 'string' ? message : undefined);
  }
  return user as T;
}

/** passport's registry lookup; public in passport, missing from @types/passport. */
export function registeredStrategy(name: string): passport.Strategy | undefined {
  return (passport as unknown as { _strategy(n: string): passport.Strategy | undefined })._strategy(
    name,
  );
}

const live = new Map<string, passport.Strategy[]>();

/**
 * Passport's registry is process-wide and PassportStrategy registers each instance by name as it
 * is built, so in a process that runs several apps (tests, an api beside a worker) the newest
 * wins. Strategies call these two: when an app closes, the name goes back to the newest strategy
 * of an app still open, never staying on a closed app's services.
 */
export function trackStrategy(name: string, strategy: passport.Strategy): void {
  const list = live.get(name) ?? [];
  list.push(strategy);
  live.set(name, list);
}

export function retireStrategy(name: string, strategy: passport.Strategy): void {
  const list = live.get(name) ?? [];
  const i = list.indexOf(strategy);
  if (i >= 0) list.splice(i, 1);
  if (registeredStrategy(name) !== strategy) return;
  const previous = list.at(-1);
  if (previous) passport.use(name, previous);
  else passport.unuse(name);
}
