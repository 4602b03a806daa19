import express, { NextFunction, Request, Response } from 'express';
import request from 'supertest';
import { bodyParsers } from './body-parsers';

/** A bare Express app with the parsers; errors answered as `{status, message}`. */
function appWith(largeRoutes: string[]) {
  const app = express();
  app.use(
    bodyParsers({
      limit: '1kb',
      largeLimit: '8kb',
      largeRoutes,
      shape: { maxDepth: 4, maxKeysPerObject: 50, maxItems: 100, maxStringLength: 6000 },
    }),
  );
  app.post('/*path', (req: Request, res: Response) =>
    res.json({ size: JSON.stringify(req.body).length }),
  );
  app.get('/*path', (req: Request, res: Response) => res.json({ body: req.body ?? null }));
  app.use(
    (
      err: { status?: number; code?: string; message: string },
      _req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code, message: err.message });
    },
  );
  return app;
}

describe('bodyParsers', () => {
  const big = { text: 'x'.repeat(4000) };

  it('keeps the small limit on ordinary routes and the large one on listed routes', async () => {
    const app = appWith(['/workflows/:workflow_id/draft-graph']);
    await request(app).post('/workflows/w1/publish').send(big).expect(413);
    await request(app).post('/workflows/w1/draft-graph').send(big).expect(200);
    await request(app).post('/workflows/w1/draft-graph/extra').send(big).expect(413);
    await request(app)
      .post('/workflows/w1/draft-graph')
      .send({ text: 'x'.repeat(9000) })
      .expect(413);
    await request(app).post('/anything').send({ a: 1 }).expect(200);
  });

  it('checks the shape of JSON, form bodies and queries on every route', async () => {
    const app = appWith([]);
    const deep = await request(app)
      .post('/x')
      .send({ a: { b: { c: { d: {} } } } });
    expect(deep.body).toEqual({
      code: 'validate_error',
      message: 'body is nested deeper than 4 levels',
    });
    const form = await request(app).post('/x').type('form').send('name=a%00b');
    expect(form.body.message).toBe('name must not contain NUL characters');
    const query = await request(app).post('/x?search_word=%00').send({});
    expect(query.body.message).toBe('search_word must not contain NUL characters');
  });

  it('checks a GET with a query or a body, and lets one with neither through untouched', async () => {
    const app = appWith([]);
    await request(app).get('/x').expect(200, { body: null });
    const query = await request(app).get('/x?name=%00');
    expect(query.body.message).toBe('name must not contain NUL characters');
    const body = await request(app)
      .get('/x')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ a: { b: { c: { d: {} } } } }));
    expect(body.body.message).toBe('body is nested deeper than 4 levels');
  });
});
