import { hash, verify } from '@node-rs/argon2';

// @node-rs/argon2's Algorithm is a const enum, which isolatedModules cannot inline.
const ARGON2ID = 2;
import { Injectable } from '@nestjs/common';

/** argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane). */
@Injectable()
export class PasswordService {
  // A valid hash of a random password: verifying against it when the account does not exist
  // costs the same time as a real check, so timing does not reveal which emails exist.
  private readonly dummy = hash(`dummy-${Math.random()}`, { algorithm: ARGON2ID });

  hash(password: string): Promise<string> {
    return hash(password, { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
  }

  /** Constant-time verification; `null` hashes are checked against a dummy and fail. */
  async verify(passwordHash: string | null, password: string): Promise<boolean> {
    if (!passwordHash) {
      await verify(await this.dummy, password).catch(() => false);
      return false;
    }
    return verify(passwordHash, password).catch(() => false);
  }
}
