import { Injectable } from '@nestjs/common';
import * as path from 'node:path';
import { type Env, parseEnv } from './env.schema';
import { type ResolvedEnv, resolveSecrets } from './secrets';

/** Typed, validated configuration. Built once at boot from the environment. */
@Injectable()
export class AppConfig {
  readonly env: Readonly<ResolvedEnv>;

  /** Embedded mode without configured secrets reads (or creates) STORAGE_DIR/secrets.json here. */
  constructor(env?: Env) {
    this.env = Object.freeze(resolveSecrets(env ?? parseEnv()));
  }

  get isProduction(): boolean {
    return this.env.NODE_ENV === 'production';
  }
  /** Scale mode needs both; each half is chosen on its own. */
  get mode(): 'embedded' | 'scale' | 'mixed' {
    if (this.env.DATABASE_URL && this.env.REDIS_URL) return 'scale';
    if (!this.env.DATABASE_URL && !this.env.REDIS_URL) return 'embedded';
    return 'mixed';
  }
  get usesRedis(): boolean {
    return !!this.env.REDIS_URL;
  }
  get usesPglite(): boolean {
    return !this.env.DATABASE_URL;
  }
  hasRole(role: 'api' | 'worker'): boolean {
    return this.env.APP_ROLES.includes(role);
  }
  get storageDir(): string {
    return path.resolve(this.env.STORAGE_DIR);
  }
  /** Model downloads (Hugging Face cache layout); MODELS_DIR or STORAGE_DIR/models. */
  get modelsDir(): string {
    return path.resolve(this.env.MODELS_DIR ?? path.join(this.storageDir, 'models'));
  }
  /** One line for the boot log. */
  describe(): string {
    const db = this.env.DATABASE_URL ? 'postgres' : `pglite(${path.join(this.storageDir, 'db')})`;
    const jobs = this.env.REDIS_URL ? 'bullmq(redis)' : 'inline';
    return `mode=${this.mode} roles=${this.env.APP_ROLES.join(',')} database=${db} jobs=${jobs} storage=${this.storageDir}`;
  }
}
