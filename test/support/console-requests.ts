import type { TestApp } from './app-factory';
import type { TestAccount } from './auth';

type Json = Record<string, any>;

export interface Envelope<T = Json> {
  code: string;
  message: string;
  data: T;
}

/**
 * GET and JSON POST on console routes as an account, each required to answer HTTP 200 (the console
 * accepts nothing else); they answer the envelope. `app` is read at call time (the app is built in
 * beforeAll).
 */
export function consoleRequests(app: () => TestApp) {
  return {
    get: async <T = Json>(acc: TestAccount, path: string, query: Record<string, unknown> = {}) => {
      const res = await app().http().get(path).query(query).set(acc.auth);
      expect(res.status).toBe(200);
      return res.body as Envelope<T>;
    },
    post: async <T = Json>(acc: TestAccount, path: string, body: unknown = {}) => {
      const res = await app()
        .http()
        .post(path)
        .set(acc.auth)
        .set('Content-Type', 'application/json')
        .send(body as object);
      expect(res.status).toBe(200);
      return res.body as Envelope<T>;
    },
  };
}
