import { TemplateError, TemplateRenderer } from './template-renderer';

describe('TemplateRenderer', () => {
  const renderer = new TemplateRenderer({
    timeoutMs: 1000,
    memoryMb: 512,
    maxOutputChars: 100_000,
    maxWorkers: 2,
  });
  afterAll(() => renderer.close());

  it('renders Jinja with the variables, loops and filters included', async () => {
    await expect(
      renderer.render('{% for x in items %}{{ x|upper }} {% endfor %}{{ n + 1 }}', {
        items: ['a', 'b'],
        n: 41,
      }),
    ).resolves.toBe('A B 42');
  });

  it('stops a template that loops past its time limit, without blocking this thread', async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const started = Date.now();
    const err = await renderer
      .render(
        '{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}',
        {},
      )
      .catch((e: unknown) => e);
    clearInterval(ticker);
    expect(err).toBeInstanceOf(TemplateError);
    expect((err as Error).message).toBe('the template took longer than 1000 ms to render');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(ticks).toBeGreaterThanOrEqual(50);
    // The next render gets a fresh worker.
    await expect(renderer.render('{{ 1 + 1 }}', {})).resolves.toBe('2');
  });

  it('takes the node timeout when it is shorter', async () => {
    const err = await renderer
      .render(
        '{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}',
        {},
        {
          timeoutMs: 200,
        },
      )
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe('the template took longer than 200 ms to render');
  });

  it('bounds the output, a string built by doubling included', async () => {
    const doubled = (n: number) =>
      `{% set ns = namespace(s='aaaaaaaa') %}{% for i in range(${n}) %}{% set ns.s = ns.s + ns.s %}{% endfor %}`;
    await expect(renderer.render(`${doubled(17)}{{ ns.s|upper }}`, {})).rejects.toThrow(
      "the template's output is longer than 100000 characters",
    );
    await expect(renderer.render(`${doubled(25)}{{ ns.s }}`, {})).rejects.toThrow(
      "the template's output is longer than 100000 characters",
    );
    await expect(renderer.render('{{ big }}', { big: 'x'.repeat(200_000) })).rejects.toThrow(
      "the template's output is longer than 100000 characters",
    );
    await expect(renderer.render('{{ ok }}', { ok: 'still working' })).resolves.toBe(
      'still working',
    );
  });

  it('reports template errors and stops on abort', async () => {
    await expect(renderer.render('{% if %}', {})).rejects.toBeInstanceOf(TemplateError);
    const controller = new AbortController();
    const pending = renderer.render(
      '{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}',
      {},
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('node stopped')), 50);
    await expect(pending).rejects.toThrow('node stopped');
  });

  it('runs at most maxWorkers renders at once; the others wait their turn', async () => {
    const outs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => renderer.render('{{ i * 2 }}', { i })),
    );
    expect(outs).toEqual(['0', '2', '4', '6', '8', '10']);
  });
});
