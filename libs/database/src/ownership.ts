import { isUuid, NotFoundError } from '@app/common';
import type { FindOptionsWhere, ObjectLiteral, Repository } from 'typeorm';

/**
 * Loads a row by id only if it belongs to the account. Missing, malformed and someone else's ids
 * all answer the same `not_found`, so nobody learns what exists in another account.
 */
export async function findOwnedOrFail<E extends ObjectLiteral & { id: string; account_id: string }>(
  repo: Repository<E>,
  id: string,
  accountId: string,
  message = 'The resource does not exist',
): Promise<E> {
  if (!isUuid(id)) throw new NotFoundError(message);
  const row = await repo.findOne({ where: { id, account_id: accountId } as FindOptionsWhere<E> });
  if (!row) throw new NotFoundError(message);
  return row;
}
