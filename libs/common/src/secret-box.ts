import { AppConfig } from '@app/config';
import { Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

interface Key {
  id: string;
  key: Buffer;
}

function deriveKey(secret: string): Key {
  // HKDF turns any long passphrase into a 256-bit key; the id names it so old ciphertexts can
  // still be read after ENCRYPTION_KEY rotates (the old secret moves to ENCRYPTION_KEYS_PREVIOUS).
  const key = Buffer.from(hkdfSync('sha256', secret, 'llmops', 'secret-box:v1', 32));
  const id = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return { id, key };
}

export class SecretBoxError extends Error {}

/**
 * AES-256-GCM for secrets at rest (provider credentials, tool secrets). Format:
 * `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts). Encrypts with ENCRYPTION_KEY and
 * decrypts with it or any of ENCRYPTION_KEYS_PREVIOUS.
 */
@Injectable()
export class SecretBox {
  private readonly current: Key;
  private readonly keys: Map<string, Buffer>;

  constructor(config: AppConfig) {
    this.current = deriveKey(config.env.ENCRYPTION_KEY);
    this.keys = new Map(
      [this.current, ...config.env.ENCRYPTION_KEYS_PREVIOUS.map(deriveKey)].map((k) => [
        k.id,
        k.key,
      ]),
    );
  }

  get keyId(): string {
    return this.current.id;
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const parts = [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url'));
    return ['v1', this.current.id, ...parts].join('.');
  }

  open(sealed: string): string {
    const [version, kid, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !kid || !iv || !tag || data === undefined)
      throw new SecretBoxError('Malformed secret');
    const key = this.keys.get(kid);
    if (!key)
      throw new SecretBoxError(
        `Secret was sealed with an unknown key ${kid}; add it to ENCRYPTION_KEYS_PREVIOUS`,
      );
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(data, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SecretBoxError('Secret failed authentication (tampered or wrong key)');
    }
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(sealed: string): T {
    return JSON.parse(this.open(sealed)) as T;
  }

  /** True when the value was sealed with an older key and should be re-sealed. */
  isStale(sealed: string): boolean {
    return sealed.split('.')[1] !== this.current.id;
  }
}

/** `sk-abc…wxyz`: enough to recognise a secret, never enough to use it. */
export function maskSecret(secret: string): string {
  if (!secret) return '';
  if (secret.length <= 8) return '••••';
  return `${secret.slice(0, 3)}…${secret.slice(-4)}`;
}
