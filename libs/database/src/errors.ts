/** True for PostgreSQL's unique_violation (23505), whether TypeORM wrapped the driver error or not. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  return e?.code === '23505' || e?.driverError?.code === '23505';
}
