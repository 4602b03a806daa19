import type { TestApp } from './app-factory';
import type { TestAccount } from './auth';

/** An icon URL the apps' validator accepts. */
export const APP_ICON = 'http://localhost:5000/upload/app.png';

/**
 * An app of `acc` created through the console routes, with `config` saved into its draft when
 * given (both must answer success); its id.
 */
export async function createApp(
  t: TestApp,
  acc: TestAccount,
  opts: { name?: string; description?: string; config?: Record<string, unknown> } = {},
): Promise<string> {
  const created = await t
    .http()
    .post('/apps')
    .set(acc.auth)
    .send({
      name: opts.name ?? 'Agent',
      icon: APP_ICON,
      ...(opts.description !== undefined ? { description: opts.description } : {}),
    });
  expect(created.body).toMatchObject({ code: 'success' });
  const id = (created.body as { data: { id: string } }).data.id;
  if (opts.config && Object.keys(opts.config).length) {
    const saved = await t
      .http()
      .post(`/apps/${id}/draft-app-config`)
      .set(acc.auth)
      .send(opts.config);
    expect(saved.body).toMatchObject({ code: 'success' });
  }
  return id;
}
