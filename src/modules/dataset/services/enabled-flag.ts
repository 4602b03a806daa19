import { FailException, ForbiddenError } from '@app/common';
import type { ObjectLiteral, Repository } from 'typeorm';

/**
 * Flips `enabled` of a completed document or segment in one conditional UPDATE, so two clicks
 * racing cannot both "succeed"; retrieval filters on the flag, so it takes effect at once.
 */
export async function setEnabledFlag<E extends ObjectLiteral>(
  repo: Repository<E>,
  row: { id: string; status: string },
  enabled: boolean,
  what: 'document' | 'segment',
): Promise<void> {
  if (row.status !== 'completed')
    throw new ForbiddenError(`Only a ${what} that finished indexing can be enabled or disabled`);
  const res = await repo
    .createQueryBuilder()
    .update()
    .set({ enabled, disabled_at: enabled ? null : () => 'now()' } as never)
    .where('id = :id AND enabled = :was AND status = :status', {
      id: row.id,
      was: !enabled,
      status: 'completed',
    })
    .execute();
  if (!res.affected)
    throw new FailException(`The ${what} is already ${enabled ? 'enabled' : 'disabled'}`);
}
