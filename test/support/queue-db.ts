import { Client } from 'pg';
import { workerDatabaseUrl } from './test-env';

export interface RawJobRow {
  id: string;
  status: string;
  attempts: number;
  progress: number;
  cancel_requested: boolean;
  error: string | null;
  finished_at: Date | null;
}

/** Reads a `queue_jobs` row straight from this worker's database (when no app is running). */
export async function readJobRow(id: string): Promise<RawJobRow> {
  const client = new Client({ connectionString: workerDatabaseUrl() });
  await client.connect();
  try {
    const { rows } = await client.query<RawJobRow>(
      'SELECT id, status, attempts, progress, cancel_requested, error, finished_at FROM queue_jobs WHERE id = $1',
      [id],
    );
    if (!rows[0]) throw new Error(`queue_jobs row ${id} does not exist`);
    return rows[0];
  } finally {
    await client.end();
  }
}
