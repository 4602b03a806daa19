import type { DeepPartial, ObjectLiteral, Repository } from 'typeorm';

/**
 * Inserts one new row and answers it as an entity with its generated columns (id, timestamps,
 * column defaults) filled from the INSERT's RETURNING. `repository.save()` does the same for a
 * new entity but wraps it in a transaction (BEGIN, INSERT, COMMIT: three round trips) and runs its
 * change-tracking machinery first; a single INSERT needs neither. For rows that are always new.
 */
export async function insertRow<E extends ObjectLiteral>(
  repo: Repository<E>,
  values: DeepPartial<E>,
): Promise<E> {
  const row = repo.create(values);
  await repo.insert(row);
  return row;
}
