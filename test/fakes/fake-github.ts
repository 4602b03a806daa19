import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake github.com + api.github.com speaking the real OAuth web-flow protocol, on 127.0.0.1:0:
 * - `GET /login/oauth/authorize` (the browser step): with a user signed in via `signInAs()`,
 *   redirects 302 to `redirect_uri?code=...&state=...` like GitHub after "Authorize".
 * - `POST /login/oauth/access_token`: JSON, form or query parameters `client_id`,
 *   `client_secret`, `code`, `redirect_uri`; answers JSON with `Accept: application/json`,
 *   form-encoded otherwise. Errors come as HTTP 200 with `{error, error_description, error_uri}`.
 * - `GET /user`, `GET /user/emails` with `Authorization: Bearer|token <tok>`; 401 otherwise.
 * Codes are single-use and bound to the client id; tokens are `gho_...`.
 */

export interface FakeGithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
  visibility?: 'public' | 'private' | null;
}

export interface FakeGithubUser {
  id: number;
  login: string;
  name?: string | null;
  avatar_url?: string;
  emails: FakeGithubEmail[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** Parsed body (JSON or form); raw text under `_raw` when neither parses. */
  body: Record<string, unknown>;
}

export interface FakeGithubOptions {
  clientId?: string;
  clientSecret?: string;
  /** The OAuth app's registered callback URL. */
  callbackUrl?: string;
}

interface PendingCode {
  user: FakeGithubUser;
  clientId: string;
  /** Set when the code came from the authorize step with a redirect_uri. */
  redirectUri?: string;
  scope: string;
}

const DOCS =
  'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';

export class FakeGithub {
  readonly clientId: string;
  /** Assignable: a test can "rotate" the secret on GitHub's side. */
  clientSecret: string;
  readonly callbackUrl: string;
  /** Every request, in order. */
  readonly requests: RecordedRequest[] = [];
  /** How many requests each endpoint received. */
  readonly counts = { authorize: 0, token: 0, user: 0, emails: 0 };
  /** Tokens issued so far (newest last). */
  readonly issuedTokens: string[] = [];

  private readonly codes = new Map<string, PendingCode>();
  private readonly tokens = new Map<string, FakeGithubUser>();
  private browserUser: FakeGithubUser | null = null;
  private server!: Server;
  private baseUrl = '';

  private constructor(opts: FakeGithubOptions) {
    this.clientId = opts.clientId ?? 'Iv1.fakeclientid0001';
    this.clientSecret = opts.clientSecret ?? 'fake-client-secret-0123456789abcdef';
    this.callbackUrl = opts.callbackUrl ?? 'http://localhost:5173/auth/authorize/github';
  }

  static async start(opts: FakeGithubOptions = {}): Promise<FakeGithub> {
    const fake = new FakeGithub(opts);
    fake.server = createServer((req, res) => {
      fake.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, { message: String(err) });
        else res.end();
      });
    });
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    const { port } = fake.server.address() as AddressInfo;
    fake.baseUrl = `http://127.0.0.1:${port}`;
    return fake;
  }

  /** `http://127.0.0.1:<port>`, both the web and the API base URL. */
  get url(): string {
    return this.baseUrl;
  }

  /** Env for the app: client credentials and every GitHub URL pointed here. */
  appEnv(): Record<string, string> {
    return {
      GITHUB_CLIENT_ID: this.clientId,
      GITHUB_CLIENT_SECRET: this.clientSecret,
      GITHUB_AUTHORIZE_URL: `${this.url}/login/oauth/authorize`,
      GITHUB_TOKEN_URL: `${this.url}/login/oauth/access_token`,
      GITHUB_API_URL: this.url,
      OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
    };
  }

  /** Registers a user who has authorized the app; returns a one-time `code` for them. */
  addUser(user: FakeGithubUser): string {
    const code = randomBytes(10).toString('hex');
    this.codes.set(code, { user, clientId: this.clientId, scope: 'read:user,user:email' });
    return code;
  }

  /** The user "signed in to github.com" in the browser: the authorize step issues codes for them. */
  signInAs(user: FakeGithubUser | null): void {
    this.browserUser = user;
  }

  /** The last token-exchange request (its parsed body holds client_id, code, ...). */
  get lastTokenRequest(): RecordedRequest | undefined {
    return [...this.requests].reverse().find((r) => r.path === '/login/oauth/access_token');
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const raw = await readBody(req);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: parseBody(raw, String(req.headers['content-type'] ?? '')),
    };
    this.requests.push(record);
    const route = `${record.method} ${url.pathname.replace(/\/$/, '')}`;
    switch (route) {
      case 'GET /login/oauth/authorize':
        return this.authorize(record, res);
      case 'POST /login/oauth/access_token':
        return this.accessToken(record, req, res);
      case 'GET /user':
        return this.user(req, res);
      case 'GET /user/emails':
        return this.emails(req, res);
      default:
        return send(res, 404, {
          message: 'Not Found',
          documentation_url: 'https://docs.github.com/rest',
          status: '404',
        });
    }
  }

  private authorize(r: RecordedRequest, res: ServerResponse): void {
    this.counts.authorize += 1;
    if (r.query.client_id !== this.clientId) return send(res, 404, 'Not Found', 'text/plain');
    if (!this.browserUser) return send(res, 200, 'Sign in to GitHub', 'text/html');
    const code = randomBytes(10).toString('hex');
    this.codes.set(code, {
      user: this.browserUser,
      clientId: this.clientId,
      redirectUri: r.query.redirect_uri,
      scope: r.query.scope ?? '',
    });
    // Without redirect_uri GitHub uses the app's registered callback URL.
    const target = new URL(r.query.redirect_uri ?? this.callbackUrl);
    target.searchParams.set('code', code);
    if (r.query.state !== undefined) target.searchParams.set('state', r.query.state);
    res.writeHead(302, { Location: target.toString() });
    res.end();
  }

  private accessToken(r: RecordedRequest, req: IncomingMessage, res: ServerResponse): void {
    this.counts.token += 1;
    const p = { ...r.query, ...r.body } as Record<string, unknown>;
    const str = (k: string) => (typeof p[k] === 'string' ? p[k] : undefined);
    const wantsJson = String(req.headers.accept ?? '').includes('json');
    const answer = (body: Record<string, string>) =>
      wantsJson
        ? send(res, 200, body)
        : send(res, 200, new URLSearchParams(body).toString(), 'application/x-www-form-urlencoded');
    if (str('client_id') !== this.clientId || str('client_secret') !== this.clientSecret) {
      return answer({
        error: 'incorrect_client_credentials',
        error_description: 'The client_id and/or client_secret passed are incorrect.',
        error_uri: `${DOCS}/#incorrect-client-credentials`,
      });
    }
    const code = str('code') ?? '';
    const pending = this.codes.get(code);
    if (!pending || pending.clientId !== str('client_id')) {
      return answer({
        error: 'bad_verification_code',
        error_description: 'The code passed is incorrect or expired.',
        error_uri: `${DOCS}/#bad-verification-code`,
      });
    }
    const redirectUri = str('redirect_uri');
    if (pending.redirectUri && redirectUri && redirectUri !== pending.redirectUri) {
      return answer({
        error: 'redirect_uri_mismatch',
        error_description:
          'The redirect_uri MUST match the registered callback URL for this application.',
        error_uri: `${DOCS}/#redirect-uri-mismatch`,
      });
    }
    this.codes.delete(code);
    const token = `gho_${randomBytes(18).toString('hex')}`;
    this.tokens.set(token, pending.user);
    this.issuedTokens.push(token);
    return answer({ access_token: token, token_type: 'bearer', scope: pending.scope });
  }

  private authenticated(req: IncomingMessage, res: ServerResponse): FakeGithubUser | null {
    const m = /^(?:Bearer|token)\s+(\S+)$/i.exec(String(req.headers.authorization ?? '').trim());
    const user = m ? this.tokens.get(m[1]) : undefined;
    if (!user) {
      send(res, 401, {
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest',
        status: '401',
      });
      return null;
    }
    return user;
  }

  private user(req: IncomingMessage, res: ServerResponse): void {
    this.counts.user += 1;
    const u = this.authenticated(req, res);
    if (!u) return;
    const publicEmail = u.emails.find((e) => e.visibility === 'public')?.email ?? null;
    send(res, 200, {
      login: u.login,
      id: u.id,
      node_id: `U_${Buffer.from(String(u.id)).toString('base64url')}`,
      avatar_url: u.avatar_url ?? `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
      html_url: `https://github.com/${u.login}`,
      type: 'User',
      site_admin: false,
      name: u.name ?? null,
      email: publicEmail,
      created_at: '2020-01-01T00:00:00Z',
    });
  }

  private emails(req: IncomingMessage, res: ServerResponse): void {
    this.counts.emails += 1;
    const u = this.authenticated(req, res);
    if (!u) return;
    send(
      res,
      200,
      u.emails.map((e) => ({
        email: e.email,
        primary: e.primary,
        verified: e.verified,
        visibility: e.visibility ?? null,
      })),
    );
  }
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8` });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (!raw) return {};
  if (contentType.includes('json')) {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        return parsed as Record<string, unknown>;
    } catch {
      // fall through
    }
    return { _raw: raw };
  }
  if (contentType.includes('x-www-form-urlencoded'))
    return Object.fromEntries(new URLSearchParams(raw));
  return { _raw: raw };
}
