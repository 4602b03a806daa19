import { FailException } from '@app/common';
import { AppConfig } from '@app/config';
import { OutboundHttpClient } from '@app/http';
import { Injectable, Logger } from '@nestjs/common';

export interface OAuthIdentity {
  provider: 'github';
  openid: string;
  email: string;
  name: string;
  avatar: string;
}

interface GithubUser {
  id?: number;
  login?: string;
  name?: string | null;
  avatar_url?: string;
}
interface GithubEmail {
  email?: string;
  primary?: boolean;
  verified?: boolean;
}

/** GitHub's OAuth web flow. Base URLs come from config so tests run a fake GitHub. */
@Injectable()
export class GithubOAuthService {
  private readonly logger = new Logger('GithubOAuth');

  constructor(
    private readonly config: AppConfig,
    private readonly http: OutboundHttpClient,
  ) {}

  get enabled(): boolean {
    return !!this.config.env.GITHUB_CLIENT_ID && !!this.config.env.GITHUB_CLIENT_SECRET;
  }

  authorizeUrl(state: string): string {
    const url = new URL(this.config.env.GITHUB_AUTHORIZE_URL);
    url.searchParams.set('client_id', this.config.env.GITHUB_CLIENT_ID);
    url.searchParams.set('redirect_uri', this.config.env.GITHUB_REDIRECT_URI);
    url.searchParams.set('scope', 'read:user user:email');
    url.searchParams.set('state', state);
    url.searchParams.set('allow_signup', 'true');
    return url.toString();
  }

  /** Exchanges the code and reads the user and their primary verified email. */
  async identify(code: string): Promise<OAuthIdentity> {
    const token = await this.exchange(code);
    const headers = {
      Authorization: `Bearer ${token}`,
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': '2022-11-28',
    };
    const api = this.config.env.GITHUB_API_URL.replace(/\/$/, '');
    const [user, emails] = await Promise.all([
      this.call<GithubUser>(`${api}/user`, headers),
      this.call<GithubEmail[]>(`${api}/user/emails`, headers),
    ]);
    if (!user.id) throw new FailException('GitHub did not return a user; please try again');
    const primary = Array.isArray(emails)
      ? emails.find((e) => e.primary && e.verified && e.email)
      : undefined;
    if (!primary?.email) {
      throw new FailException(
        'Your GitHub account has no verified primary email; verify one on GitHub and try again',
      );
    }
    return {
      provider: 'github',
      openid: String(user.id),
      email: primary.email.toLowerCase(),
      name: (user.name || user.login || primary.email.split('@')[0]).slice(0, 30),
      avatar: user.avatar_url?.slice(0, 500) ?? '',
    };
  }

  private async exchange(code: string): Promise<string> {
    const res = await this.http
      .request<{ access_token?: string; error?: string; error_description?: string }>(
        this.config.env.GITHUB_TOKEN_URL,
        {
          method: 'POST',
          headers: { Accept: 'application/json' },
          json: {
            client_id: this.config.env.GITHUB_CLIENT_ID,
            client_secret: this.config.env.GITHUB_CLIENT_SECRET,
            code,
            redirect_uri: this.config.env.GITHUB_REDIRECT_URI,
          },
          responseType: 'json',
          timeoutMs: 15_000,
        },
      )
      .catch((err: unknown) => this.unreachable(err));
    // GitHub answers 200 with {error} for a bad or used code.
    if (res.status !== 200 || !res.body?.access_token) {
      const reason = res.body?.error_description ?? res.body?.error ?? `HTTP ${res.status}`;
      throw new FailException(`GitHub refused the sign-in code (${reason}); please sign in again`);
    }
    return res.body.access_token;
  }

  private async call<T>(url: string, headers: Record<string, string>): Promise<T> {
    const res = await this.http
      .request<T>(url, { headers, responseType: 'json', timeoutMs: 15_000 })
      .catch((err: unknown) => this.unreachable(err));
    if (res.status !== 200)
      throw new FailException(`GitHub answered HTTP ${res.status}; please try again`);
    return res.body;
  }

  private unreachable(err: unknown): never {
    this.logger.warn(`GitHub unreachable: ${String(err)}`);
    throw new FailException('GitHub could not be reached; please try again later');
  }
}
